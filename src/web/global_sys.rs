//! Raw bindings to the globals that pages and workers share (`fetch`, timers, `navigator`,
//! `Date.now`), so the rest of the layer does not care whether it runs in a window or a
//! service worker.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::Request;

#[wasm_bindgen]
extern "C" {
    /// `fetch(request)`: the global of both windows and workers.
    #[wasm_bindgen(catch, js_name = fetch)]
    pub fn fetch_request(request: &Request) -> Result<Promise, JsValue>;

    /// `setTimeout(handler, ms)`; the handle is a number.
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: i32) -> JsValue;

    /// `clearTimeout(handle)`.
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(handle: &JsValue);

    /// `setInterval(handler, ms)`; the handle is a number.
    #[wasm_bindgen(js_name = setInterval)]
    pub fn set_interval(handler: &Function, ms: i32) -> JsValue;
}

/// `globalThis.navigator`, when there is one.
pub fn navigator() -> Option<JsValue> {
    property(&js_sys::global(), "navigator")
}

/// `target[name]` when it is neither undefined nor null.
pub fn property(target: &JsValue, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(target, &JsValue::from_str(name))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}
