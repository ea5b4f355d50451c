//! What the browser says about the network and storage: `navigator.onLine`, the Network
//! Information API's connection type, and the Storage API's estimate and persistence.
//!
//! Chromium fires no `online`/`offline` events in workers, but `navigator.onLine` is right
//! there, so the runtime asks it whenever it decides.

use crate::web::global_sys::{navigator, property};
use crate::web::transport::js_text;
use js_sys::{Function, Promise, Reflect};
#[cfg(feature = "test-hooks")]
use std::cell::Cell;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The network and storage as the runtime sees them. With the `test-hooks` feature, tests
/// can force both.
#[derive(Debug, Default)]
pub struct Network {
    #[cfg(feature = "test-hooks")]
    forced: Cell<Option<bool>>,
    #[cfg(feature = "test-hooks")]
    forced_storage: Cell<Option<StorageEstimate>>,
}

impl Network {
    /// Whether the device is online: `navigator.onLine` (unless a test forced it).
    pub fn is_up(&self) -> bool {
        #[cfg(feature = "test-hooks")]
        if let Some(up) = self.forced.get() {
            return up;
        }
        navigator()
            .and_then(|n| property(&n, "onLine"))
            .and_then(|v| v.as_bool())
            .unwrap_or(true)
    }

    /// Forces the network up (`Some(true)`) or down (`Some(false)`), or back to
    /// `navigator.onLine` (`None`). Tests use it: a test cannot cut Chromium's network, and a
    /// forced-down network must behave exactly like a real outage for the runtime.
    #[cfg(feature = "test-hooks")]
    pub fn force(&self, up: Option<bool>) {
        self.forced.set(up);
    }

    /// `navigator.storage.estimate()` (unless a test forced it); `None` where the browser has
    /// no Storage API.
    pub async fn storage_estimate(&self) -> Option<StorageEstimate> {
        #[cfg(feature = "test-hooks")]
        if let Some(forced) = self.forced_storage.get() {
            return Some(forced);
        }
        storage_estimate().await
    }

    /// Forces what the storage estimate reports (`None`: the browser's again). Tests use it:
    /// Chromium's quota override over CDP does not reach `estimate()`, and a full disk cannot
    /// be made on demand, yet the `quota` refusal must be shown to harm nothing.
    #[cfg(feature = "test-hooks")]
    pub fn force_storage(&self, estimate: Option<StorageEstimate>) {
        self.forced_storage.set(estimate);
    }

    /// `navigator.connection.type` (`wifi`, `cellular`, ...), `None` where the browser does
    /// not report it (desktop Chromium has `navigator.connection` without `type`).
    pub fn connection_type(&self) -> Option<String> {
        navigator()
            .and_then(|n| property(&n, "connection"))
            .and_then(|c| property(&c, "type"))
            .and_then(|t| t.as_string())
    }
}

/// What `navigator.storage.estimate()` reports, in bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StorageEstimate {
    /// Bytes the origin uses.
    pub usage: f64,
    /// Bytes the origin may use.
    pub quota: f64,
}

impl StorageEstimate {
    /// Bytes still free.
    pub fn free(&self) -> f64 {
        (self.quota - self.usage).max(0.0)
    }
}

/// `navigator.storage.estimate()`; `None` where the browser has no Storage API.
async fn storage_estimate() -> Option<StorageEstimate> {
    let result = call_storage("estimate").await?;
    let number = |name: &str| property(&result, name).and_then(|v| v.as_f64());
    Some(StorageEstimate {
        usage: number("usage").unwrap_or(0.0),
        quota: number("quota")?,
    })
}

/// Asks for persistent storage (`navigator.storage.persist()`), so the browser does not evict
/// the offline cache and outbox under storage pressure. Workers have no `persist()` (it is
/// exposed to windows only), so there the app's page asks; `None` then.
pub async fn request_persistence() -> Option<bool> {
    call_storage("persist").await?.as_bool()
}

async fn call_storage(method: &str) -> Option<wasm_bindgen::JsValue> {
    let storage = navigator().and_then(|n| property(&n, "storage"))?;
    let function: Function = property(&storage, method)?.dyn_into().ok()?;
    let promise: Promise = Reflect::apply(&function, &storage, &js_sys::Array::new())
        .ok()?
        .dyn_into()
        .ok()?;
    JsFuture::from(promise).await.ok()
}

/// The Background Sync tag the runtime asks for when changes wait in the outbox.
pub const SYNC_TAG: &str = "offgrid-outbox";

/// Asks the browser for a Background Sync (`registration.sync.register(tag)`), so the worker
/// gets a `sync` event once the device is online again, even with no page open. Only
/// Chromium's service workers have it; elsewhere, and when refused, nothing happens (pages
/// forward their `online` event instead).
pub fn request_background_sync(tag: &str) {
    let Some(sync) = property(&js_sys::global(), "registration").and_then(|r| property(&r, "sync"))
    else {
        return;
    };
    let Some(register) = property(&sync, "register").and_then(|f| f.dyn_into::<Function>().ok())
    else {
        return;
    };
    if let Ok(promise) = register
        .call1(&sync, &tag.into())
        .and_then(|p| p.dyn_into::<Promise>())
    {
        // A refusal (no permission, say) costs nothing: pages forward their `online` event.
        // It is logged, not kept as the runtime's last fault, since nothing is lost.
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(e) = JsFuture::from(promise).await {
                let message = format!("offgrid: background sync: {}", js_text(&e));
                web_sys::console::warn_1(&message.into());
            }
        });
    }
}
