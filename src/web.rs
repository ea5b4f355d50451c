//! The browser layer: what runs the core inside a service worker or a page. Only this module
//! touches `wasm_bindgen`, `web_sys` and `js_sys`.
//!
//! - [`idb`]: the IndexedDB storage of one user (offline cache, outbox, drafts, blobs, meta).
//! - [`transport`]: fetch to the instance, with timeouts and the streamed cache feed.
//! - [`runtime`]: the service-worker runtime and its local API.
//! - [`worker`]: the entry points the service worker's JS shim calls.

use wasm_bindgen::prelude::*;

mod global_sys;
pub mod idb;
pub mod runtime;
pub mod transport;
pub mod worker;

/// The core's version, so a page or worker can check which build it loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
