//! One outbox change at a time. Requests are answered concurrently, and an outbox change is a
//! read (the entries), a decision (the next `seq`, blocked or not) and a write: two at once
//! would give two entries the same `seq`.

use crate::web::global_sys::set_timeout;
use std::cell::Cell;
use wasm_bindgen_futures::JsFuture;

/// How long a waiting change sleeps before it looks again.
const POLL_MS: i32 = 2;

/// A lock for the single-threaded worker: taken by one task at a time, others wait their turn.
#[derive(Debug, Default)]
pub struct Serial {
    busy: Cell<bool>,
}

/// Holds the lock until dropped.
pub struct Turn<'a> {
    serial: &'a Serial,
}

impl Serial {
    /// Waits until no other task holds the lock, then holds it.
    pub async fn turn(&self) -> Turn<'_> {
        while self.busy.replace(true) {
            sleep(POLL_MS).await;
        }
        Turn { serial: self }
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.serial.busy.set(false);
    }
}

async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    // The promise only resolves.
    let _ = JsFuture::from(promise).await;
}
