//! The time the runtime works with: `Date.now()`, unless a test fixed it (`test-hooks`).

use crate::record::Timestamp;
#[cfg(feature = "test-hooks")]
use std::cell::Cell;

/// The runtime's clock: the browser's, or, with the `test-hooks` feature, a fixed time set by
/// a test (scheduled downloads and expiry are checked at given times without waiting for
/// them).
#[derive(Debug, Default)]
pub struct Clock {
    #[cfg(feature = "test-hooks")]
    fixed_ms: Cell<Option<f64>>,
}

impl Clock {
    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> f64 {
        #[cfg(feature = "test-hooks")]
        if let Some(ms) = self.fixed_ms.get() {
            return ms;
        }
        js_sys::Date::now()
    }

    /// The current time, to the second.
    pub fn now(&self) -> Timestamp {
        // Date.now() is far inside i64 for any real date; the cast saturates otherwise.
        Timestamp::from_unix((self.now_ms() / 1000.0).floor() as i64)
    }

    /// Fixes the time at `at` (`None`: back to the browser's clock).
    #[cfg(feature = "test-hooks")]
    pub fn set(&self, at: Option<Timestamp>) {
        self.fixed_ms.set(at.map(|t| t.unix() as f64 * 1000.0));
    }
}
