//! # offgrid
//!
//! Offline mode for installable web apps. This crate is the pure core, shared by the service
//! worker (compiled to WebAssembly) and the instance (native): records, encoded queries,
//! writeback action definitions and their step engine, the outbox state machine, conflict
//! rules, cache expiry and schedule math.
//!
//! The core knows nothing of the browser. It reaches storage through the [`store::Store`]
//! trait, and takes the current time as an argument. The browser layer lives in `web`
//! (compiled for `wasm32` only).
#![deny(missing_docs)]

pub mod action;
pub mod api;
pub mod conflict;
pub mod download;
pub mod feed;
pub mod generate;
pub mod local;
pub mod outbox;
pub mod policy;
pub mod query;
pub mod record;
pub mod schedule;
pub mod store;
pub mod sync;

#[cfg(target_arch = "wasm32")]
pub mod web;

pub use record::{Record, Timestamp};
