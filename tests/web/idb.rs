//! The IndexedDB store (`offgrid::web::idb`) against real IndexedDB. Each test opens a fresh,
//! randomly named database and deletes it at the end.

use offgrid::api::table::ListParams;
use offgrid::outbox::{Base, Entry, EntryError, EntryState, OutboxError, TransitionError};
use offgrid::query::{Query, QueryContext};
use offgrid::record::{new_sys_id, new_uuid, Record, Timestamp};
use offgrid::web::idb::{CacheMeta, DbError, LocalChanges, LocalDb, RemoveError, SCHEMA_VERSION};
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;

/// A fresh database with a random name.
async fn fresh() -> (String, LocalDb) {
    let name = format!("offgrid:test-{}", new_sys_id());
    let db = LocalDb::open(&name).await.expect("open a fresh database");
    (name, db)
}

/// Closes and deletes a test database.
async fn finish(name: String, db: LocalDb) {
    drop(db);
    LocalDb::delete(&name)
        .await
        .expect("delete the test database");
}

/// A task with a predictable `sys_id` (numbered, so `sys_id` order is `n` order).
fn task(n: usize, state: &str) -> Record {
    Record::from_value(json!({
        "sys_id": format!("{n:032x}"),
        "number": format!("WOT{n:07}"),
        "short_description": format!("Task {n} — ünïcode ✓"),
        "state": state,
        "assigned_to": "beth.anglin",
        "priority": 2,
        "active": true,
        "rate": 1.5,
        "close_notes": null,
        "sys_mod_count": 3,
        "sys_updated_on": "2026-01-02 03:04:05",
    }))
    .expect("an object")
}

fn tasks(range: std::ops::Range<usize>, state: &str) -> Vec<(String, Record)> {
    range
        .map(|n| ("wm_task".to_string(), task(n, state)))
        .collect()
}

fn sys_id(n: usize) -> String {
    format!("{n:032x}")
}

fn entry(seq: u64, sys_id: &str) -> Entry {
    let mut inputs = serde_json::Map::new();
    inputs.insert("close_notes".into(), json!("done"));
    Entry {
        id: new_uuid(),
        seq,
        user: "beth.anglin".into(),
        action: "close_task".into(),
        table: "wm_task".into(),
        sys_id: sys_id.into(),
        inputs,
        base: Base::capture(&task(1, "accepted"), &["state".into(), "missing".into()]),
        queued_at: Timestamp::from_unix(1_800_000_000 + seq as i64),
        attempts: 2,
        state: EntryState::Failed,
        error: Some(EntryError {
            code: "field_changed".into(),
            message: "state was changed on the instance".into(),
            record: Some(task(1, "closed_complete")),
        }),
        next_attempt_at: Some(Timestamp::from_unix(1_800_000_600)),
    }
}

fn meta(records: u64) -> CacheMeta {
    CacheMeta {
        watermark: format!("w-{records}"),
        downloaded_at: Timestamp::from_unix(1_800_000_000),
        expires_at: Timestamp::from_unix(1_800_172_800),
        records,
    }
}

#[wasm_bindgen_test]
async fn records_round_trip_through_the_live_cache() {
    let (name, db) = fresh().await;
    let incident = Record::from_value(json!({"sys_id": sys_id(1), "number": "INC1"})).unwrap();
    db.put_records("wm_task", &[task(1, "assigned"), task(2, "accepted")])
        .await
        .unwrap();
    db.put_records("incident", std::slice::from_ref(&incident))
        .await
        .unwrap();

    assert_eq!(
        db.get_record("wm_task", &sys_id(2)).await.unwrap(),
        Some(task(2, "accepted"))
    );
    assert_eq!(
        db.get_record("incident", &sys_id(1)).await.unwrap(),
        Some(incident)
    );
    assert_eq!(db.get_record("wm_task", &sys_id(9)).await.unwrap(), None);
    assert_eq!(
        db.table_records("wm_task").await.unwrap(),
        vec![task(1, "assigned"), task(2, "accepted")]
    );
    assert_eq!(db.count_records().await.unwrap(), 3);

    db.delete_record("wm_task", &sys_id(1)).await.unwrap();
    assert_eq!(db.get_record("wm_task", &sys_id(1)).await.unwrap(), None);
    assert_eq!(db.count_records().await.unwrap(), 2);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn a_thousand_records_go_in_one_batch_and_come_back_by_table() {
    let (name, db) = fresh().await;
    let records: Vec<Record> = (0..1000).map(|n| task(n, "assigned")).collect();
    db.put_records("wm_task", &records).await.unwrap();
    db.put_records("incident", &[task(5000, "new")])
        .await
        .unwrap();

    assert_eq!(db.table_records("wm_task").await.unwrap(), records);
    assert_eq!(db.count_records().await.unwrap(), 1001);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn cached_ids_lists_one_tables_records_without_reading_them() {
    let (name, db) = fresh().await;
    db.put_records("wm_task", &[task(1, "assigned"), task(2, "accepted")])
        .await
        .unwrap();
    db.put_records("incident", &[task(3, "new")]).await.unwrap();

    let ids: Vec<String> = db
        .cached_ids("wm_task")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(ids, [sys_id(1), sys_id(2)]);
    assert!(db.cached_ids("sys_user").await.unwrap().is_empty());
    db.delete_record("wm_task", &sys_id(1)).await.unwrap();
    let ids: Vec<String> = db
        .cached_ids("wm_task")
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(ids, [sys_id(2)]);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn a_batch_with_a_record_without_sys_id_stores_nothing() {
    let (name, db) = fresh().await;
    let no_id = Record::from_value(json!({"number": "WOT9"})).unwrap();
    let err = db
        .put_records("wm_task", &[task(1, "assigned"), no_id])
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("without a sys_id"), "{err}");
    assert_eq!(db.count_records().await.unwrap(), 0);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn a_swapped_in_download_replaces_the_cache() {
    let (name, db) = fresh().await;
    db.put_records("wm_task", &[task(1, "assigned"), task(2, "assigned")])
        .await
        .unwrap();
    assert_eq!(db.cache_meta().await.unwrap(), None);

    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(10..15, "accepted")).await.unwrap();
    staging.put_batch(&tasks(15..20, "accepted")).await.unwrap();
    // Until the swap, readers see the old cache only.
    assert_eq!(db.count_records().await.unwrap(), 2);
    assert!(db
        .get_record("wm_task", &sys_id(10))
        .await
        .unwrap()
        .is_none());

    db.swap_in(staging, &meta(10)).await.unwrap();
    let live = db.table_records("wm_task").await.unwrap();
    assert_eq!(
        live,
        (10..20).map(|n| task(n, "accepted")).collect::<Vec<_>>()
    );
    assert_eq!(db.cache_meta().await.unwrap(), Some(meta(10)));

    // The area that was live was emptied: the next download starts from nothing.
    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(30..31, "new")).await.unwrap();
    db.swap_in(staging, &meta(1)).await.unwrap();
    assert_eq!(
        db.table_records("wm_task").await.unwrap(),
        vec![task(30, "new")]
    );
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn an_abandoned_download_leaves_the_live_cache_as_it_was() {
    let (name, db) = fresh().await;
    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(0..3, "assigned")).await.unwrap();
    db.swap_in(staging, &meta(3)).await.unwrap();

    {
        // Staged, then given up (the network went): never swapped in.
        let mut abandoned = db.begin_staging().await.unwrap();
        abandoned
            .put_batch(&tasks(100..150, "accepted"))
            .await
            .unwrap();
    }

    assert_eq!(
        db.table_records("wm_task").await.unwrap(),
        (0..3).map(|n| task(n, "assigned")).collect::<Vec<_>>()
    );
    assert_eq!(db.cache_meta().await.unwrap(), Some(meta(3)));

    // The abandoned records do not leak into the next download.
    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(7..8, "new")).await.unwrap();
    db.swap_in(staging, &meta(1)).await.unwrap();
    assert_eq!(db.count_records().await.unwrap(), 1);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn an_incremental_download_applies_its_delta_to_a_copy_then_swaps() {
    let (name, db) = fresh().await;
    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(0..3, "assigned")).await.unwrap();
    db.swap_in(staging, &meta(3)).await.unwrap();

    {
        // An abandoned download's leftovers must not reach the next incremental one.
        let mut abandoned = db.begin_staging().await.unwrap();
        abandoned.put_batch(&tasks(50..51, "new")).await.unwrap();
    }
    let mut delta = db.begin_incremental_staging().await.unwrap();
    delta.put_batch(&tasks(1..2, "accepted")).await.unwrap();
    delta.put_batch(&tasks(3..4, "assigned")).await.unwrap();
    delta.delete("wm_task", &sys_id(0)).await.unwrap();
    assert_eq!(
        db.get_record("wm_task", &sys_id(0)).await.unwrap(),
        Some(task(0, "assigned"))
    );

    db.swap_in(delta, &meta(3)).await.unwrap();
    assert_eq!(
        db.table_records("wm_task").await.unwrap(),
        vec![
            task(1, "accepted"),
            task(2, "assigned"),
            task(3, "assigned")
        ]
    );
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn the_outbox_keeps_seq_order_and_every_field() {
    let (name, db) = fresh().await;
    let (e1, e2, e3) = (
        entry(1, &sys_id(1)),
        entry(2, &sys_id(2)),
        entry(3, &sys_id(1)),
    );
    db.save_outbox(&[e3.clone(), e1.clone(), e2.clone()], &[])
        .await
        .unwrap();
    assert_eq!(
        db.outbox_entries().await.unwrap(),
        vec![e1.clone(), e2.clone(), e3.clone()]
    );

    let mut e2b = e2.clone();
    e2b.state = EntryState::Pending;
    e2b.error = None;
    e2b.next_attempt_at = None;
    e2b.attempts = 3;
    db.save_outbox(&[e2b.clone()], std::slice::from_ref(&e1.id))
        .await
        .unwrap();
    assert_eq!(db.outbox_entries().await.unwrap(), vec![e2b, e3]);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn a_local_action_and_its_outbox_entry_are_stored_together() {
    let (name, db) = fresh().await;
    db.put_records("wm_task", &[task(1, "assigned"), task(2, "assigned")])
        .await
        .unwrap();
    let first = entry(1, &sys_id(1));
    db.commit_local_action(LocalChanges {
        puts: vec![("wm_task".into(), task(1, "accepted"))],
        deletes: vec![("wm_task".into(), sys_id(2))],
        shadows: vec![("wm_task".into(), task(1, "assigned"))],
        blobs: vec![(hash(1), blob(b"photo"))],
        entry: first.clone(),
    })
    .await
    .unwrap();

    assert_eq!(
        db.get_record("wm_task", &sys_id(1)).await.unwrap(),
        Some(task(1, "accepted"))
    );
    let stored = db
        .get_blob(&hash(1))
        .await
        .unwrap()
        .expect("the file's bytes");
    assert_eq!(blob_bytes(&stored).await, b"photo");
    assert_eq!(db.get_record("wm_task", &sys_id(2)).await.unwrap(), None);
    assert_eq!(db.outbox_entries().await.unwrap(), vec![first.clone()]);
    assert_eq!(
        db.shadow("wm_task", &sys_id(1)).await.unwrap(),
        Some(task(1, "assigned"))
    );

    // A second change keeps the shadow of the first: it is the instance's version.
    let second = entry(2, &sys_id(1));
    db.commit_local_action(LocalChanges {
        puts: vec![("wm_task".into(), task(1, "work_in_progress"))],
        deletes: vec![],
        shadows: vec![("wm_task".into(), task(1, "accepted"))],
        blobs: vec![],
        entry: second.clone(),
    })
    .await
    .unwrap();
    assert_eq!(
        db.shadow("wm_task", &sys_id(1)).await.unwrap(),
        Some(task(1, "assigned"))
    );
    assert_eq!(db.outbox_entries().await.unwrap(), vec![first, second]);

    db.remove_shadow("wm_task", &sys_id(1)).await.unwrap();
    assert_eq!(db.shadow("wm_task", &sys_id(1)).await.unwrap(), None);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn a_local_action_whose_entry_is_refused_stores_nothing() {
    let (name, db) = fresh().await;
    let first = entry(7, &sys_id(1));
    db.save_outbox(std::slice::from_ref(&first), &[])
        .await
        .unwrap();

    // Same seq, another id: the unique `seq` index refuses it, so the whole action goes.
    let clash = entry(7, &sys_id(5));
    let err = db
        .commit_local_action(LocalChanges {
            puts: vec![("wm_task".into(), task(5, "accepted"))],
            deletes: vec![],
            shadows: vec![("wm_task".into(), task(5, "assigned"))],
            blobs: vec![(hash(5), blob(b"photo"))],
            entry: clash,
        })
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("save the offline change"), "{message}");
    assert!(message.contains("ConstraintError"), "{message}");

    assert_eq!(db.get_record("wm_task", &sys_id(5)).await.unwrap(), None);
    assert_eq!(db.shadow("wm_task", &sys_id(5)).await.unwrap(), None);
    assert!(db.get_blob(&hash(5)).await.unwrap().is_none());
    assert_eq!(db.outbox_entries().await.unwrap(), vec![first]);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn an_outbox_save_with_a_refused_entry_changes_nothing() {
    let (name, db) = fresh().await;
    let first = entry(1, &sys_id(1));
    let second = entry(2, &sys_id(2));
    db.save_outbox(&[first.clone(), second.clone()], &[])
        .await
        .unwrap();

    // Removing the first and adding an entry whose seq the second holds: the unique `seq`
    // index refuses the put, so the removal is undone with it.
    let clash = entry(2, &sys_id(3));
    let err = db
        .save_outbox(&[clash], std::slice::from_ref(&first.id))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ConstraintError"), "{err}");
    assert_eq!(db.outbox_entries().await.unwrap(), vec![first, second]);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn clearing_the_cache_keeps_the_outbox_shadows_and_drafts() {
    let (name, db) = fresh().await;
    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(0..5, "assigned")).await.unwrap();
    db.swap_in(staging, &meta(5)).await.unwrap();
    let e = entry(1, &sys_id(1));
    db.commit_local_action(LocalChanges {
        puts: vec![("wm_task".into(), task(1, "accepted"))],
        deletes: vec![],
        shadows: vec![("wm_task".into(), task(1, "assigned"))],
        blobs: vec![],
        entry: e.clone(),
    })
    .await
    .unwrap();
    db.put_draft("close_task:1", &json!({"close_notes": "half"}))
        .await
        .unwrap();

    db.clear_cache().await.unwrap();
    assert_eq!(db.count_records().await.unwrap(), 0);
    assert_eq!(db.cache_meta().await.unwrap(), None);
    assert_eq!(db.outbox_entries().await.unwrap(), vec![e]);
    assert_eq!(
        db.shadow("wm_task", &sys_id(1)).await.unwrap(),
        Some(task(1, "assigned"))
    );
    assert!(db.get_draft("close_task:1").await.unwrap().is_some());
    finish(name, db).await;
}

async fn blob_bytes(blob: &web_sys::Blob) -> Vec<u8> {
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

/// A made-up sha-256 hex, numbered.
fn hash(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn blob(bytes: &[u8]) -> web_sys::Blob {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::Blob::new_with_u8_array_sequence(&parts).unwrap()
}

#[wasm_bindgen_test]
async fn pruning_removes_only_blobs_no_entry_refers_to() {
    let (name, db) = fresh().await;
    let mut e = entry(1, &sys_id(1));
    e.inputs.insert(
        "photo".into(),
        json!({"file_name": "a.png", "content_type": "image/png", "size_bytes": 5,
               "hash": hash(1)}),
    );
    db.save_outbox(&[e], &[]).await.unwrap();
    for n in [1, 2] {
        db.put_blob(&hash(n), &blob(b"photo")).await.unwrap();
    }
    db.prune_blobs().await.unwrap();
    assert!(
        db.get_blob(&hash(1)).await.unwrap().is_some(),
        "still needed"
    );
    assert!(
        db.get_blob(&hash(2)).await.unwrap().is_none(),
        "needed by none"
    );
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn blobs_round_trip_as_blobs() {
    let (name, db) = fresh().await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes.as_slice()));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).unwrap();
    let hash = "ab".repeat(32);

    db.put_blob(&hash, &blob).await.unwrap();
    let back = db.get_blob(&hash).await.unwrap().expect("stored");
    assert_eq!(back.size(), 70_000.0);
    assert_eq!(blob_bytes(&back).await, bytes);
    assert!(db.get_blob(&"cd".repeat(32)).await.unwrap().is_none());
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn files_kept_as_bytes_read_back_as_blobs_of_their_type() {
    // The form an engine that cannot store a Blob gets (WebKitGTK), forced here so every
    // engine runs it.
    let (name, db) = fresh().await;
    db.store_files_as_bytes();
    let typed = offgrid::web::idb::blob_from_bytes(b"\x89PNG photo", "image/png").unwrap();
    db.put_blob(&hash(1), &typed).await.unwrap();
    db.commit_local_action(LocalChanges {
        puts: vec![("wm_task".into(), task(2, "accepted"))],
        deletes: vec![],
        shadows: vec![],
        blobs: vec![(hash(2), blob(b"second"))],
        entry: entry(1, &sys_id(2)),
    })
    .await
    .unwrap();

    let back = db.get_blob(&hash(1)).await.unwrap().expect("stored");
    assert_eq!(back.type_(), "image/png");
    assert_eq!(blob_bytes(&back).await, b"\x89PNG photo");
    let back = db
        .get_blob(&hash(2))
        .await
        .unwrap()
        .expect("stored with its entry");
    assert_eq!(blob_bytes(&back).await, b"second");

    // Pruning sees them like any other file: hash(2)'s entry names no file, so both go.
    db.prune_blobs().await.unwrap();
    assert!(db.get_blob(&hash(1)).await.unwrap().is_none());
    assert!(db.get_blob(&hash(2)).await.unwrap().is_none());
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn drafts_round_trip_and_are_deleted() {
    let (name, db) = fresh().await;
    let draft = json!({"close_notes": "replaced the pump", "hours": 1.5, "parts": ["a", "b"], "ok": true, "none": null});
    db.put_draft("close_task:wm_task:1", &draft).await.unwrap();
    assert_eq!(
        db.get_draft("close_task:wm_task:1").await.unwrap(),
        Some(draft)
    );
    assert_eq!(db.get_draft("other").await.unwrap(), None);
    db.delete_draft("close_task:wm_task:1").await.unwrap();
    assert_eq!(db.get_draft("close_task:wm_task:1").await.unwrap(), None);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn meta_values_round_trip_and_the_stores_own_keys_are_refused() {
    let (name, db) = fresh().await;
    db.put_meta("warnings_sent", &vec![86_400i64, 14_400])
        .await
        .unwrap();
    db.put_meta(
        "settings",
        &json!({"schedule": {"enabled": true, "days": ["mon"]}}),
    )
    .await
    .unwrap();
    assert_eq!(
        db.get_meta::<Vec<i64>>("warnings_sent").await.unwrap(),
        Some(vec![86_400, 14_400])
    );
    assert_eq!(
        db.get_meta::<Value>("settings").await.unwrap(),
        Some(json!({"schedule": {"enabled": true, "days": ["mon"]}}))
    );
    db.delete_meta("warnings_sent").await.unwrap();
    assert_eq!(
        db.get_meta::<Vec<i64>>("warnings_sent").await.unwrap(),
        None
    );

    // A value of the wrong shape is an error, not a panic.
    let err = db.get_meta::<Vec<i64>>("settings").await.unwrap_err();
    assert!(matches!(err, DbError::Decode { .. }), "{err}");
    for key in ["area", "cache", "lease", "records_rev", "outbox_rev"] {
        let err = db.put_meta(key, &1).await.unwrap_err();
        assert!(matches!(err, DbError::Invalid { .. }), "{key}: {err}");
    }
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn the_sync_lease_is_exclusive_until_it_expires_or_is_released() {
    let (name, db) = fresh().await;
    assert!(db
        .acquire_lease("worker-a", 1_000.0, 30_000.0)
        .await
        .unwrap());
    assert!(!db
        .acquire_lease("worker-b", 2_000.0, 30_000.0)
        .await
        .unwrap());
    // The holder renews it.
    assert!(db
        .acquire_lease("worker-a", 20_000.0, 30_000.0)
        .await
        .unwrap());
    assert!(!db
        .acquire_lease("worker-b", 49_999.0, 30_000.0)
        .await
        .unwrap());
    // Expired: another may take it, and then the first may not.
    assert!(db
        .acquire_lease("worker-b", 50_000.0, 30_000.0)
        .await
        .unwrap());
    assert!(!db
        .acquire_lease("worker-a", 50_001.0, 30_000.0)
        .await
        .unwrap());
    // Releasing someone else's lease does nothing; releasing one's own frees it.
    db.release_lease("worker-a").await.unwrap();
    assert!(!db
        .acquire_lease("worker-a", 50_002.0, 30_000.0)
        .await
        .unwrap());
    db.release_lease("worker-b").await.unwrap();
    assert!(db
        .acquire_lease("worker-a", 50_003.0, 30_000.0)
        .await
        .unwrap());

    let err = db
        .acquire_lease("worker-a", f64::NAN, 1.0)
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Invalid { .. }), "{err}");
    finish(name, db).await;
}

/// An entry of record `n` in `state`, as stored.
fn entry_in(seq: u64, n: usize, state: EntryState) -> Entry {
    Entry {
        state,
        ..entry(seq, &sys_id(n))
    }
}

#[wasm_bindgen_test]
async fn an_entry_marked_syncing_behind_the_callers_back_is_not_removed_and_stays() {
    let (name, db) = fresh().await;
    let pending = entry_in(1, 1, EntryState::Pending);
    let behind = entry_in(2, 1, EntryState::Blocked);
    db.save_outbox(&[pending.clone(), behind.clone()], &[])
        .await
        .unwrap();
    // A sync marks it syncing after the caller read it as pending.
    let syncing = Entry {
        state: EntryState::Syncing,
        ..pending.clone()
    };
    db.save_outbox(std::slice::from_ref(&syncing), &[])
        .await
        .unwrap();
    let settled = Entry {
        state: EntryState::Pending,
        ..behind.clone()
    };

    let refused = db
        .remove_entry(&pending.id, std::slice::from_ref(&settled), 0.0)
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        RemoveError::Outbox(OutboxError::Transition(TransitionError {
            id: pending.id.clone(),
            from: EntryState::Syncing,
            attempted: "removed",
        }))
    );
    assert_eq!(
        db.outbox_entries().await.unwrap(),
        [syncing, behind],
        "nothing changed"
    );
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn a_pending_entry_is_not_removed_while_a_sync_holds_the_lease_but_a_failed_one_is() {
    let (name, db) = fresh().await;
    let pending = entry_in(1, 1, EntryState::Pending);
    let failed = entry_in(2, 2, EntryState::Failed);
    db.save_outbox(&[pending.clone(), failed.clone()], &[])
        .await
        .unwrap();
    assert!(db.acquire_lease("a-sync", 1_000.0, 30_000.0).await.unwrap());

    // The running sync loaded the pending entry and may still send it.
    let refused = db
        .remove_entry(&pending.id, &[], 2_000.0)
        .await
        .unwrap_err();
    assert_eq!(refused, RemoveError::SyncRunning);
    // A failed entry is never sent by a run.
    db.remove_entry(&failed.id, &[], 2_000.0).await.unwrap();
    assert_eq!(
        db.outbox_entries().await.unwrap(),
        std::slice::from_ref(&pending)
    );
    // Once the lease has expired, the pending entry goes too.
    db.remove_entry(&pending.id, &[], 31_000.0).await.unwrap();
    assert!(db.outbox_entries().await.unwrap().is_empty());
    let gone = db
        .remove_entry(&pending.id, &[], 31_000.0)
        .await
        .unwrap_err();
    assert_eq!(
        gone,
        RemoveError::Outbox(OutboxError::NotFound(pending.id.clone()))
    );
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn deleting_the_database_wipes_it_even_while_a_connection_is_open() {
    let (name, db) = fresh().await;
    db.put_records("wm_task", &[task(1, "assigned")])
        .await
        .unwrap();
    db.save_outbox(&[entry(1, &sys_id(1))], &[]).await.unwrap();

    // `db` is still open: it closes itself so the deletion is not blocked.
    LocalDb::delete(&name).await.unwrap();
    let err = db.count_records().await.unwrap_err();
    assert!(matches!(err, DbError::Idb { .. }), "{err}");

    let reopened = LocalDb::open(&name).await.unwrap();
    assert_eq!(reopened.count_records().await.unwrap(), 0);
    assert!(reopened.outbox_entries().await.unwrap().is_empty());
    drop(db);
    finish(name, reopened).await;
}

/// Asserts that what `db` answers (from memory once warm) is what is stored, as a connection
/// that never read anything before sees it.
async fn answers_as_stored(name: &str, db: &LocalDb, step: &str) {
    let cold = LocalDb::open(name).await.unwrap();
    for table in ["wm_task", "incident"] {
        assert_eq!(
            db.table_records(table).await.unwrap(),
            cold.table_records(table).await.unwrap(),
            "{table} after {step}"
        );
    }
    assert_eq!(
        db.outbox_entries().await.unwrap(),
        cold.outbox_entries().await.unwrap(),
        "outbox after {step}"
    );
}

#[wasm_bindgen_test]
async fn a_warm_connection_answers_as_stored_after_every_kind_of_its_own_writes() {
    let (name, db) = fresh().await;
    db.put_records("wm_task", &[task(1, "assigned"), task(2, "assigned")])
        .await
        .unwrap();
    db.put_records("incident", &[task(9, "new")]).await.unwrap();
    // Warm: both tables and the outbox are read, so kept in memory from here on.
    answers_as_stored(&name, &db, "the first read").await;
    assert_eq!(db.table_records("wm_task").await.unwrap().len(), 2);

    db.put_records("wm_task", &[task(1, "accepted"), task(3, "new")])
        .await
        .unwrap();
    answers_as_stored(&name, &db, "put_records").await;
    db.delete_record("wm_task", &sys_id(2)).await.unwrap();
    answers_as_stored(&name, &db, "delete_record").await;

    let first = entry(1, &sys_id(1));
    db.commit_local_action(LocalChanges {
        puts: vec![
            ("wm_task".into(), task(1, "work_in_progress")),
            ("incident".into(), task(10, "new")),
        ],
        deletes: vec![("wm_task".into(), sys_id(3))],
        shadows: vec![("wm_task".into(), task(1, "accepted"))],
        blobs: vec![],
        entry: first.clone(),
    })
    .await
    .unwrap();
    answers_as_stored(&name, &db, "commit_local_action").await;
    assert_eq!(db.outbox_entries().await.unwrap(), vec![first.clone()]);

    // A refused action changes nothing, in memory either.
    let clash = entry(1, &sys_id(4));
    db.commit_local_action(LocalChanges {
        puts: vec![("wm_task".into(), task(4, "accepted"))],
        deletes: vec![("wm_task".into(), sys_id(1))],
        shadows: vec![],
        blobs: vec![],
        entry: clash,
    })
    .await
    .unwrap_err();
    answers_as_stored(&name, &db, "a refused commit_local_action").await;

    let (second, third) = (entry_in(2, 1, EntryState::Blocked), entry(3, &sys_id(9)));
    db.save_outbox(&[second.clone(), third.clone()], &[])
        .await
        .unwrap();
    let changed = Entry {
        state: EntryState::Pending,
        ..first.clone()
    };
    db.save_outbox(
        std::slice::from_ref(&changed),
        std::slice::from_ref(&third.id),
    )
    .await
    .unwrap();
    answers_as_stored(&name, &db, "save_outbox").await;
    assert_eq!(
        db.outbox_entries().await.unwrap(),
        vec![changed, second.clone()]
    );

    let settled = Entry {
        state: EntryState::Pending,
        ..second
    };
    db.remove_entry(&first.id, std::slice::from_ref(&settled), 0.0)
        .await
        .unwrap();
    answers_as_stored(&name, &db, "remove_entry").await;
    assert_eq!(db.outbox_entries().await.unwrap(), vec![settled]);

    // A sync's records, in one write that also forgets a settled record's shadow.
    assert!(db.shadow("wm_task", &sys_id(1)).await.unwrap().is_some());
    db.write_records(
        &[
            ("wm_task".into(), task(1, "closed_complete")),
            ("incident".into(), task(11, "new")),
        ],
        &[("incident".into(), sys_id(9))],
        &[("wm_task".into(), sys_id(1))],
    )
    .await
    .unwrap();
    answers_as_stored(&name, &db, "write_records").await;
    assert_eq!(
        db.table_records("incident").await.unwrap(),
        vec![task(10, "new"), task(11, "new")]
    );
    assert_eq!(db.shadow("wm_task", &sys_id(1)).await.unwrap(), None);

    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(20..23, "accepted")).await.unwrap();
    // Staging touches only the area nobody reads.
    answers_as_stored(&name, &db, "staging").await;
    db.swap_in(staging, &meta(3)).await.unwrap();
    answers_as_stored(&name, &db, "swap_in").await;
    assert_eq!(db.table_records("wm_task").await.unwrap().len(), 3);

    db.clear_cache().await.unwrap();
    answers_as_stored(&name, &db, "clear_cache").await;
    assert!(db.table_records("wm_task").await.unwrap().is_empty());
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn a_warm_connection_sees_the_writes_of_another_connection() {
    let (name, db) = fresh().await;
    db.put_records("wm_task", &[task(1, "assigned")])
        .await
        .unwrap();
    let first = entry(1, &sys_id(1));
    db.save_outbox(std::slice::from_ref(&first), &[])
        .await
        .unwrap();
    answers_as_stored(&name, &db, "the first read").await;

    let other = LocalDb::open(&name).await.unwrap();
    other
        .put_records("wm_task", &[task(1, "accepted"), task(2, "new")])
        .await
        .unwrap();
    let second = entry(2, &sys_id(2));
    other
        .save_outbox(
            std::slice::from_ref(&second),
            std::slice::from_ref(&first.id),
        )
        .await
        .unwrap();
    assert_eq!(
        db.table_records("wm_task").await.unwrap(),
        vec![task(1, "accepted"), task(2, "new")]
    );
    assert_eq!(db.outbox_entries().await.unwrap(), vec![second]);

    // Its own write after another's: what it kept is not patched but read again.
    other.delete_record("wm_task", &sys_id(2)).await.unwrap();
    db.put_records("wm_task", &[task(3, "new")]).await.unwrap();
    assert_eq!(
        db.table_records("wm_task").await.unwrap(),
        vec![task(1, "accepted"), task(3, "new")]
    );
    drop(other);
    finish(name, db).await;
}

#[wasm_bindgen_test]
async fn an_upgrade_keeps_the_stored_data_and_an_older_build_is_refused() {
    let name = format!("offgrid:test-{}", new_sys_id());
    let newer = SCHEMA_VERSION + 1;
    let v1 = LocalDb::open_at_version(&name, 1).await.unwrap();
    let e = entry(1, &sys_id(1));
    v1.put_records("wm_task", &[task(1, "assigned")])
        .await
        .unwrap();
    v1.save_outbox(std::slice::from_ref(&e), &[]).await.unwrap();
    drop(v1);

    let upgraded = LocalDb::open_at_version(&name, newer).await.unwrap();
    assert_eq!(upgraded.version(), f64::from(newer));
    assert_eq!(
        upgraded.get_record("wm_task", &sys_id(1)).await.unwrap(),
        Some(task(1, "assigned"))
    );
    assert_eq!(upgraded.outbox_entries().await.unwrap(), vec![e]);
    drop(upgraded);

    // This build's schema is older than the stored one: refused, with the browser's reason,
    // and the data is left alone.
    let err = match LocalDb::open(&name).await {
        Ok(_) => panic!("an older schema must not open a newer database"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("VersionError"), "{err}");
    let again = LocalDb::open_at_version(&name, newer).await.unwrap();
    assert_eq!(again.count_records().await.unwrap(), 1);
    finish(name, again).await;
}

#[wasm_bindgen_test]
fn errors_become_js_errors_at_the_edge() {
    let err = DbError::Invalid {
        op: "save a setting",
        message: "nope".into(),
    };
    let js: JsValue = err.into();
    let js_err: js_sys::Error = wasm_bindgen::JsCast::dyn_into(js).unwrap();
    assert_eq!(
        String::from(js_err.message()),
        "local storage could not save a setting: nope"
    );
}

/// Asserts that each query's page from `db`'s list read (`live_table`, then `page_view`) is
/// the page of the stored records, as a connection that never read anything before sees them.
async fn lists_as_stored(name: &str, db: &LocalDb, queries: &[&str], step: &str) {
    let ctx = QueryContext {
        user_name: "beth.anglin".into(),
        user_sys_id: String::new(),
    };
    let stored = LocalDb::open(name)
        .await
        .unwrap()
        .table_records("wm_task")
        .await
        .unwrap();
    for query in queries {
        let params = ListParams {
            query: Query::parse(query).unwrap(),
            limit: 100,
            offset: 0,
            fields: None,
        };
        let view = db
            .live_table("wm_task", &params.query.narrowing(&ctx))
            .await
            .unwrap()
            .expect("a cache is live");
        assert_eq!(
            params.page_view(&view, &ctx),
            params.page(stored.clone(), &ctx),
            "{query} after {step}"
        );
    }
}

#[wasm_bindgen_test]
async fn a_list_read_through_an_index_sees_every_write_its_own_and_another_connections() {
    let (name, db) = fresh().await;
    assert!(db.live_table("wm_task", &[]).await.unwrap().is_none());
    let mut staging = db.begin_staging().await.unwrap();
    staging.put_batch(&tasks(0..6, "assigned")).await.unwrap();
    staging.put_batch(&tasks(6..10, "accepted")).await.unwrap();
    db.swap_in(staging, &meta(10)).await.unwrap();
    let mut other_user = task(11, "assigned");
    other_user.set("assigned_to", "fred.luddy");
    db.put_records("wm_task", &[other_user]).await.unwrap();

    // Bound to indexed values: a just-started connection reads only those records.
    let assigned = [("state".to_string(), vec!["assigned".to_string()])];
    let slice = db.live_table("wm_task", &assigned).await.unwrap().unwrap();
    assert_eq!(slice.records().len(), 7, "the assigned tasks alone");
    let indexed = [
        "state=assigned^ORDERBYDESCnumber",
        "stateINassigned,accepted^ORDERBYnumber",
        "assigned_to=fred.luddy^state=assigned^ORDERBYnumber",
        "state=assigned",
    ];
    lists_as_stored(&name, &db, &indexed, "the first read").await;

    db.put_records(
        "wm_task",
        &[
            task(1, "accepted"),
            task(7, "assigned"),
            task(20, "assigned"),
        ],
    )
    .await
    .unwrap();
    lists_as_stored(&name, &db, &indexed, "its own put").await;
    db.delete_record("wm_task", &sys_id(2)).await.unwrap();
    lists_as_stored(&name, &db, &indexed, "its own delete").await;

    let other = LocalDb::open(&name).await.unwrap();
    other
        .put_records("wm_task", &[task(3, "accepted"), task(8, "assigned")])
        .await
        .unwrap();
    lists_as_stored(&name, &db, &indexed, "another connection's put").await;
    other.delete_record("wm_task", &sys_id(4)).await.unwrap();
    db.put_records("wm_task", &[task(9, "assigned")])
        .await
        .unwrap();
    lists_as_stored(&name, &db, &indexed, "another's delete, then its own put").await;

    // Not bound to an indexed value: the whole table, kept and changed the same way.
    let whole = [
        "priority=2^ORDERBYnumber",
        "ORDERBYDESCstate",
        "numberLIKE1",
    ];
    lists_as_stored(&name, &db, &whole, "the first read of the whole table").await;
    other
        .put_records("wm_task", &[task(5, "accepted")])
        .await
        .unwrap();
    db.put_records("wm_task", &[task(6, "new")]).await.unwrap();
    lists_as_stored(&name, &db, &whole, "another's put, then its own").await;
    db.put_records("wm_task", &[task(0, "new")]).await.unwrap();
    lists_as_stored(&name, &db, &whole, "its own put").await;
    lists_as_stored(&name, &db, &indexed, "its own put").await;
    drop(other);
    finish(name, db).await;
}
