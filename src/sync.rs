//! Sync: the wire contract of `POST /api/offgrid/sync` (SPEC 7.1), shared by the instance and
//! the service worker, and the driver that replays the outbox through it (SPEC 5).
//!
//! The driver reaches storage and the network through two small traits, [`OutboxStore`] and
//! [`SyncTransport`], so the same code runs over IndexedDB and `fetch` in the service worker
//! and over memory or a real HTTP client natively.
//!
//! Exactly-once rests on two rules. The driver persists the `syncing` marks before it sends a
//! batch, so a worker killed mid-request finds those entries still syncing and sends them
//! again with the same ids; and the instance answers a repeated id with its first answer. An
//! entry leaves the outbox only when the instance said, for that very id, that it applied it.

mod apply;
#[cfg(test)]
mod memory;

pub use apply::{malformed, Applied, Lanes, Ledger};

use crate::outbox::{Base, Entry, EntryError, Outbox, OutboxError};
use crate::record::{Record, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The body of `POST /api/offgrid/sync`: entries in `seq` order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The entries to apply, in `seq` order.
    pub entries: Vec<SyncEntry>,
}

/// One outbox entry as it travels to the instance: what the instance needs to apply it, not
/// the device's bookkeeping (attempts, state, backoff, last error). The user is the
/// session's. The instance ignores fields it does not know, so an older device that still
/// sends `user`, `attempts`, `state` or `next_attempt_at` keeps syncing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncEntry {
    /// The entry's UUID: the idempotency key the instance remembers.
    pub id: String,
    /// The order in which the change was made on the device.
    pub seq: u64,
    /// The action's name.
    pub action: String,
    /// The record's table.
    pub table: String,
    /// The record's `sys_id`.
    pub sys_id: String,
    /// The action's inputs; files carry their bytes.
    #[serde(default)]
    pub inputs: Map<String, Value>,
    /// What the device saw of the record, for the conflict check.
    pub base: Base,
    /// When the change was made: the instance runs the action at that time.
    pub queued_at: Timestamp,
}

/// Moves, not copies: a prepared entry carries its files' bytes.
impl From<Entry> for SyncEntry {
    fn from(entry: Entry) -> Self {
        Self {
            id: entry.id,
            seq: entry.seq,
            action: entry.action,
            table: entry.table,
            sys_id: entry.sys_id,
            inputs: entry.inputs,
            base: entry.base,
            queued_at: entry.queued_at,
        }
    }
}

/// The instance's answer: one result per entry, in the order of the request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// One result per entry sent.
    pub results: Vec<SyncResult>,
}

/// What the instance did with one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncStatus {
    /// Applied (now or by an earlier request with the same id).
    Applied,
    /// Not applied: the record was deleted, or a field the entry writes changed (SPEC 5).
    Conflict,
    /// Not applied: the action refused it (a validate step failed, a bad input, no access).
    Rejected,
    /// Not applied, nothing stored: an earlier entry of the same record in the same batch did
    /// not apply, so this one was skipped to keep the record's changes in order. An offgrid
    /// extension of the contract.
    Blocked,
}

/// Why an entry did not apply.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultError {
    /// A machine-readable reason: `deleted`, `field_changed`, `validation_failed`, ...
    pub code: String,
    /// What happened, for the user.
    pub message: String,
    /// The instance's current record, when there is one to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    /// The field that changed, for `field_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// More for a form, such as `{"inputs": {name: message}}` for `invalid_inputs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

/// The instance's answer for one entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncResult {
    /// The entry's id.
    pub id: String,
    /// What happened to it.
    pub status: SyncStatus,
    /// The instance's record after the change (applied) or as it is now (not applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    /// Why it did not apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ResultError>,
}

/// The device's storage failed; the outbox is as it was before the failed write.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// Reading or writing the outbox or the record cache failed.
    #[error("the device's outbox storage failed: {0}; your changes are kept, sync again later")]
    Storage(String),
}

/// Why a batch got no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer at all (offline, timeout, connection reset). The entries are retried.
    #[error("the instance could not be reached ({0}); your changes are kept and sent again later")]
    Network(String),
    /// The instance failed (5xx). The entries are retried.
    #[error("the instance failed (HTTP {status}: {message}); your changes are kept and sent again later")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The instance's message.
        message: String,
    },
    /// The instance refused the whole batch (4xx), for example an expired session (401).
    /// Retrying cannot help until the user acts; the entries stay pending.
    #[error("the instance refused the sync (HTTP {status}: {message}); your changes are kept")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The instance's message, saying what to do (log in again, ...).
        message: String,
    },
}

// The browser's futures (IndexedDB, fetch) are not `Send` and the service worker runs on one
// thread, so the traits deliberately promise no `Send` futures.
/// The device's persistent outbox and record cache.
#[allow(async_fn_in_trait)]
pub trait OutboxStore {
    /// The current outbox.
    async fn load(&mut self) -> Result<Outbox, SyncError>;
    /// Persists entries that changed and removes entries that left, atomically (one
    /// transaction): either all of it is stored or none.
    async fn save(&mut self, changed: &[Entry], removed: &[String]) -> Result<(), SyncError>;
    /// Stores the instance's version of a record in the local cache.
    async fn apply_result_record(&mut self, table: &str, record: &Record) -> Result<(), SyncError>;
    /// Hears how the run stands after each batch (counts so far), to report progress.
    /// Nothing by default.
    async fn progress(&mut self, report: &SyncReport) {
        let _ = report;
    }
    /// Completes a batch just before it is sent: the device adds the files' bytes it keeps
    /// apart, so only one batch's payload is in memory at a time. Nothing to add by default.
    async fn prepare_batch(&mut self, entries: &mut [Entry]) -> Result<(), SyncError> {
        let _ = entries;
        Ok(())
    }
}

/// Sends a batch to `POST /api/offgrid/sync` with the entries' user's session.
#[allow(async_fn_in_trait)]
pub trait SyncTransport {
    /// Sends the batch and returns the instance's answer.
    async fn send(&mut self, request: &SyncRequest) -> Result<SyncResponse, TransportError>;
}

/// Entries per request unless told otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 200;

/// How to run a sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncOptions {
    /// Entries per request (at least 1 is sent).
    pub batch_size: usize,
    /// The current time, for backoff.
    pub now: Timestamp,
}

impl SyncOptions {
    /// Options with [`DEFAULT_BATCH_SIZE`].
    pub fn new(now: Timestamp) -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
            now,
        }
    }
}

/// What a sync run did and what is left; the answer of the worker's `POST /offgrid/sync`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Entries applied in this run.
    pub applied: usize,
    /// Entries in the outbox that failed (conflict or rejection) and wait for the user.
    pub failed: usize,
    /// Entries in the outbox waiting behind a failed one.
    pub blocked: usize,
    /// Entries in the outbox still to be sent (backing off, or not reached).
    pub remaining: usize,
    /// Requests sent.
    pub batches: usize,
    /// Why the run stopped before the outbox had nothing left to send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// The error code of an entry that is too large for the instance even on its own (`413`).
pub const TOO_LARGE_CODE: &str = "too_large";

/// Replays the outbox: sends due entries in `seq` order, `batch_size` at a time, and records
/// each answer, until nothing is left to send or the instance cannot be reached.
///
/// The run works on the outbox as loaded at its start and saves only the entries it changes,
/// so entries the app adds meanwhile are kept and go with the next run. The caller runs one
/// sync at a time per outbox (the lease [`Outbox::begin_sync`] assumes).
///
/// A storage failure ends the run with an error; the entries it had marked syncing are sent
/// again, with the same ids, by the next run.
pub async fn sync_all<S: OutboxStore, T: SyncTransport>(
    store: &mut S,
    transport: &mut T,
    options: &SyncOptions,
) -> Result<SyncReport, SyncError> {
    let now = options.now;
    // A batch of zero would never send anything and never finish the outbox.
    let mut batch_size = options.batch_size.max(1);
    let mut outbox = store.load().await?;
    let mut report = SyncReport::default();
    loop {
        let sent = outbox.begin_sync(now, batch_size);
        if sent.is_empty() {
            break;
        }
        // Persisted before sending: a worker killed mid-request finds these entries syncing.
        store.save(&sent, &[]).await?;
        let before = outbox.clone();
        let mut entries = sent;
        store.prepare_batch(&mut entries).await?;
        let request = SyncRequest {
            entries: entries.into_iter().map(SyncEntry::from).collect(),
        };
        report.batches += 1;
        let outcome = match transport.send(&request).await {
            Ok(response) => settle(&mut outbox, &request.entries, &response, now),
            Err(fault @ (TransportError::Network(_) | TransportError::Server { .. })) => {
                let why = fault.to_string();
                for e in &request.entries {
                    moved_on(outbox.retry_later(&e.id, now, &why));
                }
                Outcome::stopped(why)
            }
            Err(TransportError::Refused { status: 413, .. }) if request.entries.len() > 1 => {
                // Too large for the instance in one request (attachments travel inside their
                // entries): halve the batch and go on, or the same batch is refused forever.
                for e in &request.entries {
                    moved_on(outbox.release(&e.id));
                }
                batch_size = (request.entries.len() / 2).max(1);
                Outcome::default()
            }
            Err(TransportError::Refused {
                status: 413,
                message,
            }) => {
                // One change alone is larger than the instance accepts: it cannot go as it is.
                // It fails where the user sees it (resolve with a smaller file, or delete it)
                // instead of stopping every run behind it.
                for e in &request.entries {
                    let error = EntryError {
                        code: TOO_LARGE_CODE.to_string(),
                        message: format!(
                            "This change is larger than the instance accepts in one request \
                             ({message}). Resolve it with a smaller file, or delete it."
                        ),
                        record: None,
                    };
                    moved_on(outbox.failed(&e.id, error));
                }
                Outcome::default()
            }
            Err(fault @ TransportError::Refused { .. }) => {
                for e in &request.entries {
                    moved_on(outbox.release(&e.id));
                }
                Outcome::stopped(fault.to_string())
            }
        };
        // The cache first: if saving the outbox then fails, the entries are sent again and
        // the instance's repeated answer writes the same records again.
        for ((table, _), record) in &outcome.records {
            store.apply_result_record(table, record).await?;
        }
        let (changed, removed) = changes(&before, &outbox);
        store.save(&changed, &removed).await?;
        report.applied += outcome.applied;
        report.stopped = outcome.stopped;
        count(&mut report, &outbox);
        store.progress(&report).await;
        if report.stopped.is_some() {
            break;
        }
    }
    count(&mut report, &outbox);
    Ok(report)
}

/// Puts the outbox's current counts into the report.
fn count(report: &mut SyncReport, outbox: &Outbox) {
    let counts = outbox.counts();
    report.failed = counts.failed;
    report.blocked = counts.blocked;
    report.remaining = counts.pending;
}

/// What one batch's answer did.
#[derive(Default)]
struct Outcome {
    applied: usize,
    /// The instance's records to store in the cache, by `(table, sys_id)`.
    records: BTreeMap<(String, String), Record>,
    stopped: Option<String>,
}

impl Outcome {
    fn stopped(why: String) -> Self {
        Self {
            stopped: Some(why),
            ..Self::default()
        }
    }
}

/// Ignores a transition the outbox refused. The only entries a batch touches are the ones it
/// marked syncing; one that is no longer syncing was blocked by an earlier entry of its record
/// failing in the same batch, and stays blocked whatever the answer says about it: once the
/// failure is resolved it is sent again, and the instance's answer for its id still holds.
fn moved_on<T>(result: Result<T, OutboxError>) -> Option<T> {
    result.ok()
}

/// Records the instance's answers to a batch, in the order the entries were sent.
fn settle(
    outbox: &mut Outbox,
    sent: &[SyncEntry],
    response: &SyncResponse,
    now: Timestamp,
) -> Outcome {
    let mut results: BTreeMap<&str, &SyncResult> = BTreeMap::new();
    for r in &response.results {
        // A result for an id sent twice in one answer: the first one counts, as on the
        // instance. Results for ids not sent are ignored.
        results.entry(r.id.as_str()).or_insert(r);
    }
    let mut outcome = Outcome::default();
    let mut answered = 0;
    for e in sent {
        let Some(result) = results.get(e.id.as_str()) else {
            // Never assume an unanswered entry applied: resend it; the instance's idempotency
            // makes that safe whichever way it went.
            let why = "the instance's answer did not include this change; it is sent again later";
            moved_on(outbox.retry_later(&e.id, now, why));
            continue;
        };
        answered += 1;
        match result.status {
            SyncStatus::Applied => {
                if moved_on(outbox.applied(&e.id)).is_some() {
                    outcome.applied += 1;
                    if let Some(record) = &result.record {
                        let key = (e.table.clone(), e.sys_id.clone());
                        outcome.records.insert(key, record.clone());
                    }
                }
            }
            SyncStatus::Conflict | SyncStatus::Rejected => {
                let error = entry_error(result);
                moved_on(outbox.failed(&e.id, error));
            }
            SyncStatus::Blocked => {
                moved_on(outbox.blocked_by_earlier(&e.id));
            }
        }
    }
    // While changes to a record still wait, the cache keeps the device's version, which shows
    // their local effects; the instance's version would hide them until they sync.
    let marked = outbox.marked();
    outcome.records.retain(|key, _| !marked.contains(key));
    if answered == 0 {
        outcome.stopped = Some(format!(
            "the instance answered none of the {} changes sent; they are kept and sent again later",
            sent.len()
        ));
    }
    outcome
}

fn entry_error(result: &SyncResult) -> EntryError {
    let (code, message) = match (&result.error, result.status) {
        (Some(e), _) => (e.code.clone(), e.message.clone()),
        (None, SyncStatus::Conflict) => (
            "conflict".to_string(),
            "The record changed on the instance; review your change".to_string(),
        ),
        (None, _) => (
            "rejected".to_string(),
            "The instance refused this change".to_string(),
        ),
    };
    EntryError {
        code,
        message,
        record: result.record.clone(),
    }
}

/// The entries of `after` that differ from `before`, and the ids that left.
fn changes(before: &Outbox, after: &Outbox) -> (Vec<Entry>, Vec<String>) {
    let old: BTreeMap<&str, &Entry> = before
        .entries()
        .iter()
        .map(|e| (e.id.as_str(), e))
        .collect();
    let changed = after
        .entries()
        .iter()
        .filter(|e| old.get(e.id.as_str()) != Some(e))
        .cloned()
        .collect();
    let kept: BTreeSet<&str> = after.entries().iter().map(|e| e.id.as_str()).collect();
    let removed = before
        .entries()
        .iter()
        .filter(|e| !kept.contains(e.id.as_str()))
        .map(|e| e.id.clone())
        .collect();
    (changed, removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{ActionSet, NoHooks};
    use crate::outbox::{EntryState, NewEntry, NETWORK_ERROR_CODE};
    use crate::query::QueryContext;
    use crate::record::hex;
    use crate::store::Store;
    use futures::executor::block_on;
    use futures::FutureExt;
    use memory::Books;
    use serde_json::{json, Map, Value};
    use std::collections::VecDeque;

    const T0: i64 = 1_790_000_000;
    const TABLE: &str = "wm_task";

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(T0 + secs)
    }

    /// The instance's copy of a task: `state` at `mod_count`.
    fn task(sys_id: &str, state: &str, mod_count: i64) -> Record {
        Record::from_value(json!({"sys_id": sys_id, "state": state, "sys_mod_count": mod_count}))
            .unwrap_or_default()
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    /// A fake instance that runs the core's per-entry rule, the one the real instance runs,
    /// over memory: an entry it does not commit is rolled back, as the real one's transaction
    /// is. The session is beth.anglin's.
    struct Instance {
        books: Books,
        actions: ActionSet,
        /// How many times each entry id changed a record.
        applications: BTreeMap<String, u32>,
    }

    impl Instance {
        fn with(records: &[Record]) -> Self {
            let actions = ActionSet::from_json(&json!([{
                "name": "set_state", "table": TABLE, "offline": true,
                "inputs": [{"name": "state", "label": "State", "type": "string", "required": true}],
                "steps": [{"mode": "both", "op": "update", "set": {"state": "${input.state}"}}]
            }]))
            .unwrap();
            let mut instance = Self {
                books: Books::default(),
                actions,
                applications: BTreeMap::new(),
            };
            for record in records {
                instance.put(record.clone());
            }
            instance
        }

        fn put(&mut self, record: Record) {
            self.books.records.put(TABLE, record).unwrap();
        }

        fn records(&self) -> &BTreeMap<String, Record> {
            &self.books.records.tables[TABLE]
        }

        fn handle(&mut self, request: &SyncRequest) -> SyncResponse {
            let user = QueryContext {
                user_name: "beth.anglin".to_string(),
                user_sys_id: "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0".to_string(),
            };
            let mut lanes = Lanes::new();
            let mut results = Vec::new();
            for e in &request.entries {
                let before = self.books.clone();
                // The instance takes only UUIDs as entry ids; these tests name entries "a", "b".
                let wire = SyncEntry {
                    id: format!("00000000-0000-4000-8000-{:0>12}", hex(e.id.as_bytes())),
                    ..e.clone()
                };
                let mut applied = lanes
                    .apply(
                        &wire,
                        &self.actions,
                        &mut self.books,
                        &mut NoHooks,
                        &user,
                        &["technician"],
                    )
                    .unwrap();
                applied.result.id = e.id.clone();
                if applied.commit {
                    *self.applications.entry(e.id.clone()).or_default() += 1;
                } else {
                    self.books = before;
                }
                results.push(applied.result);
            }
            SyncResponse { results }
        }
    }

    /// What goes wrong with one request.
    enum Fault {
        /// The instance applies the batch, the answer is lost on the way back.
        LoseResponse,
        /// The instance fails without applying anything (503).
        ServerError,
        /// The session expired (401).
        Refuse,
        /// The instance applies the batch but leaves this id out of its answer, and adds a
        /// result for an id nobody sent.
        DropResult(&'static str),
        /// The instance answers nothing about the batch.
        AnswerNothing,
        /// The instance applies the batch; the worker dies before the answer arrives.
        Hang,
    }

    /// The network between device and instance, following a script of faults (none once the
    /// script runs out).
    struct Link {
        instance: Instance,
        faults: VecDeque<Fault>,
        /// The ids of every request sent.
        sent: Vec<Vec<String>>,
        /// The instance's body limit, in units: an entry is 1, or 100 with a `photo` input.
        body_limit: Option<usize>,
    }

    impl Link {
        fn new(instance: Instance, faults: Vec<Fault>) -> Self {
            Self {
                instance,
                faults: faults.into(),
                sent: Vec::new(),
                body_limit: None,
            }
        }

        fn too_large(&self, request: &SyncRequest) -> bool {
            let size = |e: &SyncEntry| {
                if e.inputs.contains_key("photo") {
                    100
                } else {
                    1
                }
            };
            self.body_limit
                .is_some_and(|limit| request.entries.iter().map(size).sum::<usize>() > limit)
        }
    }

    impl SyncTransport for Link {
        async fn send(&mut self, request: &SyncRequest) -> Result<SyncResponse, TransportError> {
            self.sent
                .push(request.entries.iter().map(|e| e.id.clone()).collect());
            if self.too_large(request) {
                return Err(TransportError::Refused {
                    status: 413,
                    message: "the request body is too large".to_string(),
                });
            }
            match self.faults.pop_front() {
                None => Ok(self.instance.handle(request)),
                Some(Fault::LoseResponse) => {
                    self.instance.handle(request);
                    Err(TransportError::Network("connection reset".to_string()))
                }
                Some(Fault::ServerError) => Err(TransportError::Server {
                    status: 503,
                    message: "database unavailable".to_string(),
                }),
                Some(Fault::Refuse) => Err(TransportError::Refused {
                    status: 401,
                    message: "your session expired; log in again".to_string(),
                }),
                Some(Fault::DropResult(id)) => {
                    let mut response = self.instance.handle(request);
                    response.results.retain(|r| r.id != id);
                    response.results.push(SyncResult {
                        id: "stranger".to_string(),
                        status: SyncStatus::Applied,
                        record: None,
                        error: None,
                    });
                    Ok(response)
                }
                Some(Fault::AnswerNothing) => Ok(SyncResponse {
                    results: Vec::new(),
                }),
                Some(Fault::Hang) => {
                    self.instance.handle(request);
                    std::future::pending().await
                }
            }
        }
    }

    /// The device: its persisted outbox and record cache.
    #[derive(Default)]
    struct Device {
        entries: BTreeMap<String, Entry>,
        cache: BTreeMap<(String, String), Record>,
        broken: bool,
        /// The ids of every batch prepared for sending.
        prepared: Vec<Vec<String>>,
        /// `(applied, remaining)` heard after each batch.
        progress: Vec<(usize, usize)>,
    }

    impl Device {
        /// A device whose outbox holds `(id, sys_id, seen state, seen mod_count, new state)`
        /// changes, in that order.
        fn with(changes: &[(&str, &str, &str, i64, &str)]) -> Self {
            let mut outbox = Outbox::new();
            for (id, sys_id, seen, mod_count, wanted) in changes {
                outbox.enqueue(NewEntry {
                    id: id.to_string(),
                    user: "beth.anglin".to_string(),
                    action: "set_state".to_string(),
                    table: TABLE.to_string(),
                    sys_id: sys_id.to_string(),
                    inputs: object(json!({ "state": wanted })),
                    base: Base {
                        mod_count: *mod_count,
                        fields: object(json!({ "state": seen })),
                    },
                    queued_at: at(0),
                });
            }
            Self {
                entries: outbox
                    .entries()
                    .iter()
                    .map(|e| (e.id.clone(), e.clone()))
                    .collect(),
                ..Self::default()
            }
        }

        fn entry(&self, id: &str) -> &Entry {
            &self.entries[id]
        }

        fn state(&self, id: &str) -> EntryState {
            self.entry(id).state
        }
    }

    impl OutboxStore for Device {
        async fn progress(&mut self, report: &SyncReport) {
            self.progress.push((report.applied, report.remaining));
        }

        async fn prepare_batch(&mut self, entries: &mut [Entry]) -> Result<(), SyncError> {
            self.prepared
                .push(entries.iter().map(|e| e.id.clone()).collect());
            Ok(())
        }

        async fn load(&mut self) -> Result<Outbox, SyncError> {
            Ok(Outbox::from_entries(
                self.entries.values().cloned().collect(),
            ))
        }

        async fn save(&mut self, changed: &[Entry], removed: &[String]) -> Result<(), SyncError> {
            if self.broken {
                return Err(SyncError::Storage("quota exceeded".to_string()));
            }
            for e in changed {
                self.entries.insert(e.id.clone(), e.clone());
            }
            for id in removed {
                self.entries.remove(id);
            }
            Ok(())
        }

        async fn apply_result_record(
            &mut self,
            table: &str,
            record: &Record,
        ) -> Result<(), SyncError> {
            let key = (
                table.to_string(),
                record.sys_id().unwrap_or_default().to_string(),
            );
            self.cache.insert(key, record.clone());
            Ok(())
        }
    }

    fn run(device: &mut Device, link: &mut Link, now: Timestamp, batch_size: usize) -> SyncReport {
        let options = SyncOptions { batch_size, now };
        block_on(sync_all(device, link, &options)).unwrap()
    }

    /// Three tasks on the instance, as the device saw them.
    fn instance() -> Instance {
        Instance::with(&[
            task("r1", "assigned", 3),
            task("r2", "assigned", 3),
            task("r3", "assigned", 3),
        ])
    }

    /// a, b: two changes to r1, one after the other; c: r2; d: r3.
    fn device() -> Device {
        Device::with(&[
            ("a", "r1", "assigned", 3, "accepted"),
            ("b", "r1", "accepted", 4, "work_in_progress"),
            ("c", "r2", "assigned", 3, "accepted"),
            ("d", "r3", "assigned", 3, "accepted"),
        ])
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn applied_once(instance: &Instance, expected: &[&str]) {
        let once: BTreeMap<String, u32> = expected.iter().map(|id| (id.to_string(), 1)).collect();
        assert_eq!(instance.applications, once);
    }

    #[test]
    fn syncs_every_entry_in_seq_order_across_batches() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![]));
        let report = run(&mut device, &mut link, at(0), 3);
        assert_eq!(link.sent, [ids(&["a", "b", "c"]), ids(&["d"])]);
        assert_eq!(
            report,
            SyncReport {
                applied: 4,
                batches: 2,
                ..SyncReport::default()
            }
        );
        assert!(device.entries.is_empty());
        applied_once(&link.instance, &["a", "b", "c", "d"]);
        assert_eq!(
            link.instance.records()["r1"].text("state").unwrap(),
            "work_in_progress"
        );
    }

    #[test]
    fn a_conflict_fails_the_entry_and_blocks_later_entries_of_its_record_while_others_apply() {
        // With one batch the instance skips b; with batches of one the device never sends it.
        for batch_size in [10, 1] {
            let mut instance = instance();
            let theirs = task("r1", "closed_complete", 5);
            instance.put(theirs.clone());
            let (mut device, mut link) = (device(), Link::new(instance, vec![]));
            let report = run(&mut device, &mut link, at(0), batch_size);
            assert_eq!(
                (
                    report.applied,
                    report.failed,
                    report.blocked,
                    report.remaining
                ),
                (2, 1, 1, 0),
                "batch size {batch_size}"
            );
            let error = device.entry("a").error.clone().unwrap();
            assert_eq!(error.code, "field_changed");
            assert_eq!(error.record, Some(theirs));
            assert_eq!(device.state("a"), EntryState::Failed);
            assert_eq!(device.state("b"), EntryState::Blocked);
            applied_once(&link.instance, &["c", "d"]);
            assert!(link.sent.iter().flatten().filter(|id| *id == "b").count() <= 1);
        }
    }

    #[test]
    fn a_lost_response_is_sent_again_with_the_same_ids_and_applied_only_once() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![Fault::LoseResponse]));
        let first = run(&mut device, &mut link, at(0), 10);
        assert_eq!((first.applied, first.remaining), (0, 4));
        assert!(first.stopped.unwrap().contains("connection reset"));
        for e in device.entries.values() {
            assert_eq!(e.state, EntryState::Pending);
            assert_eq!(e.error.as_ref().unwrap().code, NETWORK_ERROR_CODE);
        }
        let second = run(&mut device, &mut link, at(5), 10);
        assert_eq!(link.sent[1], link.sent[0]);
        assert_eq!((second.applied, second.remaining), (4, 0));
        applied_once(&link.instance, &["a", "b", "c", "d"]);
    }

    #[test]
    fn a_run_killed_mid_request_leaves_its_entries_syncing_and_the_next_run_resends_them() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![Fault::Hang]));
        let options = SyncOptions::new(at(0));
        // The worker dies while waiting for the answer: the run is dropped mid-flight.
        assert!(sync_all(&mut device, &mut link, &options)
            .now_or_never()
            .is_none());
        assert!(device
            .entries
            .values()
            .all(|e| e.state == EntryState::Syncing));
        let report = run(&mut device, &mut link, at(1), 10);
        assert_eq!(link.sent[1], link.sent[0]);
        assert_eq!((report.applied, report.remaining), (4, 0));
        applied_once(&link.instance, &["a", "b", "c", "d"]);
    }

    #[test]
    fn a_server_error_backs_off_and_nothing_is_sent_before_it_is_due() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![Fault::ServerError]));
        let first = run(&mut device, &mut link, at(0), 10);
        assert!(first.stopped.unwrap().contains("HTTP 503"));
        assert!(device
            .entries
            .values()
            .all(|e| e.state == EntryState::Pending && e.next_attempt_at == Some(at(5))));
        let early = run(&mut device, &mut link, at(4), 10);
        assert_eq!((early.batches, early.remaining), (0, 4));
        assert_eq!(link.sent.len(), 1);
        let due = run(&mut device, &mut link, at(5), 10);
        assert_eq!((due.applied, due.remaining), (4, 0));
        applied_once(&link.instance, &["a", "b", "c", "d"]);
    }

    #[test]
    fn an_entry_missing_from_the_answer_is_not_taken_as_applied() {
        let (mut device, mut link) = (
            device(),
            Link::new(instance(), vec![Fault::DropResult("c")]),
        );
        let first = run(&mut device, &mut link, at(0), 10);
        assert_eq!(
            (first.applied, first.remaining, first.stopped),
            (3, 1, None)
        );
        let c = device.entry("c");
        assert_eq!(
            (c.state, c.next_attempt_at),
            (EntryState::Pending, Some(at(5)))
        );
        assert!(!device
            .cache
            .contains_key(&(TABLE.to_string(), "r2".to_string())));
        let second = run(&mut device, &mut link, at(5), 10);
        assert_eq!(link.sent[1], ids(&["c"]));
        assert_eq!((second.applied, second.remaining), (1, 0));
        applied_once(&link.instance, &["a", "b", "c", "d"]);
    }

    #[test]
    fn progress_is_heard_after_every_batch() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![]));
        run(&mut device, &mut link, at(0), 2);
        assert_eq!(device.progress, [(2, 2), (4, 0)]);
    }

    #[test]
    fn only_the_batch_about_to_be_sent_is_prepared() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![]));
        run(&mut device, &mut link, at(0), 3);
        assert_eq!(device.prepared, link.sent);
        assert_eq!(device.prepared, [ids(&["a", "b", "c"]), ids(&["d"])]);
    }

    #[test]
    fn a_batch_too_large_for_the_instance_is_halved_until_it_fits() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![]));
        link.body_limit = Some(2);
        let report = run(&mut device, &mut link, at(0), 10);
        assert_eq!(
            link.sent,
            [
                ids(&["a", "b", "c", "d"]),
                ids(&["a", "b"]),
                ids(&["c", "d"])
            ]
        );
        assert_eq!(
            (report.applied, report.remaining, report.stopped),
            (4, 0, None)
        );
        applied_once(&link.instance, &["a", "b", "c", "d"]);
    }

    #[test]
    fn a_change_too_large_on_its_own_fails_visibly_and_the_rest_still_sync() {
        let mut device = device();
        if let Some(c) = device.entries.get_mut("c") {
            c.inputs.insert("photo".to_string(), json!({"hash": "ab"}));
        }
        let mut link = Link::new(instance(), vec![]);
        link.body_limit = Some(50);
        let report = run(&mut device, &mut link, at(0), 10);
        assert_eq!((report.applied, report.failed, report.remaining), (3, 1, 0));
        assert_eq!(device.state("c"), EntryState::Failed);
        let error = device.entry("c").error.clone().unwrap();
        assert_eq!(error.code, TOO_LARGE_CODE);
        assert!(error.message.contains("smaller file"), "{}", error.message);
        applied_once(&link.instance, &["a", "b", "d"]);
    }

    #[test]
    fn a_refused_batch_stops_the_run_and_keeps_its_entries_pending_without_backoff() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![Fault::Refuse]));
        let first = run(&mut device, &mut link, at(0), 2);
        assert_eq!((first.batches, first.remaining), (1, 4));
        assert!(first.stopped.unwrap().contains("log in again"));
        for e in device.entries.values() {
            assert_eq!(
                (e.state, e.attempts, e.next_attempt_at),
                (EntryState::Pending, 0, None)
            );
        }
        assert!(link.instance.applications.is_empty());
        let again = run(&mut device, &mut link, at(0), 2);
        assert_eq!((again.applied, again.remaining), (4, 0));
    }

    #[test]
    fn an_answer_about_none_of_the_entries_stops_the_run() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![Fault::AnswerNothing]));
        let report = run(&mut device, &mut link, at(0), 2);
        assert_eq!(link.sent, [ids(&["a", "b"])]);
        assert_eq!((report.applied, report.remaining), (0, 4));
        assert!(report
            .stopped
            .unwrap()
            .contains("answered none of the 2 changes"));
        assert_eq!(device.entry("a").next_attempt_at, Some(at(5)));
    }

    #[test]
    fn applied_records_replace_the_local_copy_once_nothing_waits_for_them() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![]));
        run(&mut device, &mut link, at(0), 10);
        for sys_id in ["r1", "r2", "r3"] {
            let key = (TABLE.to_string(), sys_id.to_string());
            assert_eq!(
                device.cache.get(&key),
                link.instance.records().get(sys_id),
                "{sys_id}"
            );
        }
    }

    #[test]
    fn the_local_copy_stays_while_a_later_change_to_the_record_waits() {
        let (mut device, mut link) = (
            device(),
            Link::new(instance(), vec![Fault::DropResult("b")]),
        );
        let report = run(&mut device, &mut link, at(0), 10);
        assert_eq!(report.remaining, 1);
        assert!(!device
            .cache
            .contains_key(&(TABLE.to_string(), "r1".to_string())));
        assert!(device
            .cache
            .contains_key(&(TABLE.to_string(), "r2".to_string())));
    }

    #[test]
    fn a_storage_failure_before_sending_sends_nothing() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![]));
        device.broken = true;
        let error =
            block_on(sync_all(&mut device, &mut link, &SyncOptions::new(at(0)))).unwrap_err();
        assert!(error.to_string().contains("quota exceeded"), "{error}");
        assert!(link.sent.is_empty());
        assert!(device
            .entries
            .values()
            .all(|e| e.state == EntryState::Pending));
    }

    #[test]
    fn a_batch_size_of_zero_still_syncs() {
        let (mut device, mut link) = (device(), Link::new(instance(), vec![]));
        let report = run(&mut device, &mut link, at(0), 0);
        assert_eq!((report.applied, report.batches), (4, 4));
    }

    #[test]
    fn the_wire_format_follows_the_spec() {
        let response: SyncResponse = serde_json::from_value(json!({"results": [
            {"id": "a", "status": "applied", "record": {"sys_id": "r1"}},
            {"id": "b", "status": "conflict", "error": {"code": "deleted", "message": "gone"}},
            {"id": "c", "status": "rejected", "error": {"code": "validation", "message": "closed"}},
            {"id": "d", "status": "blocked"}
        ]}))
        .unwrap();
        let statuses: Vec<SyncStatus> = response.results.iter().map(|r| r.status).collect();
        use SyncStatus::*;
        assert_eq!(statuses, [Applied, Conflict, Rejected, Blocked]);
        assert_eq!(
            serde_json::to_value(&response.results[3]).unwrap(),
            json!({"id": "d", "status": "blocked"})
        );
        let device = device();
        let request = SyncRequest {
            entries: device
                .entries
                .values()
                .cloned()
                .map(SyncEntry::from)
                .collect(),
        };
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(value["entries"][0]["id"], "a");
        assert_eq!(
            serde_json::from_value::<SyncRequest>(value).unwrap(),
            request
        );
    }

    #[test]
    fn a_sync_entry_carries_no_device_bookkeeping_and_reads_a_whole_outbox_entry() {
        let mut entry = device().entry("a").clone();
        entry.attempts = 2;
        entry.next_attempt_at = Some(at(5));
        let sent = serde_json::to_value(SyncEntry::from(entry.clone())).unwrap();
        let fields: BTreeSet<&str> = sent
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            fields,
            BTreeSet::from([
                "id",
                "seq",
                "action",
                "table",
                "sys_id",
                "inputs",
                "base",
                "queued_at"
            ])
        );
        // What an older device sends: the whole entry, with its user and bookkeeping.
        let old = serde_json::to_value(&entry).unwrap();
        assert_eq!(old["user"], "beth.anglin");
        assert_eq!(
            serde_json::from_value::<SyncEntry>(old).unwrap(),
            SyncEntry::from(entry)
        );
    }

    #[test]
    fn the_report_has_the_worker_endpoint_fields() {
        let report = SyncReport {
            applied: 2,
            failed: 1,
            blocked: 1,
            remaining: 3,
            batches: 1,
            stopped: None,
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({"applied": 2, "failed": 1, "blocked": 1, "remaining": 3, "batches": 1})
        );
    }
}
