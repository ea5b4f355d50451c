//! The instance's options: each one a command-line flag and an environment variable.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run the instance.
#[derive(Clone, Debug, Parser)]
#[command(name = "offgrid-server", version, about)]
pub struct Config {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "OFFGRID_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// SQLite database file (created when missing); `:memory:` keeps everything in memory.
    #[arg(long, env = "OFFGRID_DB", default_value = "./data/offgrid.db")]
    pub db: PathBuf,
    /// Seed demo users, records, offline scopes and actions when the database is empty.
    #[arg(long, env = "OFFGRID_DEMO")]
    pub demo: bool,
    /// How many demo records to generate.
    #[arg(long, env = "OFFGRID_RECORDS", default_value_t = 300,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub records: u32,
    /// Pad each generated demo record's `description` until the record's JSON is at least
    /// this many bytes (`make bench` asks for records of about 1 KB); 0 pads nothing.
    #[arg(long, env = "OFFGRID_RECORD_BYTES", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=65_536))]
    pub record_bytes: u32,
    /// Seed of the demo data generator (the same seed gives the same records).
    #[arg(long, env = "OFFGRID_SEED", default_value_t = 1)]
    pub seed: u64,
    /// Directory of the app, served at `/`.
    #[arg(long, env = "OFFGRID_WWW", default_value = "www")]
    pub www: PathBuf,
    /// Directory of the built core, served at `/pkg/`.
    #[arg(long, env = "OFFGRID_PKG", default_value = "pkg")]
    pub pkg: PathBuf,
    /// An origin allowed to call the API with credentials (for tests served from elsewhere).
    #[arg(long, env = "OFFGRID_CORS_ORIGIN")]
    pub cors_origin: Option<String>,
    /// Largest attachment accepted, in bytes; larger ones get 413.
    #[arg(long, env = "OFFGRID_MAX_ATTACHMENT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_attachment_bytes: u64,
    /// Largest value of one record field through the Table API, in bytes; larger gets 413.
    #[arg(long, env = "OFFGRID_MAX_FIELD_BYTES", default_value_t = 64 * 1024)]
    pub max_field_bytes: usize,
    /// Most fields one Table API write may carry; more gets 422.
    #[arg(long, env = "OFFGRID_MAX_FIELDS", default_value_t = 200)]
    pub max_fields: usize,
    /// Most entries one sync batch may carry; more gets 413 (the device halves its batch).
    #[arg(long, env = "OFFGRID_MAX_BATCH_ENTRIES", default_value_t = 500)]
    pub max_batch_entries: usize,
    /// A session unused for this many seconds ends (idle expiry).
    #[arg(long, env = "OFFGRID_SESSION_IDLE_SECS", default_value_t = 8 * 3600)]
    pub session_idle_secs: u64,
    /// A session ends this many seconds after sign-in, however much it is used.
    #[arg(long, env = "OFFGRID_SESSION_MAX_SECS", default_value_t = 7 * 24 * 3600)]
    pub session_max_secs: u64,
    /// Mark the session cookie `Secure`: set it when the instance is served over HTTPS (by a
    /// proxy in front of it; the instance itself speaks HTTP).
    #[arg(long, env = "OFFGRID_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// A client must send a request's headers within this many seconds, or its connection is
    /// closed (slow clients cannot hold connections forever).
    #[arg(long, env = "OFFGRID_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,
    /// Answer every list by judging each narrowed record in the core, never by counting and
    /// paging in SQL (slower over large tables; for comparing the two).
    #[arg(long, env = "OFFGRID_JUDGE_EVERY_LIST")]
    pub judge_every_list: bool,
    /// Let an admin make the instance fail on purpose (`POST /api/offgrid/faults`), for soak
    /// tests. Never on a real instance.
    #[arg(long, env = "OFFGRID_FAULT_INJECTION")]
    pub fault_injection: bool,
}

impl Config {
    /// The defaults, as if no flag were given (for tests that set a few fields).
    pub fn defaults() -> Self {
        Self::parse_from(["offgrid-server"])
    }

    /// Whether the database lives in memory only.
    pub fn in_memory(&self) -> bool {
        self.db.as_os_str() == ":memory:"
    }
}
