//! # offgrid-server
//!
//! The instance: the server of record that offgrid's core syncs with. A ServiceNow-style
//! Table API, attachments, live actions run by the core's engine, the offline cache feed and
//! the exactly-once sync endpoint, over SQLite; it also serves the app (`www/`) and the
//! built core (`pkg/`).
//!
//! [`start`] binds and serves in the background (tests start it on port 0 in-process);
//! [`serve`] is what the binary runs.
#![deny(missing_docs)]

pub mod auth;
pub mod config;
pub mod demo;
pub mod error;
pub mod faults;
pub mod hooks;
pub mod routes;
pub mod rules;
pub mod storage;
pub mod throttle;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, Method};
use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;

pub use config::Config;
use error::ApiError;
use storage::{sqlite::Sqlite, Storage, StorageError};

/// Keys of the `config` table.
pub mod config_keys {
    /// Offline scope per table: `{"wm_task": "<encoded query>", ...}`.
    pub const TABLES: &str = "tables";
    /// Action definitions (a JSON array).
    pub const ACTIONS: &str = "actions";
    /// The cache policy.
    pub const POLICY: &str = "policy";
    /// Choices of choice fields: `{"wm_task": {"state": ["assigned", ...]}, ...}`.
    pub const CHOICES: &str = "choices";
    /// Fields a role may write through the Table API: `{"technician": {"wm_task": [...]}}`.
    pub const WRITABLE: &str = "writable";
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub storage: Arc<dyn Storage>,
    /// The largest attachment accepted.
    pub max_attachment_bytes: u64,
    /// The largest field value, the most fields of a write, the most entries of a batch.
    pub limits: Limits,
    /// How long sessions live, and their cookie.
    pub sessions: auth::SessionPolicy,
    /// Failed sign-ins, per user and address.
    pub throttle: Arc<throttle::Throttle>,
    /// The armed faults; `None` unless started with `--fault-injection`.
    pub faults: Option<Arc<faults::Faults>>,
    /// Whether lists SQL can answer exactly are counted and paged in SQL (see
    /// [`Config::judge_every_list`]).
    pub lists_by_sql: bool,
}

/// Limits on what one request may carry (see [`Config`]).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest value of one record field, in bytes.
    pub max_field_bytes: usize,
    /// Most fields of one Table API write.
    pub max_fields: usize,
    /// Most entries of one sync batch.
    pub max_batch_entries: usize,
}

impl AppState {
    /// Runs database work on the blocking pool, so SQLite never blocks the async runtime.
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn Storage) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || work(&*storage))
            .await
            .map_err(|e| ApiError::internal(format!("a database task failed: {e}")))?
    }
}

/// Why the instance could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or seeded.
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// The demo data could not be made.
    #[error("demo data: {0}")]
    Demo(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    /// `--cors-origin` is not a valid origin.
    #[error("--cors-origin {0:?} is not a valid header value")]
    CorsOrigin(String),
}

/// A running instance.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The demo users it created (empty without `--demo` or when the database had data).
    pub demo_users: Vec<demo::SeededUser>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Waits until the server stops (it runs until the process ends).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?
    }
}

/// Opens the database, seeds demo data when asked and the database is empty, binds the
/// listen address and serves in the background.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let path = config.db.clone();
    let storage: Arc<dyn Storage> = Arc::new(
        tokio::task::spawn_blocking(move || Sqlite::open(&path))
            .await
            .map_err(|e| StorageError(e.to_string()))??,
    );
    let demo_users = if config.demo {
        let (storage, records, record_bytes, seed) = (
            storage.clone(),
            config.records,
            config.record_bytes,
            config.seed,
        );
        tokio::task::spawn_blocking(move || demo::seed(&*storage, records, record_bytes, seed))
            .await
            .map_err(|e| StartError::Demo(e.to_string()))??
    } else {
        Vec::new()
    };
    let state = AppState {
        storage,
        max_attachment_bytes: config.max_attachment_bytes,
        limits: Limits {
            max_field_bytes: config.max_field_bytes,
            max_fields: config.max_fields,
            max_batch_entries: config.max_batch_entries,
        },
        sessions: auth::SessionPolicy {
            idle_secs: config.session_idle_secs,
            max_secs: config.session_max_secs,
            secure: config.secure_cookies,
        },
        throttle: Arc::default(),
        faults: config.fault_injection.then(Arc::default),
        lists_by_sql: !config.judge_every_list,
    };
    let app = router(&config, state)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let header_timeout = std::time::Duration::from_secs(config.header_read_timeout_secs);
    let task = tokio::spawn(serve_connections(listener, app, header_timeout));
    Ok(Running {
        addr,
        demo_users,
        task,
    })
}

/// Accepts connections and serves each with hyper, as `axum::serve` does, plus what it cannot
/// set: a header read timeout, so a client that never finishes its headers is cut off. Each
/// request knows the client's address (for throttling failed sign-ins per address).
async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: std::time::Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::Service as _;
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            // Out of file descriptors and the like: wait a little rather than spin.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(service) = make.call(remote).await;
        let hyper_service = hyper::service::service_fn(move |request| {
            let mut service = service.clone();
            service.call(request)
        });
        tokio::spawn(async move {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .max_buf_size(routes::READ_BUFFER_BYTES);
            // A connection that fails or times out only ends itself.
            let _ = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), hyper_service)
                .await;
        });
    }
}

/// Starts the instance, prints where it listens (and the demo users), and serves until the
/// process is interrupted.
pub async fn serve(config: Config) -> Result<(), StartError> {
    let demo = config.demo;
    let running = start(config).await?;
    println!("offgrid instance listening on http://{}", running.addr);
    if demo && running.demo_users.is_empty() {
        println!("  the database already has data: demo data was not seeded again");
    }
    for user in &running.demo_users {
        println!(
            "  demo user {:<12} password {:<12} roles {}",
            user.user_name, user.password, user.roles
        );
    }
    tokio::select! {
        result = running.wait() => result.map_err(StartError::Serve),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

fn router(config: &Config, state: AppState) -> Result<Router, StartError> {
    use routes::{attachment, offgrid, table};
    let api = Router::new()
        .route("/api/offgrid/login", post(offgrid::login))
        .route("/api/offgrid/logout", post(offgrid::logout))
        .route("/api/offgrid/config", get(offgrid::config))
        .route("/api/offgrid/cache", get(offgrid::cache))
        .route("/api/offgrid/actions/{name}", post(offgrid::run_action))
        .route("/api/offgrid/sync", post(offgrid::sync))
        .route("/api/offgrid/faults", post(faults::arm))
        .route(
            "/api/now/table/{table}",
            get(table::list).post(table::insert),
        )
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(table::get_one)
                .patch(table::update)
                .put(table::update)
                .delete(table::delete),
        )
        .route("/api/now/attachment", get(attachment::list))
        .route("/api/now/attachment/file", post(attachment::upload))
        .route(
            "/api/now/attachment/{sys_id}/file",
            get(attachment::download),
        )
        .route("/api/{*rest}", axum::routing::any(routes::unknown_api))
        // Whatever axum itself answers (a wrong method, a path that is not UTF-8) becomes the
        // envelope too.
        .layer(axum::middleware::map_response(routes::envelope))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::inject,
        ))
        // Room for a base64 attachment inside an action or sync body; uploads check the exact
        // limit themselves.
        .layer(DefaultBodyLimit::max(
            (config.max_attachment_bytes as usize).saturating_mul(2) + (1 << 20),
        ))
        .with_state(state);
    let mut app = api
        .nest_service("/pkg", ServeDir::new(&config.pkg))
        .fallback_service(ServeDir::new(&config.www))
        .layer(axum::middleware::from_fn(routes::limits));
    if let Some(origin) = &config.cors_origin {
        let origin =
            HeaderValue::from_str(origin).map_err(|_| StartError::CorsOrigin(origin.clone()))?;
        app = app.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::exact(origin))
                .allow_credentials(true)
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::AUTHORIZATION,
                    header::HeaderName::from_static("x-offgrid-request"),
                ])
                .expose_headers([header::HeaderName::from_static("x-total-count")]),
        );
    }
    Ok(app)
}
