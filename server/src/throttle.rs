//! Throttling of failed sign-ins, per user name and per client address: after too many
//! failures within a window, sign-ins for that user (or from that address) are refused with
//! 429 and `Retry-After` until the oldest failure leaves the window. In memory: a restart
//! forgets, which only gives a guesser a fresh window.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a failure counts.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures for one user name within the window before its sign-ins are refused.
pub const PER_USER: usize = 5;
/// Failures from one address within the window before its sign-ins are refused.
pub const PER_ADDRESS: usize = 20;

/// Recent failed sign-ins.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: Mutex<HashMap<Key, Vec<Instant>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

impl Throttle {
    /// `Err(seconds to wait)` when a sign-in as `user` from `address` must wait.
    pub fn check(&self, user: &str, address: Option<IpAddr>) -> Result<(), u64> {
        let now = Instant::now();
        let mut failures = self.lock();
        let mut wait = None;
        for (key, limit) in keys(user, address) {
            let Some(times) = failures.get_mut(&key) else {
                continue;
            };
            times.retain(|t| now.duration_since(*t) < WINDOW);
            if times.len() >= limit {
                let oldest = times[times.len() - limit];
                let left = WINDOW.saturating_sub(now.duration_since(oldest));
                wait = wait.max(Some(left.as_secs().max(1)));
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed sign-in as `user` from `address`.
    pub fn failed(&self, user: &str, address: Option<IpAddr>) {
        let now = Instant::now();
        let mut failures = self.lock();
        for (key, _) in keys(user, address) {
            failures.entry(key).or_default().push(now);
        }
    }

    /// Forgets a user's failures once they signed in (the address's stay counted).
    pub fn succeeded(&self, user: &str) {
        self.lock().remove(&Key::User(user.to_string()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<Instant>>> {
        // The map stays consistent if a holder panicked: every change is one call.
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn keys(user: &str, address: Option<IpAddr>) -> Vec<(Key, usize)> {
    let mut keys = vec![(Key::User(user.to_string()), PER_USER)];
    if let Some(address) = address {
        keys.push((Key::Address(address), PER_ADDRESS));
    }
    keys
}
