//! The user's settings: offline mode, the download schedule, logout and drafts.

use crate::support::*;
use offgrid::record::Timestamp;
use offgrid::schedule::Decision;
use offgrid::web::idb::LocalDb;
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn offline_mode_downloads_first_queues_actions_and_syncs_when_turned_off() {
    let (rt, prefix) = signed_in().await;
    let (s, body) = call(&rt, "POST", "/offgrid/mode", Some(json!({"offline": true}))).await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body["download"]["received"].as_u64().unwrap() > 0,
        "downloaded first: {body}"
    );
    let task = task("assigned", 0).await;
    let task_id = id(&task);
    // The network works, but offline mode queues.
    let (s, body) = act(&rt, "accept_task", &task_id, json!({})).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "assigned"
    );

    let (s, body) = call(
        &rt,
        "POST",
        "/offgrid/mode",
        Some(json!({"offline": false})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["sync"]["applied"], 1, "{body}");
    assert_eq!(body["sync"]["remaining"], 0);
    let now = instance_record("wm_task", &task_id).await;
    assert_eq!(now["state"], "accepted");
    assert_eq!(
        now["sys_mod_count"].as_i64(),
        Some(task["sys_mod_count"].as_i64().unwrap() + 1)
    );
    assert!(outbox(&rt).await.is_empty());
    // The outbox is empty and the user is online: the policy clears the cache.
    assert_eq!(body["sync"]["cache_cleared"], true);
    assert_eq!(status(&rt).await["cache"]["present"], false);

    // Online with offline mode off, actions run live on the instance.
    let (s, body) = act(&rt, "start_work", &task_id, json!({})).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.get("outbox_id").is_none());
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "work_in_progress"
    );
    assert!(outbox(&rt).await.is_empty());
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn scheduled_downloads_happen_once_a_slot_has_passed() {
    let (rt, prefix) = signed_in().await;
    let (s, body) = call(
        &rt,
        "PUT",
        "/offgrid/settings",
        Some(json!({"schedule": {"enabled": true, "days": ["mon"], "time": "25:00"}})),
    )
    .await;
    assert_eq!(s, 400, "a bad time is refused: {body}");
    let (s, body) = call(
        &rt,
        "PUT",
        "/offgrid/settings",
        Some(json!({"schedule": {"enabled": true, "days": ["mon"], "time": "07:00", "wifi_only": false}})),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    // 2026-11-23 is a Monday.
    let at = |text: &str| Timestamp::parse(text).unwrap();
    // Never downloaded, and last Monday's slot has passed: download.
    rt.clock().set(Some(at("2026-11-22 12:00:00")));
    assert_eq!(status(&rt).await["cache"]["present"], false);
    assert_eq!(rt.schedule_check().await.unwrap(), Decision::Download);
    assert_eq!(
        status(&rt).await["cache"]["downloaded_at"],
        "2026-11-22 12:00:00"
    );

    rt.clock().set(Some(at("2026-11-23 06:59:00")));
    assert_eq!(rt.schedule_check().await.unwrap(), Decision::NotDue);
    assert_eq!(status(&rt).await["next_download"], "2026-11-23 07:00:00");

    rt.clock().set(Some(at("2026-11-23 07:05:00")));
    assert_eq!(rt.schedule_check().await.unwrap(), Decision::Download);
    let st = status(&rt).await;
    assert_eq!(st["cache"]["present"], true, "{st}");
    assert_eq!(st["cache"]["downloaded_at"], "2026-11-23 07:05:00");
    assert_eq!(st["next_download"], "2026-11-30 07:00:00");

    rt.clock().set(Some(at("2026-11-23 09:00:00")));
    assert_eq!(
        rt.schedule_check().await.unwrap(),
        Decision::NotDue,
        "already downloaded"
    );

    // Wi-Fi only, on a browser that does not report the connection type.
    let (s, _) = call(
        &rt,
        "PUT",
        "/offgrid/settings",
        Some(json!({"schedule": {"enabled": true, "days": ["mon"], "time": "07:00", "wifi_only": true}})),
    )
    .await;
    assert_eq!(s, 200);
    rt.clock().set(Some(at("2026-11-30 07:01:00")));
    if rt.network().connection_type().is_none() {
        assert_eq!(
            rt.schedule_check().await.unwrap(),
            Decision::ConnectionUnknown
        );
        let st = status(&rt).await;
        assert_eq!(
            st["cache"]["downloaded_at"], "2026-11-23 07:05:00",
            "no download"
        );
        assert!(
            st["warnings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w["code"] == "connection_unknown"),
            "{st}"
        );
    }
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn logout_refuses_to_drop_unsynced_changes_unless_told_to() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    let (s, body) = call(&rt, "POST", "/offgrid/logout", Some(json!({}))).await;
    assert_eq!((s, body["error"]["code"].as_str()), (409, Some("unsynced")));
    assert!(rt.user().is_some());
    let (s, body) = call(
        &rt,
        "POST",
        "/offgrid/logout",
        Some(json!({"discard_unsynced": true})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["discarded"], 1);
    assert!(rt.user().is_none());
    let st = status(&rt).await;
    assert_eq!(st["user"], Value::Null);
    // The user's database is gone: opening it again finds an empty outbox.
    let db = LocalDb::open(&format!("{prefix}:{USER}")).await.unwrap();
    assert!(db.outbox_entries().await.unwrap().is_empty());
    drop(db);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn drafts_are_kept_and_unknown_local_paths_are_404() {
    let (rt, prefix) = signed_in().await;
    let (s, _) = call(
        &rt,
        "PUT",
        "/offgrid/drafts/close%2F1",
        Some(json!({"close_notes": "half"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = call(&rt, "GET", "/offgrid/drafts/close%2F1", None).await;
    assert_eq!((s, &body["draft"]["close_notes"]), (200, &json!("half")));
    assert_eq!(
        call(&rt, "DELETE", "/offgrid/drafts/close%2F1", None)
            .await
            .0,
        200
    );
    assert_eq!(
        call(&rt, "GET", "/offgrid/drafts/close%2F1", None).await.0,
        404
    );
    let (s, body) = call(&rt, "GET", "/offgrid/nothing-here", None).await;
    assert_eq!((s, body["status"].as_str()), (404, Some("failure")));
    finish(rt, &prefix).await;
}
