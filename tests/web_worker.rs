//! The core's wasm tests inside a real service worker in headless Chromium.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_service_worker);

#[path = "suite/core.rs"]
mod core;

#[path = "web/idb.rs"]
mod idb;

#[path = "web/runtime.rs"]
mod runtime;
