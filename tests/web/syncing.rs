//! Syncing: concurrent workers, interrupted syncs, periodic retries and the events pages hear.

use crate::support::*;
use offgrid::outbox::{Entry, Outbox};
use offgrid::record::{new_sys_id, Timestamp};
use offgrid::web::idb::LocalDb;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{BroadcastChannel, MessageEvent};

#[wasm_bindgen_test]
async fn two_workers_syncing_at_once_send_each_change_once() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task = task("assigned", 0).await;
    let task_id = id(&task);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    assert_eq!(act(&rt, "start_work", &task_id, json!({})).await.0, 202);
    rt.network().force(None);
    // A second worker (another tab's, or a restarted one) on the same databases.
    let other = open(&prefix, INSTANCE).await;
    let (a, b) = futures::future::join(
        call(&rt, "POST", "/offgrid/sync", None),
        call(&other, "POST", "/offgrid/sync", None),
    )
    .await;
    let mut applied = 0;
    for (s, body) in [&a, &b] {
        match s {
            200 => applied += body["applied"].as_u64().unwrap(),
            409 => assert_eq!(body["error"]["code"], "sync_running", "{body}"),
            _ => panic!("unexpected answer {s}: {body}"),
        }
    }
    assert_eq!(applied, 2, "{a:?} {b:?}");
    let now = instance_record("wm_task", &task_id).await;
    assert_eq!(now["state"], "work_in_progress");
    assert_eq!(
        now["sys_mod_count"].as_i64(),
        Some(task["sys_mod_count"].as_i64().unwrap() + 2)
    );
    drop(other);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn pages_hear_download_sync_progress_and_outbox_changes() {
    let heard = Rc::new(RefCell::new(Vec::<Value>::new()));
    let channel = BroadcastChannel::new("offgrid").unwrap();
    let sink = heard.clone();
    let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let text = js_sys::JSON::stringify(&event.data()).unwrap();
        sink.borrow_mut()
            .push(serde_json::from_str(&String::from(text)).unwrap());
    });
    channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));

    let (rt, prefix) = signed_in().await;
    let done = download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    rt.network().force(None);
    assert_eq!(sync(&rt).await["applied"], 1);
    // Messages arrive as tasks of the event loop.
    sleep_ms(200).await;
    channel.close();
    let heard = heard.borrow().clone();
    let of = |kind: &str| {
        heard
            .iter()
            .filter(|m| m["type"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let progress = of("download-progress");
    let last = progress.last().expect("download progress");
    assert_eq!(last["done"], done["received"]);
    assert_eq!(last["total"], done["total"]);
    assert!(of("outbox-changed")
        .iter()
        .any(|m| m["outbox"]["pending"] == 1));
    // One report per batch sent: here one batch.
    let syncs = of("sync-progress");
    assert_eq!(syncs.len(), 1, "{syncs:?}");
    assert_eq!(
        (
            &syncs[0]["report"]["applied"],
            &syncs[0]["report"]["remaining"]
        ),
        (&json!(1), &json!(0))
    );
    assert!(of("record-changed")
        .iter()
        .any(|m| m["sys_id"] == task_id.as_str()));
    assert!(!of("status").is_empty());
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn the_periodic_check_retries_an_entry_once_its_backoff_is_over() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task = task("assigned", 2).await;
    let task_id = id(&task);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);

    // The network is up but the instance cannot be reached: the entry backs off.
    let now = rt.clock().now();
    let unreachable = open(&prefix, "http://127.0.0.1:9").await;
    unreachable.clock().set(Some(now));
    unreachable.sync_if_online().await;
    drop(unreachable);
    let waiting = outbox(&rt).await;
    assert_eq!(waiting[0]["state"], "pending", "{waiting:?}");
    assert_eq!(waiting[0]["attempts"], 1);

    // Before the backoff is over the periodic check sends nothing ...
    rt.network().force(None);
    rt.clock().set(Some(now.plus(2)));
    rt.periodic().await;
    assert_eq!(outbox(&rt).await[0]["attempts"], 1);
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "assigned"
    );

    // ... after it, the periodic check syncs the entry by itself.
    rt.clock().set(Some(now.plus(3600)));
    rt.periodic().await;
    assert!(outbox(&rt).await.is_empty());
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "accepted"
    );
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_sync_interrupted_after_sending_applies_nothing_twice() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task = task("assigned", 0).await;
    let task_id = id(&task);
    let note = format!("note {}", new_sys_id());
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    assert_eq!(
        act(&rt, "add_work_note", &task_id, json!({"note": note}))
            .await
            .0,
        202
    );

    // A worker that marked the batch syncing, sent it, and died before storing the answer.
    let db = LocalDb::open(&format!("{prefix}:{USER}")).await.unwrap();
    let mut marked = Outbox::from_entries(db.outbox_entries().await.unwrap());
    let sent: Vec<Entry> = marked.begin_sync(Timestamp::from_unix(i64::MAX / 2), 50);
    assert_eq!(sent.len(), 2);
    db.save_outbox(&sent, &[]).await.unwrap();
    drop(db);
    rt.network().force(None);
    let (s, first) = instance_sync_as_beth(&sent).await;
    assert_eq!(s, 200, "{first}");
    let after_first = instance_record("wm_task", &task_id).await;
    assert_eq!(after_first["state"], "accepted");

    let states: Vec<String> = outbox(&rt)
        .await
        .iter()
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        states,
        ["syncing", "syncing"],
        "left syncing by the dead worker"
    );
    let report = sync(&rt).await;
    assert_eq!(report["applied"], 2, "{report}");
    assert!(outbox(&rt).await.is_empty());
    let now = instance_record("wm_task", &task_id).await;
    assert_eq!(
        now["sys_mod_count"], after_first["sys_mod_count"],
        "applied once"
    );
    let (_, journal) = instance(
        "admin",
        "GET",
        &format!(
            "/api/now/table/sys_journal_field?sysparm_query=element_id={task_id}^value={note}"
        ),
        None,
    )
    .await;
    assert_eq!(
        journal["result"].as_array().map(Vec::len),
        Some(1),
        "{journal}"
    );
    finish(rt, &prefix).await;
}
