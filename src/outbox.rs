//! The outbox: every change made offline, waiting to be replayed on the instance, and the state
//! machine each entry goes through (SPEC 5).
//!
//! ```text
//! pending ──begin_sync──▶ syncing ──applied──▶ (removed)
//!    ▲  │                  │  │
//!    │  │                  │  └──failed──▶ failed ──resolve──▶ pending
//!    │  │                  │                 └──remove──▶ (removed)
//!    │  │                  ├──retry_later──▶ pending (backs off)
//!    │  │                  └──blocked_by_earlier──▶ blocked
//!    │  └──(an earlier entry of the record failed)──▶ blocked
//!    └──(that earlier entry was resolved or removed)──┘
//! ```
//!
//! Changes to one record are replayed in the order they were made; entries for other records
//! are independent, so one failed record never holds up the rest.

use crate::record::{Record, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// Where an outbox entry is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryState {
    /// Waiting to be sent (possibly backing off after a network fault).
    Pending,
    /// Sent in the current sync run, no answer yet.
    Syncing,
    /// The instance refused it (conflict or rejection); waits for the user to resolve or
    /// delete it.
    Failed,
    /// An earlier entry for the same record failed; waits for that one to be resolved or
    /// deleted.
    Blocked,
}

impl fmt::Display for EntryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::Syncing => "syncing",
            Self::Failed => "failed",
            Self::Blocked => "blocked",
        })
    }
}

/// What the device saw of a record when the change was made: its `sys_mod_count` and the
/// values of the fields the change writes. Conflict checks compare it with the instance's
/// current record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Base {
    /// The record's `sys_mod_count`.
    pub mod_count: i64,
    /// Field name to value as seen; a field the record did not have is null.
    pub fields: Map<String, Value>,
}

impl Base {
    /// Captures `fields` of `record` (missing ones as null) and its `sys_mod_count`.
    pub fn capture(record: &Record, fields: &[String]) -> Base {
        Base {
            mod_count: record.mod_count(),
            fields: fields
                .iter()
                .map(|f| (f.clone(), record.get(f).cloned().unwrap_or(Value::Null)))
                .collect(),
        }
    }
}

/// Why an entry failed (or, for a pending entry backing off, why it waits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EntryError {
    /// A machine-readable reason: `deleted`, `field_changed`, `validation`, `network`, ...
    pub code: String,
    /// What happened, for the user.
    pub message: String,
    /// The instance's current record, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
}

/// The error code stored on a pending entry that waits after a network or server fault.
pub const NETWORK_ERROR_CODE: &str = "network";

/// One change waiting in the outbox: an action invocation made offline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// A UUID made on the device: the idempotency key the instance remembers.
    pub id: String,
    /// The order in which the change was made.
    pub seq: u64,
    /// Whose change it is; only ever sent with this user's session.
    pub user: String,
    /// The action's name.
    pub action: String,
    /// The record's table.
    pub table: String,
    /// The record's `sys_id`.
    pub sys_id: String,
    /// The action's inputs.
    pub inputs: Map<String, Value>,
    /// What the device saw of the record.
    pub base: Base,
    /// When the change was made.
    pub queued_at: Timestamp,
    /// How many times it was sent.
    pub attempts: u32,
    /// Where it is in its life.
    pub state: EntryState,
    /// Why it failed, or why it waits after a network fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EntryError>,
    /// When a pending entry backing off may be sent again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<Timestamp>,
}

impl Entry {
    fn is_for(&self, table: &str, sys_id: &str) -> bool {
        self.table == table && self.sys_id == sys_id
    }

    /// Whether a sync run at `now` would send it: pending with its backoff over, or left
    /// `syncing` by a run that died (a run starts only under the sync lease, so no other run
    /// is sending it).
    fn ready(&self, now: Timestamp) -> bool {
        match self.state {
            EntryState::Pending => self.next_attempt_at.is_none_or(|t| t <= now),
            EntryState::Syncing => true,
            EntryState::Failed | EntryState::Blocked => false,
        }
    }
}

/// A change to put in the outbox; the outbox assigns `seq`, `state` and `attempts`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    /// A fresh UUID ([`crate::record::new_uuid`]).
    pub id: String,
    /// Whose change it is.
    pub user: String,
    /// The action's name.
    pub action: String,
    /// The record's table.
    pub table: String,
    /// The record's `sys_id`.
    pub sys_id: String,
    /// The action's inputs.
    pub inputs: Map<String, Value>,
    /// What the device saw of the record.
    pub base: Base,
    /// When the change was made.
    pub queued_at: Timestamp,
}

/// How many entries wait, by kind (the `outbox` part of the status).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Entries still to be sent, including those being sent now.
    pub pending: usize,
    /// Entries the instance refused.
    pub failed: usize,
    /// Entries waiting behind a failed one.
    pub blocked: usize,
}

impl Counts {
    /// How many of `entries` wait, by kind.
    pub fn of(entries: &[Entry]) -> Counts {
        entries.iter().fold(Counts::default(), |mut c, e| {
            c.count(e);
            c
        })
    }

    /// Counts one more entry.
    pub fn count(&mut self, entry: &Entry) {
        match entry.state {
            EntryState::Pending | EntryState::Syncing => self.pending += 1,
            EntryState::Failed => self.failed += 1,
            EntryState::Blocked => self.blocked += 1,
        }
    }
}

/// A transition the entry's state does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "outbox entry {id} is {from}; it cannot be {attempted} ({})",
    hint(attempted)
)]
pub struct TransitionError {
    /// The entry.
    pub id: String,
    /// Its state.
    pub from: EntryState,
    /// What was attempted: `applied`, `failed`, `blocked`, `retried later`, `released`,
    /// `resolved` or `removed`.
    pub attempted: &'static str,
}

fn hint(attempted: &str) -> &'static str {
    match attempted {
        "resolved" => "only failed entries can",
        "removed" => "it is being sent; wait for the sync to finish",
        _ => "only entries being sent can",
    }
}

/// Why an outbox operation was refused. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    /// No entry has that id.
    #[error("there is no outbox entry {0}; it may have been synced or deleted already")]
    NotFound(String),
    /// The entry is not in a state that allows the operation.
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// The outbox of one user, kept in `seq` order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outbox {
    entries: Vec<Entry>,
}

/// Seconds to wait before resending an entry after its `attempts`-th attempt met a network or
/// server fault: 5 s, doubling per attempt, at most 900 s. Deterministic, without jitter, so
/// tests and the soak run see reproducible timings; browsers add natural jitter (timers,
/// worker wake-ups), and each device has its own clock, so devices do not retry in lockstep.
pub fn backoff_secs(attempts: u32) -> i64 {
    const FIRST: i64 = 5;
    const CAP: i64 = 900;
    // 5 << 8 already exceeds the cap; clamping the shift keeps it from overflowing.
    let doublings = attempts.saturating_sub(1).min(8);
    (FIRST << doublings).min(CAP)
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// An outbox holding `entries` (as stored), put in `seq` order.
    pub fn from_entries(mut entries: Vec<Entry>) -> Self {
        entries.sort_by_key(|e| e.seq);
        Self { entries }
    }

    /// What [`Outbox::enqueue`] of a change to record `(table, sys_id)` looks at, out of
    /// `entries` (the whole outbox in `seq` order): the record's own entries and the last one
    /// (the next `seq`). Enqueueing into it gives the entry the whole outbox would, without
    /// copying the rest.
    pub fn for_record(entries: &[Entry], table: &str, sys_id: &str) -> Self {
        let last = entries.len().saturating_sub(1);
        Self::from_entries(
            entries
                .iter()
                .enumerate()
                .filter(|(i, e)| *i == last || e.is_for(table, sys_id))
                .map(|(_, e)| e.clone())
                .collect(),
        )
    }

    /// The entries in `seq` order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether no change waits.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in `seq` order, taken out.
    pub fn into_entries(self) -> Vec<Entry> {
        self.entries
    }

    /// The entry with that id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Appends a change. Its `seq` is one more than the highest in the outbox (1 when empty):
    /// after the last entry is removed its seq may be given again, which is harmless because
    /// the id, not the seq, is the idempotency key, and seqs only order what is in the outbox.
    /// The entry is blocked when an earlier entry for the same record failed or is blocked.
    ///
    /// Enqueueing an id that is already in the outbox changes nothing and returns the entry
    /// that has it, so retrying a write whose outcome was lost does not queue a change twice.
    pub fn enqueue(&mut self, new: NewEntry) -> &Entry {
        if let Some(i) = self.position(&new.id) {
            return &self.entries[i];
        }
        let seq = self.entries.last().map_or(1, |e| e.seq.saturating_add(1));
        let held = self.entries.iter().any(|e| {
            e.is_for(&new.table, &new.sys_id)
                && matches!(e.state, EntryState::Failed | EntryState::Blocked)
        });
        self.entries.push(Entry {
            id: new.id,
            seq,
            user: new.user,
            action: new.action,
            table: new.table,
            sys_id: new.sys_id,
            inputs: new.inputs,
            base: new.base,
            queued_at: new.queued_at,
            attempts: 0,
            state: if held {
                EntryState::Blocked
            } else {
                EntryState::Pending
            },
            error: None,
            next_attempt_at: None,
        });
        &self.entries[self.entries.len() - 1]
    }

    /// Whether a sync run at `now` would send anything: [`Outbox::begin_sync`] would select an
    /// entry. The worker asks before taking the sync lease, so an idle outbox costs neither a
    /// lease nor a request.
    pub fn has_due(&self, now: Timestamp) -> bool {
        !self.due(now, 1).is_empty()
    }

    /// Starts a sync run: selects up to `max` entries in `seq` order, marks them syncing,
    /// counts the attempt and returns copies to send.
    ///
    /// Selected are pending entries that are due, and syncing ones: the caller holds the sync
    /// lease, so an entry still syncing at the start of a run was left by a run that died, and
    /// is sent again with the same id (the instance answers a repeated id with its first
    /// answer). An entry is never selected when an earlier entry for the same record is not,
    /// so each record's changes reach the instance in the order they were made.
    pub fn begin_sync(&mut self, now: Timestamp, max: usize) -> Vec<Entry> {
        let chosen = self.due(now, max);
        chosen
            .into_iter()
            .map(|i| {
                let e = &mut self.entries[i];
                e.state = EntryState::Syncing;
                e.attempts = e.attempts.saturating_add(1);
                e.clone()
            })
            .collect()
    }

    /// The instance applied the entry: it leaves the outbox and is returned.
    pub fn applied(&mut self, id: &str) -> Result<Entry, OutboxError> {
        let i = self.expect(id, &[EntryState::Syncing], "applied")?;
        Ok(self.entries.remove(i))
    }

    /// The instance refused the entry (conflict or rejection): it fails with `error`, and
    /// every later entry for the same record that has not been answered is blocked behind it.
    pub fn failed(&mut self, id: &str, error: EntryError) -> Result<(), OutboxError> {
        let i = self.expect(id, &[EntryState::Syncing], "failed")?;
        let e = &mut self.entries[i];
        e.state = EntryState::Failed;
        e.error = Some(error);
        e.next_attempt_at = None;
        let (table, sys_id) = (e.table.clone(), e.sys_id.clone());
        self.settle(&table, &sys_id);
        Ok(())
    }

    /// The instance skipped the entry because an earlier entry for the same record failed in
    /// the same batch. [`Outbox::failed`] has usually blocked it already; the answer then
    /// confirms that and changes nothing.
    pub fn blocked_by_earlier(&mut self, id: &str) -> Result<(), OutboxError> {
        let i = self.expect(id, &[EntryState::Syncing, EntryState::Blocked], "blocked")?;
        self.entries[i].state = EntryState::Blocked;
        Ok(())
    }

    /// A network or server fault: the entry goes back to pending and is not sent again before
    /// `now + backoff_secs(attempts)`. `message` is kept as an error with code
    /// [`NETWORK_ERROR_CODE`] so the app can show why the entry waits; the state, not the
    /// error, says whether the entry failed.
    pub fn retry_later(
        &mut self,
        id: &str,
        now: Timestamp,
        message: &str,
    ) -> Result<(), OutboxError> {
        let i = self.expect(id, &[EntryState::Syncing], "retried later")?;
        let e = &mut self.entries[i];
        e.state = EntryState::Pending;
        let wait = backoff_secs(e.attempts);
        e.next_attempt_at = Some(Timestamp::from_unix(now.unix().saturating_add(wait)));
        e.error = Some(EntryError {
            code: NETWORK_ERROR_CODE.to_string(),
            message: message.to_string(),
            record: None,
        });
        Ok(())
    }

    /// The instance refused the whole batch without looking at the entry (an expired session,
    /// say): it goes back to pending, due at once, and the attempt [`Outbox::begin_sync`]
    /// counted is given back, because the instance never saw it and a refusal the user fixes
    /// (by logging in again) should not leave the entry backing off.
    pub fn release(&mut self, id: &str) -> Result<(), OutboxError> {
        let i = self.expect(id, &[EntryState::Syncing], "released")?;
        let e = &mut self.entries[i];
        e.state = EntryState::Pending;
        e.attempts = e.attempts.saturating_sub(1);
        Ok(())
    }

    /// The user resolved a failed entry: it is pending again, with new `inputs` when given,
    /// rebased on `base` (the instance's current record), its attempts and error cleared. The
    /// entries blocked behind it are pending again; they follow it in `seq` order.
    pub fn resolve(
        &mut self,
        id: &str,
        inputs: Option<Map<String, Value>>,
        base: Base,
    ) -> Result<(), OutboxError> {
        let i = self.expect(id, &[EntryState::Failed], "resolved")?;
        let e = &mut self.entries[i];
        if let Some(inputs) = inputs {
            e.inputs = inputs;
        }
        e.base = base;
        e.state = EntryState::Pending;
        e.error = None;
        e.attempts = 0;
        e.next_attempt_at = None;
        let (table, sys_id) = (e.table.clone(), e.sys_id.clone());
        self.settle(&table, &sys_id);
        Ok(())
    }

    /// Deletes an entry that is not being sent, and returns it (the caller rolls back its
    /// local effects). Entries blocked behind it become pending unless another failed entry
    /// still precedes them.
    pub fn remove(&mut self, id: &str) -> Result<Entry, OutboxError> {
        let i = self.expect(
            id,
            &[EntryState::Pending, EntryState::Failed, EntryState::Blocked],
            "removed",
        )?;
        let e = self.entries.remove(i);
        self.settle(&e.table, &e.sys_id);
        Ok(e)
    }

    /// How many entries wait, by kind.
    pub fn counts(&self) -> Counts {
        Counts::of(&self.entries)
    }

    /// The entries of one record, in `seq` order.
    pub fn entries_of(&self, table: &str, sys_id: &str) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|e| e.is_for(table, sys_id))
            .cloned()
            .collect()
    }

    /// `(table, sys_id)` of every record with an entry: the app draws these patterned.
    pub fn marked(&self) -> BTreeSet<(String, String)> {
        self.entries
            .iter()
            .map(|e| (e.table.clone(), e.sys_id.clone()))
            .collect()
    }

    /// The indexes of up to `max` entries a run at `now` sends, in `seq` order: ready ones
    /// ([`Entry::ready`]) with no earlier entry of their record left behind.
    fn due(&self, now: Timestamp, max: usize) -> Vec<usize> {
        let mut held: BTreeSet<(&str, &str)> = BTreeSet::new();
        let mut chosen = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            if chosen.len() == max {
                break;
            }
            let record = (e.table.as_str(), e.sys_id.as_str());
            if e.ready(now) && !held.contains(&record) {
                chosen.push(i);
            } else {
                held.insert(record);
            }
        }
        chosen
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    /// The index of entry `id` if its state is one of `allowed`.
    fn expect(
        &self,
        id: &str,
        allowed: &[EntryState],
        attempted: &'static str,
    ) -> Result<usize, OutboxError> {
        let i = self
            .position(id)
            .ok_or_else(|| OutboxError::NotFound(id.to_string()))?;
        let from = self.entries[i].state;
        if allowed.contains(&from) {
            Ok(i)
        } else {
            Err(TransitionError {
                id: id.to_string(),
                from,
                attempted,
            }
            .into())
        }
    }

    /// Restores the blocking rule for one record: an entry after a failed one is blocked
    /// (unless it failed itself), and a blocked entry with no failed one before it is pending.
    fn settle(&mut self, table: &str, sys_id: &str) {
        let mut after_failure = false;
        for e in self.entries.iter_mut().filter(|e| e.is_for(table, sys_id)) {
            match e.state {
                EntryState::Failed => after_failure = true,
                EntryState::Pending | EntryState::Syncing if after_failure => {
                    e.state = EntryState::Blocked;
                }
                EntryState::Blocked if !after_failure => e.state = EntryState::Pending,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: i64 = 1_790_000_000;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix(T0 + secs)
    }

    fn new_entry(id: &str, sys_id: &str) -> NewEntry {
        NewEntry {
            id: id.to_string(),
            user: "beth.anglin".to_string(),
            action: "accept_task".to_string(),
            table: "wm_task".to_string(),
            sys_id: sys_id.to_string(),
            inputs: Map::new(),
            base: Base {
                mod_count: 3,
                fields: json!({"state": "assigned"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
            queued_at: at(0),
        }
    }

    /// An outbox with one entry per `(id, record)`, in that order.
    fn outbox(entries: &[(&str, &str)]) -> Outbox {
        let mut o = Outbox::new();
        for (id, record) in entries {
            o.enqueue(new_entry(id, record));
        }
        o
    }

    fn conflict() -> EntryError {
        EntryError {
            code: "field_changed".to_string(),
            message: "state was changed".to_string(),
            record: None,
        }
    }

    fn state(o: &Outbox, id: &str) -> EntryState {
        o.get(id).map(|e| e.state).expect("entry exists")
    }

    fn ids(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.id.as_str()).collect()
    }

    /// An outbox where `a` (record r1) failed and `b` (r1) is blocked behind it.
    fn failed_then_blocked() -> Outbox {
        let mut o = outbox(&[("a", "r1"), ("b", "r1")]);
        o.begin_sync(at(0), 10);
        o.failed("a", conflict()).unwrap();
        o
    }

    #[test]
    fn enqueue_numbers_entries_in_order_starting_at_one() {
        let o = outbox(&[("a", "r1"), ("b", "r2"), ("c", "r1")]);
        let seqs: Vec<u64> = o.entries().iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [1, 2, 3]);
        assert!(o
            .entries()
            .iter()
            .all(|e| e.state == EntryState::Pending && e.attempts == 0));
    }

    #[test]
    fn enqueue_continues_after_the_highest_seq_left() {
        let mut o = outbox(&[("a", "r1"), ("b", "r2"), ("c", "r3")]);
        o.remove("a").unwrap();
        assert_eq!(o.enqueue(new_entry("d", "r4")).seq, 4);
    }

    #[test]
    fn enqueue_of_a_known_id_changes_nothing() {
        let mut o = outbox(&[("a", "r1")]);
        let before = o.clone();
        let mut again = new_entry("a", "r2");
        again.action = "close_task".to_string();
        assert_eq!(o.enqueue(again).sys_id, "r1");
        assert_eq!(o, before);
    }

    #[test]
    fn enqueue_blocks_behind_a_failed_or_blocked_entry_of_the_same_record() {
        let mut o = failed_then_blocked();
        assert_eq!(o.enqueue(new_entry("c", "r1")).state, EntryState::Blocked);
        assert_eq!(o.enqueue(new_entry("d", "r2")).state, EntryState::Pending);
    }

    #[test]
    fn from_entries_sorts_by_seq() {
        let o = outbox(&[("a", "r1"), ("b", "r2"), ("c", "r3")]);
        let mut shuffled = o.entries().to_vec();
        shuffled.reverse();
        assert_eq!(Outbox::from_entries(shuffled), o);
    }

    #[test]
    fn begin_sync_marks_selected_entries_syncing_and_counts_the_attempt() {
        let mut o = outbox(&[("a", "r1"), ("b", "r2")]);
        let sent = o.begin_sync(at(0), 10);
        assert_eq!(ids(&sent), ["a", "b"]);
        assert!(sent
            .iter()
            .all(|e| e.state == EntryState::Syncing && e.attempts == 1));
        assert_eq!(o.entries(), sent.as_slice());
    }

    #[test]
    fn begin_sync_takes_at_most_max_entries_in_seq_order() {
        let mut o = outbox(&[("a", "r1"), ("b", "r2"), ("c", "r3")]);
        assert_eq!(ids(&o.begin_sync(at(0), 2)), ["a", "b"]);
        assert_eq!(state(&o, "c"), EntryState::Pending);
    }

    #[test]
    fn begin_sync_with_max_zero_selects_nothing() {
        let mut o = outbox(&[("a", "r1")]);
        let before = o.clone();
        assert!(o.begin_sync(at(0), 0).is_empty());
        assert_eq!(o, before);
    }

    #[test]
    fn begin_sync_resends_entries_left_syncing_by_a_crashed_run_with_the_same_id() {
        let mut o = outbox(&[("a", "r1")]);
        o.begin_sync(at(0), 10);
        // The worker died before the answer: the next run finds `a` still syncing.
        let again = o.begin_sync(at(60), 10);
        assert_eq!(ids(&again), ["a"]);
        assert_eq!(again[0].attempts, 2);
        assert_eq!(state(&o, "a"), EntryState::Syncing);
    }

    #[test]
    fn begin_sync_holds_a_record_behind_an_entry_backing_off_but_sends_other_records() {
        let mut o = outbox(&[("a", "r1"), ("b", "r1"), ("c", "r2")]);
        o.begin_sync(at(0), 1);
        o.retry_later("a", at(0), "connection reset").unwrap();
        let sent = o.begin_sync(at(1), 10);
        assert_eq!(ids(&sent), ["c"]);
        assert_eq!(state(&o, "b"), EntryState::Pending);
    }

    #[test]
    fn begin_sync_sends_a_backed_off_entry_once_it_is_due_and_its_record_follows() {
        let mut o = outbox(&[("a", "r1"), ("b", "r1")]);
        o.begin_sync(at(0), 1);
        o.retry_later("a", at(0), "timeout").unwrap();
        assert!(o.begin_sync(at(4), 10).is_empty());
        assert_eq!(ids(&o.begin_sync(at(5), 10)), ["a", "b"]);
    }

    #[test]
    fn begin_sync_skips_failed_and_blocked_records() {
        let mut o = failed_then_blocked();
        o.enqueue(new_entry("c", "r2"));
        assert_eq!(ids(&o.begin_sync(at(0), 10)), ["c"]);
    }

    #[test]
    fn has_due_is_false_for_an_empty_outbox_and_for_failed_and_blocked_entries() {
        assert!(!Outbox::new().has_due(at(0)));
        assert!(!failed_then_blocked().has_due(at(0)));
    }

    #[test]
    fn has_due_waits_for_a_backoff_and_holds_the_record_behind_it() {
        // `b` is due, but it waits behind `a` of the same record, which backs off until 5 s.
        let mut o = outbox(&[("a", "r1"), ("b", "r1")]);
        o.begin_sync(at(0), 1);
        o.retry_later("a", at(0), "timeout").unwrap();
        assert!(!o.has_due(at(4)));
        assert!(o.has_due(at(5)));
    }

    #[test]
    fn has_due_sees_a_pending_entry_and_one_left_syncing_by_a_run_that_died() {
        assert!(outbox(&[("a", "r1")]).has_due(at(0)));
        let mut o = outbox(&[("a", "r1")]);
        o.begin_sync(at(0), 10);
        assert!(o.has_due(at(0)));
    }

    #[test]
    fn has_due_says_whether_begin_sync_would_send_something() {
        let mut cases = vec![Outbox::new(), failed_then_blocked(), outbox(&[("a", "r1")])];
        let mut backing_off = outbox(&[("a", "r1"), ("b", "r1"), ("c", "r2")]);
        backing_off.begin_sync(at(0), 1);
        backing_off.retry_later("a", at(0), "timeout").unwrap();
        cases.push(backing_off);
        for o in cases {
            for now in [at(0), at(4), at(5)] {
                let expected = !o.clone().begin_sync(now, 10).is_empty();
                assert_eq!(o.has_due(now), expected, "{o:?} at {now}");
            }
        }
    }

    #[test]
    fn applied_removes_the_entry_and_returns_it() {
        let mut o = outbox(&[("a", "r1"), ("b", "r1")]);
        o.begin_sync(at(0), 1);
        let done = o.applied("a").unwrap();
        assert_eq!(done.id, "a");
        assert_eq!(ids(o.entries()), ["b"]);
        assert_eq!(state(&o, "b"), EntryState::Pending);
    }

    #[test]
    fn failed_keeps_the_error_and_blocks_later_entries_of_the_record_only() {
        let mut o = outbox(&[("a", "r1"), ("b", "r1"), ("c", "r2"), ("d", "r1")]);
        o.begin_sync(at(0), 2);
        o.failed("a", conflict()).unwrap();
        assert_eq!(state(&o, "a"), EntryState::Failed);
        assert_eq!(o.get("a").unwrap().error, Some(conflict()));
        assert_eq!(
            state(&o, "b"),
            EntryState::Blocked,
            "syncing, not yet answered"
        );
        assert_eq!(state(&o, "c"), EntryState::Pending);
        assert_eq!(state(&o, "d"), EntryState::Blocked, "pending");
    }

    #[test]
    fn blocked_by_earlier_blocks_a_syncing_entry_and_confirms_a_blocked_one() {
        let mut o = outbox(&[("a", "r1"), ("b", "r1")]);
        o.begin_sync(at(0), 10);
        o.blocked_by_earlier("b").unwrap();
        assert_eq!(state(&o, "b"), EntryState::Blocked);
        o.failed("a", conflict()).unwrap();
        let before = o.clone();
        o.blocked_by_earlier("b").unwrap();
        assert_eq!(o, before);
    }

    #[test]
    fn retry_later_backs_off_and_records_why() {
        let mut o = outbox(&[("a", "r1")]);
        o.begin_sync(at(0), 10);
        o.retry_later("a", at(100), "the instance answered 503")
            .unwrap();
        let e = o.get("a").unwrap();
        assert_eq!(e.state, EntryState::Pending);
        assert_eq!(e.next_attempt_at, Some(at(105)));
        let error = e.error.as_ref().unwrap();
        assert_eq!(error.code, "network");
        assert_eq!(error.message, "the instance answered 503");
    }

    #[test]
    fn retry_later_waits_longer_after_each_attempt() {
        let mut o = outbox(&[("a", "r1")]);
        for (n, wait) in [(1, 5), (2, 10), (3, 20)] {
            let now = at(n * 1000);
            assert_eq!(ids(&o.begin_sync(now, 1)), ["a"]);
            o.retry_later("a", now, "offline").unwrap();
            assert_eq!(o.get("a").unwrap().next_attempt_at, Some(now.plus(wait)));
        }
    }

    #[test]
    fn release_makes_the_entry_pending_and_due_and_gives_back_the_attempt() {
        let mut o = outbox(&[("a", "r1")]);
        o.begin_sync(at(0), 10);
        o.release("a").unwrap();
        let a = o.get("a").unwrap();
        assert_eq!(
            (a.state, a.attempts, a.next_attempt_at),
            (EntryState::Pending, 0, None)
        );
        assert_eq!(ids(&o.begin_sync(at(0), 10)), ["a"]);
        assert_eq!(
            o.release("zz"),
            Err(OutboxError::NotFound("zz".to_string()))
        );
        o.release("a").unwrap();
        assert_eq!(
            o.release("a"),
            Err(OutboxError::Transition(TransitionError {
                id: "a".to_string(),
                from: EntryState::Pending,
                attempted: "released",
            }))
        );
    }

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_fifteen_minutes() {
        let waits: Vec<i64> = (0..=10).map(backoff_secs).collect();
        assert_eq!(waits, [5, 5, 10, 20, 40, 80, 160, 320, 640, 900, 900]);
        assert_eq!(backoff_secs(u32::MAX), 900);
    }

    #[test]
    fn resolve_makes_the_entry_pending_with_new_inputs_and_base_and_unblocks_the_record() {
        let mut o = failed_then_blocked();
        let inputs = json!({"note": "checked with dispatch"})
            .as_object()
            .cloned()
            .unwrap();
        let base = Base {
            mod_count: 7,
            fields: Map::new(),
        };
        o.resolve("a", Some(inputs.clone()), base.clone()).unwrap();
        let a = o.get("a").unwrap();
        assert_eq!(a.state, EntryState::Pending);
        assert_eq!((a.inputs.clone(), a.base.clone()), (inputs, base));
        assert_eq!(
            (a.attempts, a.error.clone(), a.next_attempt_at),
            (0, None, None)
        );
        assert_eq!(state(&o, "b"), EntryState::Pending);
        assert_eq!(ids(&o.begin_sync(at(0), 10)), ["a", "b"]);
    }

    #[test]
    fn resolve_without_inputs_keeps_the_inputs() {
        let mut o = failed_then_blocked();
        let inputs = o.get("a").unwrap().inputs.clone();
        o.resolve("a", None, Base::default()).unwrap();
        assert_eq!(o.get("a").unwrap().inputs, inputs);
    }

    #[test]
    fn remove_of_a_failed_entry_unblocks_the_entries_behind_it() {
        let mut o = failed_then_blocked();
        assert_eq!(o.remove("a").unwrap().id, "a");
        assert_eq!(state(&o, "b"), EntryState::Pending);
    }

    #[test]
    fn remove_keeps_entries_blocked_while_a_failed_entry_precedes_them() {
        let mut o = failed_then_blocked();
        o.enqueue(new_entry("c", "r1"));
        o.remove("b").unwrap();
        assert_eq!(state(&o, "c"), EntryState::Blocked);
    }

    #[test]
    fn remove_takes_pending_and_blocked_entries() {
        let mut o = failed_then_blocked();
        o.enqueue(new_entry("c", "r2"));
        assert_eq!(o.remove("b").unwrap().state, EntryState::Blocked);
        assert_eq!(o.remove("c").unwrap().state, EntryState::Pending);
        assert_eq!(ids(o.entries()), ["a"]);
    }

    #[test]
    fn illegal_transitions_are_refused_and_change_nothing() {
        let mut o = failed_then_blocked();
        o.enqueue(new_entry("p", "r2"));
        o.enqueue(new_entry("s", "r3"));
        o.begin_sync(at(0), 10); // only s (r3) and p (r2) are selectable
        o.retry_later("p", at(0), "offline").unwrap();
        // a failed, b blocked, p pending, s syncing.
        let before = o.clone();
        let refused: Vec<(&str, EntryState, &str, Result<(), OutboxError>)> = vec![
            (
                "p",
                EntryState::Pending,
                "applied",
                o.applied("p").map(drop),
            ),
            ("a", EntryState::Failed, "applied", o.applied("a").map(drop)),
            (
                "b",
                EntryState::Blocked,
                "applied",
                o.applied("b").map(drop),
            ),
            (
                "p",
                EntryState::Pending,
                "failed",
                o.failed("p", conflict()),
            ),
            ("a", EntryState::Failed, "failed", o.failed("a", conflict())),
            (
                "b",
                EntryState::Blocked,
                "failed",
                o.failed("b", conflict()),
            ),
            (
                "p",
                EntryState::Pending,
                "blocked",
                o.blocked_by_earlier("p"),
            ),
            (
                "a",
                EntryState::Failed,
                "blocked",
                o.blocked_by_earlier("a"),
            ),
            (
                "p",
                EntryState::Pending,
                "retried later",
                o.retry_later("p", at(0), "x"),
            ),
            (
                "a",
                EntryState::Failed,
                "retried later",
                o.retry_later("a", at(0), "x"),
            ),
            (
                "b",
                EntryState::Blocked,
                "retried later",
                o.retry_later("b", at(0), "x"),
            ),
            (
                "p",
                EntryState::Pending,
                "resolved",
                o.resolve("p", None, Base::default()),
            ),
            (
                "b",
                EntryState::Blocked,
                "resolved",
                o.resolve("b", None, Base::default()),
            ),
            (
                "s",
                EntryState::Syncing,
                "resolved",
                o.resolve("s", None, Base::default()),
            ),
            ("s", EntryState::Syncing, "removed", o.remove("s").map(drop)),
        ];
        for (id, from, attempted, result) in refused {
            let expected = OutboxError::Transition(TransitionError {
                id: id.to_string(),
                from,
                attempted,
            });
            assert_eq!(result, Err(expected), "{id} {attempted}");
        }
        assert_eq!(o, before);
    }

    #[test]
    fn unknown_ids_are_refused_and_change_nothing() {
        let mut o = outbox(&[("a", "r1")]);
        let before = o.clone();
        let missing = Err(OutboxError::NotFound("zz".to_string()));
        assert_eq!(o.applied("zz").map(drop), missing);
        assert_eq!(o.remove("zz").map(drop), missing);
        assert_eq!(o.resolve("zz", None, Base::default()), missing);
        assert_eq!(o, before);
    }

    #[test]
    fn transition_errors_say_what_would_be_allowed() {
        let mut o = outbox(&[("a", "r1")]);
        let resolve = o.resolve("a", None, Base::default()).unwrap_err();
        assert_eq!(
            resolve.to_string(),
            "outbox entry a is pending; it cannot be resolved (only failed entries can)"
        );
        o.begin_sync(at(0), 1);
        let remove = o.remove("a").unwrap_err().to_string();
        assert!(
            remove.contains("is syncing; it cannot be removed"),
            "{remove}"
        );
        assert!(remove.contains("wait for the sync to finish"), "{remove}");
    }

    #[test]
    fn enqueueing_into_a_records_part_gives_the_entry_the_whole_outbox_would() {
        // r1 failed and r2 is clean, with other records' entries around and last.
        let mut whole = outbox(&[("a", "r1"), ("x", "r9"), ("b", "r2"), ("y", "r8")]);
        whole.begin_sync(at(0), 10);
        whole.failed("a", conflict()).unwrap();
        for record in ["r1", "r2", "r3"] {
            let mut part = Outbox::for_record(whole.entries(), "wm_task", record);
            let mut full = whole.clone();
            let id = format!("new-{record}");
            assert_eq!(
                part.enqueue(new_entry(&id, record)),
                full.enqueue(new_entry(&id, record)),
                "{record}"
            );
        }
        assert_eq!(Outbox::for_record(&[], "wm_task", "r1"), Outbox::new());
    }

    #[test]
    fn counts_include_syncing_entries_as_pending() {
        let mut o = failed_then_blocked();
        o.enqueue(new_entry("c", "r2"));
        o.enqueue(new_entry("d", "r3"));
        o.begin_sync(at(0), 1);
        assert_eq!(
            o.counts(),
            Counts {
                pending: 2,
                failed: 1,
                blocked: 1
            }
        );
    }

    #[test]
    fn marked_lists_each_record_with_an_entry_once() {
        let o = outbox(&[("a", "r1"), ("b", "r1"), ("c", "r2")]);
        let marked: Vec<(String, String)> = o.marked().into_iter().collect();
        assert_eq!(
            marked,
            [
                ("wm_task".into(), "r1".into()),
                ("wm_task".into(), "r2".into())
            ]
        );
    }

    #[test]
    fn base_capture_takes_the_mod_count_and_shows_missing_fields_as_null() {
        let record = Record::from_value(json!({"sys_mod_count": 4, "state": "assigned"})).unwrap();
        let base = Base::capture(&record, &["state".to_string(), "close_notes".to_string()]);
        assert_eq!(base.mod_count, 4);
        assert_eq!(
            Value::Object(base.fields),
            json!({"state": "assigned", "close_notes": null})
        );
    }

    #[test]
    fn entries_serialize_with_the_spec_field_names_and_round_trip() {
        let mut o = failed_then_blocked();
        let failed = o.get("a").unwrap().clone();
        let value = serde_json::to_value(&failed).unwrap();
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "id",
            "seq",
            "user",
            "action",
            "table",
            "sys_id",
            "inputs",
            "base",
            "queued_at",
            "attempts",
            "state",
            "error",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(value["state"], "failed");
        assert_eq!(value["queued_at"], at(0).to_string());
        assert_eq!(serde_json::from_value::<Entry>(value).unwrap(), failed);

        o.enqueue(new_entry("c", "r2"));
        o.begin_sync(at(0), 10);
        o.retry_later("c", at(0), "offline").unwrap();
        let waiting = o.get("c").unwrap().clone();
        let value = serde_json::to_value(&waiting).unwrap();
        assert_eq!(value["next_attempt_at"], at(5).to_string());
        assert_eq!(serde_json::from_value::<Entry>(value).unwrap(), waiting);
    }
}
