//! Faults nobody asked about: what goes wrong in the background (housekeeping, the start-up
//! sync, blob pruning, events) has no caller to answer. Each is logged with `console.warn`
//! and the last one is kept for `GET /offgrid/status` (`last_error`), so the app can show it.

use crate::record::Timestamp;
use std::cell::RefCell;
use std::fmt::Display;

pub use crate::api::local::Fault;

/// The last background fault of a runtime.
#[derive(Debug, Default)]
pub struct Faults {
    last: RefCell<Option<Fault>>,
}

impl Faults {
    /// Logs a fault (`offgrid: <place>: <message>`) and keeps it as the last one.
    pub fn report(&self, place: &'static str, error: &dyn Display) {
        let message = error.to_string();
        web_sys::console::warn_1(&format!("offgrid: {place}: {message}").into());
        let at = Timestamp::from_unix((js_sys::Date::now() / 1000.0).floor() as i64);
        *self.last.borrow_mut() = Some(Fault {
            at,
            place: place.to_string(),
            message,
        });
    }

    /// Logs and keeps the error of `result`, if it is one.
    pub fn check<T, E: Display>(&self, place: &'static str, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.report(place, &e)).ok()
    }

    /// The last fault, if any.
    pub fn last(&self) -> Option<Fault> {
        self.last.borrow().clone()
    }
}

/// Logs panics with `console.error` (`offgrid: panic: ...`), which a service worker otherwise
/// reports only as an unreachable instruction. Installed once, by the first call.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            web_sys::console::error_1(&format!("offgrid: panic: {info}").into());
        }));
    });
}
