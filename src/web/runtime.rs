//! The service-worker runtime: the app keeps calling the instance's REST API as if it were
//! always online, and the runtime answers from the network when it can and from the offline
//! cache when it cannot, queues actions in the outbox and replays them exactly once.
//!
//! A [`Runtime`] serves one origin's pages. It remembers who is signed in in a small global
//! database (`<db_prefix>`), and keeps that user's cache, outbox and settings in their own
//! database (`<db_prefix>:<user_name>`), together with the instance's configuration (offline
//! scopes, action definitions, cache policy), so a worker restarted offline still knows whose
//! data to open and what the actions do.
//!
//! - [`local_api`]: the router of `handle_fetch`: which paths the runtime answers and how.
//! - `cache`: downloads and cache queries; `offline`: actions run on the device, resolve and
//!   delete; `syncing`: the outbox replay; `housekeeping`: expiry and scheduled downloads.
//! - [`Events`] on `BroadcastChannel("offgrid")`, the [`Clock`] and the [`Network`] (tests
//!   override both, with the `test-hooks` feature), and the background [`Faults`].
//!
//! No `RefCell` borrow is held across an `.await`: the session is an `Rc` cloned out of its
//! cell, and its mutable settings are `Cell`s read and written between awaits.

mod attachments;
mod cache;
mod catalog;
mod clock;
mod error;
mod events;
mod fault;
mod housekeeping;
mod http;
pub mod local_api;
mod network;
mod offline;
mod serial;
mod syncing;

pub use clock::Clock;
pub use error::RuntimeError;
pub use events::{Event, Events};
pub use fault::{install_panic_hook, Fault, Faults};
pub use network::{Network, StorageEstimate};

use crate::action::ActionSet;
use crate::api::local::{CacheStatus, Status, User};
use crate::outbox::{Counts, Outbox};
use crate::policy::CachePolicy;
use crate::query::QueryContext;
use crate::record::new_uuid;
use crate::schedule::Schedule;
use crate::web::idb::LocalDb;
use crate::web::transport::{response_text, Transport};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use web_sys::{Request, Response};

/// How to start a runtime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// The instance's base URL; `""` for the worker's own origin.
    #[serde(default)]
    pub instance: String,
    /// The prefix of the runtime's IndexedDB databases (`offgrid`; tests use a random one).
    #[serde(default = "default_prefix")]
    pub db_prefix: String,
}

fn default_prefix() -> String {
    "offgrid".into()
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            instance: String::new(),
            db_prefix: default_prefix(),
        }
    }
}

/// The instance's `GET /api/offgrid/config`, as stored for offline use.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct InstanceConfig {
    #[serde(default)]
    tables: BTreeMap<String, String>,
    #[serde(default)]
    actions: Value,
    #[serde(default)]
    policy: CachePolicy,
}

/// Meta keys of the user's database.
mod keys {
    /// The instance's configuration ([`super::InstanceConfig`]).
    pub const CONFIG: &str = "config";
    /// Whether the user turned offline mode on.
    pub const OFFLINE_MODE: &str = "offline_mode";
    /// The download schedule.
    pub const SCHEDULE: &str = "schedule";
    /// When the cache was last downloaded (kept when the cache is cleared, for the schedule).
    pub const LAST_DOWNLOAD: &str = "last_download";
    /// Expiry warnings already given for the current cache (`before_s` values).
    pub const SENT_WARNINGS: &str = "sent_warnings";
    /// The notice that the cache expired and was deleted, until the next download.
    pub const EXPIRED_NOTICE: &str = "expired_notice";
    /// The global database's key of the signed-in user.
    pub const USER: &str = "user";
}

/// The signed-in user, their database and the configuration that came with them.
struct Session {
    user: User,
    db: LocalDb,
    /// The tables the offline scope keeps on the device.
    tables: BTreeSet<String>,
    actions: ActionSet,
    policy: CachePolicy,
    offline_mode: Cell<bool>,
    schedule: RefCell<Schedule>,
}

impl Session {
    fn ctx(&self) -> QueryContext {
        QueryContext {
            user_name: self.user.user_name.clone(),
            user_sys_id: self.user.sys_id.clone(),
        }
    }

    fn schedule(&self) -> Schedule {
        self.schedule.borrow().clone()
    }

    async fn outbox(&self) -> Result<Outbox, RuntimeError> {
        Ok(Outbox::from_entries(self.db.outbox_entries().await?))
    }

    /// The outbox's counts, without copying its entries.
    async fn counts(&self) -> Result<Counts, RuntimeError> {
        Ok(Counts::of(&self.db.outbox_kept().await?))
    }
}

/// The service-worker runtime. See the module docs.
pub struct Runtime {
    config: RuntimeConfig,
    transport: Transport,
    global: LocalDb,
    session: RefCell<Option<Rc<Session>>>,
    /// This runtime's name on the sync lease.
    holder: String,
    clock: Clock,
    network: Network,
    events: Events,
    /// The last fault nobody asked about (`last_error` in the status).
    faults: Rc<Faults>,
    /// A download is running (one at a time per worker).
    downloading: Cell<bool>,
    /// Outbox changes made on the device, one at a time.
    outbox_turn: serial::Serial,
}

impl Runtime {
    /// Opens the runtime: the global database, and the signed-in user's data if someone is
    /// signed in. Nothing is downloaded or synced yet (see [`Runtime::on_start`]).
    pub async fn open(config: RuntimeConfig) -> Result<Rc<Runtime>, RuntimeError> {
        let global = LocalDb::open(&config.db_prefix).await?;
        let faults = Rc::new(Faults::default());
        let runtime = Rc::new(Runtime {
            transport: Transport::new(&config.instance),
            config,
            global,
            session: RefCell::new(None),
            holder: new_uuid(),
            clock: Clock::default(),
            network: Network::default(),
            events: Events::open(faults.clone()),
            faults,
            downloading: Cell::new(false),
            outbox_turn: serial::Serial::default(),
        });
        if let Some(user) = runtime.global.get_meta::<User>(keys::USER).await? {
            let session = runtime.open_session(user).await?;
            runtime.set_session(Some(session));
        }
        Ok(runtime)
    }

    /// The runtime's clock (tests fix the time with `Clock::set`, a `test-hooks` item).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The runtime's view of the network (tests force it down with `Network::force`, a
    /// `test-hooks` item).
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<User> {
        self.session().map(|s| s.user.clone())
    }

    /// Answers a request of the app (the service worker's `fetch` event). Never fails: faults
    /// are error answers.
    pub async fn handle(&self, request: Request) -> Response {
        local_api::route(self, request).await
    }

    /// What a starting worker does: expiry and schedule checks, then a sync when online and
    /// offline mode is off. Faults are logged and shown in the status (`last_error`), never
    /// thrown.
    pub async fn on_start(&self) {
        self.housekeeping().await;
        self.sync_if_online().await;
    }

    /// The browser says the device is online again (a page's `online` event, Background
    /// Sync): sync unless the user turned offline mode on.
    pub async fn sync_if_online(&self) {
        let Some(session) = self.session() else {
            return;
        };
        if !session.offline_mode.get() && self.network.is_up() {
            // A failed run leaves its entries pending; nobody waits for its answer.
            self.faults.check("sync", self.sync(&session).await);
        }
    }

    fn session(&self) -> Option<Rc<Session>> {
        self.session.borrow().clone()
    }

    fn signed_in(&self) -> Result<Rc<Session>, RuntimeError> {
        self.session().ok_or(RuntimeError::NotSignedIn)
    }

    fn set_session(&self, session: Option<Rc<Session>>) {
        *self.session.borrow_mut() = session;
    }

    fn db_name(&self, user_name: &str) -> String {
        format!("{}:{user_name}", self.config.db_prefix)
    }

    /// Opens a user's database and reads what is stored in it.
    async fn open_session(&self, user: User) -> Result<Rc<Session>, RuntimeError> {
        let db = LocalDb::open(&self.db_name(&user.user_name)).await?;
        let config: InstanceConfig = db.get_meta(keys::CONFIG).await?.unwrap_or_default();
        // Definitions were checked when the config was stored; a set that no longer loads
        // (stored by another build) means no offline actions rather than no runtime.
        let actions = ActionSet::from_json(&config.actions).unwrap_or_default();
        let offline_mode = db.get_meta(keys::OFFLINE_MODE).await?.unwrap_or(false);
        let schedule = db.get_meta(keys::SCHEDULE).await?.unwrap_or_default();
        Ok(Rc::new(Session {
            user,
            db,
            tables: config.tables.into_keys().collect(),
            actions,
            policy: config.policy,
            offline_mode: Cell::new(offline_mode),
            schedule: RefCell::new(schedule),
        }))
    }

    /// `POST /api/offgrid/login`, passed to the instance; on success the user is remembered,
    /// their database opened and the instance's configuration fetched and stored.
    async fn login(&self, request: &Request, path: &str) -> Result<Response, RuntimeError> {
        let response = self.transport.forward(request, path).await?;
        let status = response.status();
        let text = response_text(&response).await?;
        if response.ok() {
            let body: Value = serde_json::from_str(&text).unwrap_or_default();
            let user: User = serde_json::from_value(body["result"].clone()).map_err(|e| {
                RuntimeError::BadGateway(format!("the instance's login answer has no user: {e}"))
            })?;
            self.sign_in(user).await?;
        }
        Ok(http::json_response(
            status,
            &serde_json::from_str(&text).unwrap_or(Value::Null),
            &[],
        ))
    }

    async fn sign_in(&self, user: User) -> Result<(), RuntimeError> {
        if self
            .session()
            .is_some_and(|s| s.user.user_name != user.user_name)
        {
            // Another user's data stays on the device (their outbox survives) but closed.
            self.set_session(None);
        }
        let config = self
            .transport
            .json("GET", "/api/offgrid/config", None)
            .await?;
        let stored: InstanceConfig = serde_json::from_value(config.clone()).map_err(|e| {
            RuntimeError::BadGateway(format!("the instance's config is not valid: {e}"))
        })?;
        ActionSet::from_json(&stored.actions).map_err(|e| {
            RuntimeError::BadGateway(format!("the instance's actions are not valid: {e}"))
        })?;
        let db = LocalDb::open(&self.db_name(&user.user_name)).await?;
        db.put_meta(keys::CONFIG, &stored).await?;
        drop(db);
        self.global.put_meta(keys::USER, &user).await?;
        let session = self.open_session(user).await?;
        self.set_session(Some(session));
        self.post_status().await;
        Ok(())
    }

    /// `POST /api/offgrid/logout`, passed to the instance: on success the user is forgotten
    /// on this device but their database is kept, so unsynced changes survive and go out when
    /// they sign in again. (`POST /offgrid/logout` wipes it.)
    async fn api_logout(&self, request: &Request, path: &str) -> Result<Response, RuntimeError> {
        let response = self.transport.forward(request, path).await?;
        if response.ok() {
            self.forget_user().await?;
        }
        Ok(response)
    }

    async fn forget_user(&self) -> Result<(), RuntimeError> {
        self.set_session(None);
        self.global.delete_meta(keys::USER).await?;
        self.post_status().await;
        Ok(())
    }

    /// `POST /offgrid/logout`: refuses while unsynced entries exist unless `discard`; else
    /// logs out on the instance (if reachable) and deletes the user's database.
    async fn logout(&self, discard: bool) -> Result<Value, RuntimeError> {
        let session = self.signed_in()?;
        let outbox = session.outbox().await?;
        if !outbox.is_empty() && !discard {
            return Err(RuntimeError::Conflict {
                code: "unsynced",
                message: format!(
                    "{} change(s) are not synced yet; sync them first, or log out with discard_unsynced to throw them away",
                    outbox.entries().len()
                ),
            });
        }
        let instance = if self.network.is_up() {
            self.transport
                .json("POST", "/api/offgrid/logout", Some(&json!({})))
                .await
                .is_ok()
        } else {
            false
        };
        let name = self.db_name(&session.user.user_name);
        let user_name = session.user.user_name.clone();
        drop(session);
        self.forget_user().await?;
        LocalDb::delete(&name).await?;
        Ok(json!({
            "logged_out": user_name,
            "instance_logged_out": instance,
            "discarded": outbox.entries().len(),
        }))
    }

    /// `POST /offgrid/mode`: on downloads the cache first when there is none; off syncs.
    async fn set_mode(&self, offline: bool) -> Result<Value, RuntimeError> {
        let session = self.signed_in()?;
        session.db.put_meta(keys::OFFLINE_MODE, &offline).await?;
        session.offline_mode.set(offline);
        let mut answer = json!({"offline_mode": offline});
        if offline {
            if session.db.cache_meta().await?.is_none() {
                answer["download"] = match self.download(false).await {
                    Ok(done) => json!(done),
                    Err(e) => json!({"error": e.to_api().code, "message": e.to_string()}),
                };
            }
        } else if self.network.is_up() {
            answer["sync"] = match self.sync(&session).await {
                Ok(report) => json!(report),
                Err(e) => json!({"error": e.to_api().code, "message": e.to_string()}),
            };
        }
        self.post_status().await;
        Ok(answer)
    }

    /// `PUT /offgrid/settings`: `{"schedule": {...}}`, checked before it is stored.
    async fn put_settings(&self, body: &Value) -> Result<Value, RuntimeError> {
        let session = self.signed_in()?;
        let schedule: Schedule = serde_json::from_value(body["schedule"].clone())
            .map_err(|e| RuntimeError::BadRequest(format!("the schedule is not valid: {e}")))?;
        schedule.validate()?;
        session.db.put_meta(keys::SCHEDULE, &schedule).await?;
        *session.schedule.borrow_mut() = schedule.clone();
        let next = schedule.next_after(self.clock.now()).map(|t| t.to_string());
        Ok(json!({"schedule": schedule, "next_download": next}))
    }

    /// `GET /offgrid/status`.
    pub async fn status(&self) -> Result<Status, RuntimeError> {
        let network = self.network.is_up();
        let last_error = self.faults.last();
        let Some(session) = self.session() else {
            return Ok(Status {
                mode: Status::mode(false, network),
                offline_mode: false,
                network,
                user: None,
                cache: CacheStatus::default(),
                outbox: Counts::default(),
                schedule: Schedule::default(),
                next_download: None,
                warnings: Vec::new(),
                last_error,
            });
        };
        let now = self.clock.now();
        let meta = session.db.cache_meta().await?;
        let records = match meta {
            Some(_) => session.db.count_records().await?,
            None => 0,
        };
        let counts = session.counts().await?;
        let schedule = session.schedule();
        let offline_mode = session.offline_mode.get();
        let warnings = self
            .warnings(
                &session,
                meta.as_ref(),
                counts.pending + counts.failed + counts.blocked,
            )
            .await?;
        Ok(Status {
            mode: Status::mode(offline_mode, network),
            offline_mode,
            network,
            user: Some(session.user.clone()),
            cache: CacheStatus {
                present: meta.is_some(),
                downloaded_at: meta.as_ref().map(|m| m.downloaded_at),
                expires_at: meta.as_ref().map(|m| m.expires_at),
                records,
            },
            outbox: counts,
            next_download: schedule.next_after(now),
            schedule,
            warnings,
            last_error,
        })
    }

    async fn post_status(&self) {
        if let Some(status) = self.faults.check("status", self.status().await) {
            self.events.send(Event::Status(json!(status)));
        }
    }

    async fn post_outbox_changed(&self, session: &Session) {
        if let Some(counts) = self.faults.check("status", session.counts().await) {
            self.post_counts(counts);
        }
    }

    /// Tells pages the outbox's counts.
    fn post_counts(&self, counts: Counts) {
        self.events.send(Event::OutboxChanged {
            counts: json!(counts),
        });
    }
}
