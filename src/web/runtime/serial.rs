//! One outbox change at a time. Requests are answered concurrently, and an outbox change is a
//! read (the entries), a decision (the next `seq`, blocked or not) and a write: two at once
//! would give two entries the same `seq`.
//!
//! The lock is `futures-util`'s async `Mutex`: a waiting task is woken when the holder lets go,
//! rather than polling a timer. It is the lighter of the well-kept choices (`async-lock` brings
//! `event-listener` and `concurrent-queue` for threads the worker does not have); without its
//! default features it is only `futures-core`, `futures-task`, `pin-project-lite` and `slab`.

use futures_util::lock::{Mutex, MutexGuard};

/// A lock for the single-threaded worker: taken by one task at a time, others wait their turn
/// (in no promised order; each change stands on its own).
#[derive(Debug, Default)]
pub struct Serial {
    lock: Mutex<()>,
}

/// Holds the lock until dropped.
pub type Turn<'a> = MutexGuard<'a, ()>;

impl Serial {
    /// Waits until no other task holds the lock, then holds it.
    pub async fn turn(&self) -> Turn<'_> {
        self.lock.lock().await
    }
}
