//! The core's wasm tests inside a page in headless Chromium.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

#[path = "suite/core.rs"]
mod core;
