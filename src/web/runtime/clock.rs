//! The time the runtime works with: `Date.now()`, unless a test or the app set it.

use crate::record::Timestamp;
use std::cell::Cell;

/// The runtime's clock: the browser's, or a fixed time set for tests (scheduled downloads
/// and expiry are checked at given times without waiting for them).
#[derive(Debug, Default)]
pub struct Clock {
    fixed_ms: Cell<Option<f64>>,
}

impl Clock {
    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> f64 {
        self.fixed_ms.get().unwrap_or_else(js_sys::Date::now)
    }

    /// The current time, to the second.
    pub fn now(&self) -> Timestamp {
        // Date.now() is far inside i64 for any real date; the cast saturates otherwise.
        Timestamp::from_unix((self.now_ms() / 1000.0).floor() as i64)
    }

    /// Fixes the time at `at` (`None`: back to the browser's clock).
    pub fn set(&self, at: Option<Timestamp>) {
        self.fixed_ms.set(at.map(|t| t.unix() as f64 * 1000.0));
    }
}
