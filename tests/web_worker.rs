//! The core's wasm tests inside a real service worker in headless Chromium.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_service_worker);

#[path = "suite/core.rs"]
mod core;

#[path = "web/idb.rs"]
mod idb;

#[path = "web/support.rs"]
mod support;

#[path = "web/attachments.rs"]
mod attachments;

#[path = "web/cache.rs"]
mod cache;

#[path = "web/catalog.rs"]
mod catalog;

#[path = "web/outbox.rs"]
mod outbox;

#[path = "web/settings.rs"]
mod settings;

#[path = "web/syncing.rs"]
mod syncing;

#[path = "web/faults.rs"]
mod faults;
#[path = "web/parity.rs"]
mod parity;
