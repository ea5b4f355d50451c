//! The browser layer: what runs the core inside a service worker or a page. Only this module
//! touches `wasm_bindgen`, `web_sys` and `js_sys`.
//!
//! - [`idb`]: the IndexedDB storage of one user (offline cache, outbox, drafts, blobs, meta).

use wasm_bindgen::prelude::*;

pub mod idb;

/// The core's version, so a page or worker can check which build it loaded.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
