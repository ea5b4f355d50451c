//! The entry points the service worker's JS shim (`www/sw.js`) calls. The shim registers the
//! event handlers synchronously and wraps each call in `ready.then(...)`, since the wasm
//! initialises asynchronously. With the `test-hooks` feature it also exports the overrides
//! tests use to fix the clock and force the network and the storage estimate.

use super::runtime::{install_panic_hook, Runtime, RuntimeConfig};
use js_sys::Promise;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::Request;

/// How often the worker checks expiry and the schedule while it lives.
const HOUSEKEEPING_MS: i32 = 60_000;

thread_local! {
    static RUNTIME: RefCell<Option<Rc<Runtime>>> = const { RefCell::new(None) };
    static TIMER: RefCell<Option<Closure<dyn FnMut()>>> = const { RefCell::new(None) };
}

fn current() -> Result<Rc<Runtime>, JsValue> {
    RUNTIME
        .with(|r| r.borrow().clone())
        .ok_or_else(|| js_sys::Error::new("offgrid: start() has not finished").into())
}

/// Starts the runtime: `config` is `{instance, db_prefix}` (both optional). Resolves once
/// requests can be answered; then, in the background, checks expiry and the schedule and
/// syncs when online and offline mode is off. Starts the housekeeping timer. Panics are
/// logged to the console from here on.
#[wasm_bindgen]
pub fn start(config: JsValue) -> Promise {
    install_panic_hook();
    future_to_promise(async move {
        let config: RuntimeConfig = if config.is_undefined() || config.is_null() {
            RuntimeConfig::default()
        } else {
            serde_wasm_bindgen::from_value(config)
                .map_err(|e| js_sys::Error::new(&format!("offgrid: bad config: {e}")))?
        };
        let runtime = Runtime::open(config)
            .await
            .map_err(|e| js_sys::Error::new(&e.to_string()))?;
        RUNTIME.with(|r| *r.borrow_mut() = Some(runtime.clone()));
        let tick = Closure::<dyn FnMut()>::new(|| {
            if let Ok(runtime) = current() {
                wasm_bindgen_futures::spawn_local(async move { runtime.periodic().await });
            }
        });
        super::global_sys::set_interval(tick.as_ref().unchecked_ref(), HOUSEKEEPING_MS);
        TIMER.with(|t| *t.borrow_mut() = Some(tick));
        // Requests must not wait for the start-up sync or download: they run beside them.
        wasm_bindgen_futures::spawn_local(async move { runtime.on_start().await });
        Ok(JsValue::UNDEFINED)
    })
}

/// Answers a request of the app (the `fetch` event), as a `Promise<Response>`.
#[wasm_bindgen]
pub fn handle_fetch(request: Request) -> Promise {
    future_to_promise(async move {
        let runtime = current()?;
        Ok(runtime.handle(request).await.into())
    })
}

/// Background Sync's `sync` event: the browser thinks the device is online again.
#[wasm_bindgen]
pub fn on_sync(_tag: String) -> Promise {
    future_to_promise(async move {
        current()?.sync_if_online().await;
        Ok(JsValue::UNDEFINED)
    })
}

/// Periodic Background Sync: expiry and schedule checks, and due retries.
#[wasm_bindgen]
pub fn on_periodic_sync(_tag: String) -> Promise {
    future_to_promise(async move {
        current()?.periodic().await;
        Ok(JsValue::UNDEFINED)
    })
}

/// A page's message: `{"type":"online"}` (the page saw the `online` event, which workers do
/// not get) syncs; `{"type":"heartbeat"}` runs the expiry and schedule checks and sends
/// entries whose retry is due.
#[wasm_bindgen]
pub fn on_message(data: JsValue) -> Promise {
    future_to_promise(async move {
        let runtime = current()?;
        let kind = super::global_sys::property(&data, "type").and_then(|t| t.as_string());
        match kind.as_deref() {
            Some("online") => runtime.sync_if_online().await,
            Some("heartbeat") => runtime.periodic().await,
            _ => {}
        }
        Ok(JsValue::UNDEFINED)
    })
}

/// Forces the network up (`true`) or down (`false`), or back to `navigator.onLine`
/// (`undefined`): for tests, which cannot always cut the browser's network.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen]
pub fn set_network_override(up: Option<bool>) -> Result<(), JsValue> {
    current()?.network().force(up);
    Ok(())
}

/// Forces the storage estimate to `free_bytes` left of a full quota (`undefined`: the browser's
/// estimate again), so a download is refused for want of space when a test says so.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen]
pub fn set_storage_override(free_bytes: Option<f64>) -> Result<(), JsValue> {
    let quota = 1e12;
    current()?
        .network()
        .force_storage(free_bytes.map(|free| super::runtime::StorageEstimate {
            usage: quota - free,
            quota,
        }));
    Ok(())
}

/// Fixes the runtime's clock at `unix_seconds` (`undefined`: the browser's clock again), to
/// check expiry and the schedule at chosen times.
#[cfg(feature = "test-hooks")]
#[wasm_bindgen]
pub fn set_clock_override(unix_seconds: Option<f64>) -> Result<(), JsValue> {
    current()?
        .clock()
        .set(unix_seconds.map(|s| crate::record::Timestamp::from_unix(s as i64)));
    Ok(())
}
