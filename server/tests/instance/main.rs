//! The instance over loopback HTTP: a real server on an ephemeral port, a real SQLite file in
//! a temporary directory, demo data from a fixed seed.

mod fixture;

mod actions;
mod attachments;
mod auth;
mod bad_input;
mod cache;
mod create;
mod entries;
mod faults;
mod hostile;
mod reads;
mod roles;
mod sessions;
mod sql_lists;
mod sync;
mod table;
mod table_rules;
