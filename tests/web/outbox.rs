//! The outbox: actions queued offline, their seqs, conflicts, resolving, deleting, blocked entries.

use crate::support::*;
use serde_json::json;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn actions_queued_offline_change_the_cached_record_and_fill_the_outbox() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task = task("assigned", 0).await;
    let task_id = id(&task);
    rt.network().force(Some(false));

    let (s, body) = act(&rt, "accept_task", &task_id, json!({"note": "on my way"})).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["result"]["state"], "accepted");
    let outbox_id = body["outbox_id"].as_str().unwrap().to_string();

    let (_, cached, headers) = call_with_headers(
        &rt,
        "GET",
        &format!("/api/now/table/wm_task/{task_id}"),
        None,
    )
    .await;
    assert_eq!(
        headers.get("X-Offgrid-Source").unwrap().as_deref(),
        Some("cache")
    );
    assert_eq!(cached["result"]["state"], "accepted");
    assert_eq!(
        cached["result"]["sys_mod_count"].as_i64(),
        Some(task["sys_mod_count"].as_i64().unwrap() + 1)
    );

    let entries = outbox(&rt).await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["id"], outbox_id.as_str());
    assert_eq!(entry["seq"], 1);
    assert_eq!(entry["user"], USER);
    assert_eq!(entry["action"], "accept_task");
    assert_eq!(entry["sys_id"], task_id.as_str());
    assert_eq!(entry["state"], "pending");
    assert_eq!(entry["inputs"]["note"], "on my way");
    assert_eq!(entry["base"]["mod_count"], task["sys_mod_count"]);
    assert_eq!(entry["base"]["fields"]["state"], "assigned");

    let (s, body) = act(&rt, "no_such_action", &task_id, json!({})).await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("unknown_action"))
    );
    let (s, body) = act(
        &rt,
        "reassign",
        &task_id,
        json!({"assigned_to": "abel.tuter"}),
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (409, Some("unavailable_offline"))
    );
    let (s, body) = act(&rt, "add_work_note", &task_id, json!({})).await;
    assert_eq!(s, 422, "a required input is missing: {body}");
    assert!(
        body["error"]["detail"]["inputs"]["note"].is_string(),
        "{body}"
    );
    assert_eq!(outbox(&rt).await.len(), 1, "refused actions queue nothing");

    let st = status(&rt).await;
    assert_eq!(st["mode"], "offline");
    assert_eq!(st["network"], false);
    assert_eq!(st["outbox"]["pending"], 1);
    // The instance has not seen the change.
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "assigned"
    );

    // Deleting the pending entry rolls the record back to its shadow.
    let (s, body) = call(&rt, "DELETE", &format!("/offgrid/outbox/{outbox_id}"), None).await;
    assert_eq!(s, 200, "{body}");
    let (_, cached) = call(
        &rt,
        "GET",
        &format!("/api/now/table/wm_task/{task_id}"),
        None,
    )
    .await;
    assert_eq!(cached["result"], task, "back to the instance's version");
    assert!(outbox(&rt).await.is_empty());
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn actions_queued_at_the_same_time_get_distinct_seqs_in_order() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let mut tasks = Vec::new();
    for n in 0..4 {
        tasks.push(id(&task("assigned", n).await));
    }
    rt.network().force(Some(false));
    let answers = futures::future::join_all(
        tasks
            .iter()
            .map(|t| act(&rt, "add_work_note", t, json!({"note": "at once"}))),
    )
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 202), "{answers:?}");
    let seqs: Vec<u64> = outbox(&rt)
        .await
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_conflict_fails_and_resolving_it_applies_the_rebased_change() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("work_in_progress", 0).await);
    rt.network().force(Some(false));
    let (s, body) = act(
        &rt,
        "close_complete",
        &task_id,
        json!({"close_notes": "replaced the fuse"}),
    )
    .await;
    assert_eq!(s, 202, "{body}");
    // Meanwhile the dispatcher writes the close notes on the instance.
    let (s, body) = instance(
        "fred.luddy",
        "PATCH",
        &format!("/api/now/table/wm_task/{task_id}"),
        Some(json!({"close_notes": "customer reports it works"})),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    rt.network().force(None);
    let report = sync(&rt).await;
    assert_eq!(
        (report["applied"].as_u64(), report["failed"].as_u64()),
        (Some(0), Some(1)),
        "{report}"
    );
    let entries = outbox(&rt).await;
    assert_eq!(entries[0]["state"], "failed");
    assert_eq!(
        entries[0]["error"]["record"]["close_notes"],
        "customer reports it works"
    );
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "work_in_progress"
    );

    let (s, body) = call(
        &rt,
        "POST",
        &format!(
            "/offgrid/outbox/{}/resolve",
            entries[0]["id"].as_str().unwrap()
        ),
        Some(json!({"inputs": {"close_notes": "replaced the fuse; customer confirms"}})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["entry"]["state"], "pending");
    assert_eq!(
        body["entry"]["base"]["fields"]["close_notes"],
        "customer reports it works"
    );
    let report = sync(&rt).await;
    assert_eq!(report["applied"], 1, "{report}");
    let now = instance_record("wm_task", &task_id).await;
    assert_eq!(now["state"], "closed_complete");
    assert_eq!(now["close_notes"], "replaced the fuse; customer confirms");
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn resolving_rebases_on_the_instances_record_as_it_is_now_not_as_it_was_when_the_sync_failed()
{
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let path = format!("/api/now/table/wm_task/{task_id}");
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    let closed = json!({"state": "closed_complete", "close_notes": "closed by dispatch"});
    let (s, _) = instance("fred.luddy", "PATCH", &path, Some(closed)).await;
    assert_eq!(s, 200);
    rt.network().force(None);
    assert_eq!(sync(&rt).await["failed"], 1);
    let entry_id = outbox(&rt).await[0]["id"].as_str().unwrap().to_string();
    // The dispatcher reopens the task; the device, in offline mode, still holds the failed
    // sync's closed version in the entry's error.
    let (s, _) = instance(
        "fred.luddy",
        "PATCH",
        &path,
        Some(json!({"state": "assigned"})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = call(&rt, "POST", "/offgrid/mode", Some(json!({"offline": true}))).await;
    assert_eq!(s, 200, "{body}");

    let resolve = format!("/offgrid/outbox/{entry_id}/resolve");
    let (s, body) = call(&rt, "POST", &resolve, Some(json!({"inputs": {}}))).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["entry"]["state"], "pending");
    assert_eq!(sync(&rt).await["applied"], 1);
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "accepted"
    );
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn deleting_a_failed_entry_rolls_the_record_back_to_the_instance_version() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    let (s, _) = instance(
        "fred.luddy",
        "PATCH",
        &format!("/api/now/table/wm_task/{task_id}"),
        Some(json!({"state": "closed_complete", "close_notes": "closed by dispatch"})),
    )
    .await;
    assert_eq!(s, 200);
    rt.network().force(None);
    assert_eq!(sync(&rt).await["failed"], 1);
    let entry_id = outbox(&rt).await[0]["id"].as_str().unwrap().to_string();

    let (s, body) = call(&rt, "DELETE", &format!("/offgrid/outbox/{entry_id}"), None).await;
    assert_eq!(s, 200, "{body}");
    assert!(outbox(&rt).await.is_empty());
    rt.network().force(Some(false));
    let (_, cached) = call(
        &rt,
        "GET",
        &format!("/api/now/table/wm_task/{task_id}"),
        None,
    )
    .await;
    assert_eq!(cached["result"]["state"], "closed_complete", "{cached}");
    assert_eq!(cached["result"]["close_notes"], "closed by dispatch");
    let (s, _) = call(&rt, "DELETE", &format!("/offgrid/outbox/{entry_id}"), None).await;
    assert_eq!(s, 404, "a deleted entry is gone");
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn entries_behind_a_failed_one_are_blocked_until_it_is_deleted() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let other_id = id(&task("assigned", 1).await);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    let (s, body) = act(&rt, "start_work", &task_id, json!({})).await;
    assert_eq!(s, 202, "start_work sees the offline acceptance: {body}");
    assert_eq!(act(&rt, "accept_task", &other_id, json!({})).await.0, 202);
    let (s, _) = instance(
        "fred.luddy",
        "PATCH",
        &format!("/api/now/table/wm_task/{task_id}"),
        Some(json!({"state": "cancelled"})),
    )
    .await;
    assert_eq!(s, 200);
    rt.network().force(None);
    let report = sync(&rt).await;
    assert_eq!(
        report["applied"], 1,
        "the other record's entry goes through: {report}"
    );
    assert_eq!(report["failed"], 1);
    assert_eq!(report["blocked"], 1);
    let entries = outbox(&rt).await;
    let states: Vec<&str> = entries
        .iter()
        .map(|e| e["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["failed", "blocked"]);
    assert_eq!(
        instance_record("wm_task", &other_id).await["state"],
        "accepted"
    );

    let failed = entries[0]["id"].as_str().unwrap();
    assert_eq!(
        call(&rt, "DELETE", &format!("/offgrid/outbox/{failed}"), None)
            .await
            .0,
        200
    );
    let entries = outbox(&rt).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "start_work");
    assert_eq!(
        entries[0]["state"], "pending",
        "unblocked once the failed entry is gone"
    );
    finish(rt, &prefix).await;
}
