//! The core's shared behaviour suite, natively (the same file runs in the browser from
//! `web_worker.rs` and `web_page.rs`).
#![cfg(not(target_arch = "wasm32"))]

#[path = "suite/core.rs"]
mod core;
