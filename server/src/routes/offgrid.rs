//! offgrid's own API: login and logout, the configuration the core downloads, the offline
//! cache feed, live actions and the exactly-once sync of outbox entries.

mod actions;
mod config;
mod feed;
mod session;
mod sync;

pub use actions::run_action;
pub use config::config;
pub use feed::cache;
pub use session::{login, logout};
pub use sync::sync;
