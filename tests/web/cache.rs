//! The cache: downloads, queries answered from it, freshness, failed downloads, quota, expiry.

use crate::support::*;
use offgrid::record::{new_sys_id, Timestamp};
use offgrid::web::runtime::StorageEstimate;
use serde_json::json;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::Response;

#[wasm_bindgen_test]
async fn a_downloaded_cache_answers_queries_like_the_instance() {
    let (rt, prefix) = signed_in().await;
    let done = download(&rt).await;
    let received = done["received"].as_u64().unwrap();
    assert!(
        received > 100,
        "the demo scope holds hundreds of records: {done}"
    );
    let st = status(&rt).await;
    assert_eq!(st["cache"]["present"], true);
    assert_eq!(st["cache"]["records"].as_u64(), Some(received));

    let scope = "assigned_to=javascript:gs.getUserName()^state!=closed_complete^state!=closed_incomplete^state!=cancelled";
    let queries = [
        format!("sysparm_query={scope}"),
        format!("sysparm_query={scope}^priority<=2^ORDERBYnumber"),
        format!("sysparm_query={scope}^short_descriptionLIKEfibre^ORDERBYDESCnumber"),
        format!("sysparm_query={scope}^stateINassigned,accepted^ORDERBYpriority^ORDERBYnumber&sysparm_offset=5&sysparm_limit=7"),
        format!("sysparm_query={scope}^priority=1^ORpriority=4^ORDERBYwindow_start&sysparm_fields=number,state"),
    ];
    for query in &queries {
        let path = format!("/api/now/table/wm_task?{query}");
        rt.network().force(None);
        let (s1, online, h1) = call_with_headers(&rt, "GET", &path, None).await;
        rt.network().force(Some(false));
        let (s2, offline, h2) = call_with_headers(&rt, "GET", &path, None).await;
        assert_eq!((s1, s2), (200, 200), "{query}: {online} / {offline}");
        assert_eq!(h1.get("X-Offgrid-Source").unwrap(), None);
        assert_eq!(
            h2.get("X-Offgrid-Source").unwrap().as_deref(),
            Some("cache")
        );
        assert_eq!(ids(&online), ids(&offline), "{query}");
        assert_eq!(
            h1.get("X-Total-Count").unwrap(),
            h2.get("X-Total-Count").unwrap(),
            "{query}"
        );
        assert_eq!(online, offline, "{query}: same records, same fields");
    }
    let (bad, body) = call(
        &rt,
        "GET",
        "/api/now/table/wm_task?sysparm_query=state%3Fassigned",
        None,
    )
    .await;
    assert_eq!(bad, 400, "{body}");
    assert_eq!(body["status"], "failure");
    assert_eq!(body["error"]["code"], "invalid_query");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("position"),
        "{body}"
    );

    // A restarted worker, offline, knows whose data to open.
    let again = open(&prefix, INSTANCE).await;
    again.network().force(Some(false));
    let first = ids(&call(
        &again,
        "GET",
        &format!("/api/now/table/wm_task?sysparm_query={scope}"),
        None,
    )
    .await
    .1);
    rt.network().force(Some(false));
    let before = ids(&call(
        &rt,
        "GET",
        &format!("/api/now/table/wm_task?sysparm_query={scope}"),
        None,
    )
    .await
    .1);
    assert!(!first.is_empty());
    assert_eq!(first, before);
    drop(again);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn offline_a_table_the_scope_does_not_keep_is_not_cached_and_an_unknown_one_unknown() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let (status, online) = call(&rt, "GET", "/api/now/table/sys_user?sysparm_limit=1", None).await;
    assert_eq!(
        status, 200,
        "everyone signed in reads users online: {online}"
    );
    rt.network().force(Some(false));
    let (status, body) = call(&rt, "GET", "/api/now/table/sys_user?sysparm_limit=1", None).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["error"]["code"], "not_cached",
        "not an empty list: {body}"
    );
    let (status, body) = call(&rt, "GET", "/api/now/table/no_such_table", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "unknown_table", "{body}");
    rt.network().force(None);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn live_actions_and_online_reads_keep_the_cache_fresh() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let (s, body) = act(&rt, "accept_task", &task_id, json!({})).await;
    assert_eq!(s, 200, "live: {body}");
    let other = task("assigned", 0).await;
    let other_id = id(&other);
    let description = format!("{} (updated)", other["short_description"].as_str().unwrap());
    let (s, _) = instance(
        "fred.luddy",
        "PATCH",
        &format!("/api/now/table/wm_task/{other_id}"),
        Some(json!({ "short_description": description })),
    )
    .await;
    assert_eq!(s, 200);
    // An online read passes the instance's answer through and refreshes the cached copy.
    let (s, online) = call(
        &rt,
        "GET",
        &format!("/api/now/table/wm_task/{other_id}"),
        None,
    )
    .await;
    assert_eq!(
        (s, &online["result"]["short_description"]),
        (200, &json!(description))
    );

    rt.network().force(Some(false));
    let (_, cached) = call(
        &rt,
        "GET",
        &format!("/api/now/table/wm_task/{task_id}"),
        None,
    )
    .await;
    assert_eq!(cached["result"]["state"], "accepted", "{cached}");
    let (_, cached) = call(
        &rt,
        "GET",
        &format!("/api/now/table/wm_task/{other_id}"),
        None,
    )
    .await;
    assert_eq!(cached["result"]["short_description"], description.as_str());
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_failed_download_leaves_the_previous_cache() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let before = status(&rt).await["cache"].clone();
    let scope_path = "/api/now/table/wm_task?sysparm_query=assigned_to=javascript:gs.getUserName()^ORDERBYnumber";
    rt.network().force(Some(false));
    let cached = ids(&call(&rt, "GET", scope_path, None).await.1);
    rt.network().force(None);

    // A corrupt stream: a valid start, then garbage.
    let record = json!({"type": "record", "table": "wm_task", "record": {"sys_id": new_sys_id(), "number": "WOT-NEW"}});
    let corrupt = format!(
        "{}\n{record}\n{{\"type\": \"record\", \"table\"\n",
        json!({"type": "header", "total": 3, "watermark": "9", "full": true})
    );
    let err = rt
        .store_feed_response(&Response::new_with_opt_str(Some(&corrupt)).unwrap(), false)
        .await
        .expect_err("a corrupt feed is refused");
    assert!(err.to_string().contains("line 3"), "{err}");
    // A stream that stops before its end line.
    let cut = format!(
        "{}\n{record}\n",
        json!({"type": "header", "total": 3, "watermark": "9", "full": true})
    );
    rt.store_feed_response(&Response::new_with_opt_str(Some(&cut)).unwrap(), false)
        .await
        .expect_err("an incomplete feed is refused");
    // An instance that cannot be reached.
    let unreachable = open(&prefix, "http://127.0.0.1:9").await;
    let (s, body) = call(
        &unreachable,
        "POST",
        "/offgrid/cache/download?full=true",
        None,
    )
    .await;
    assert_eq!(s, 503, "{body}");
    drop(unreachable);

    assert_eq!(status(&rt).await["cache"], before);
    rt.network().force(Some(false));
    assert_eq!(ids(&call(&rt, "GET", scope_path, None).await.1), cached);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_download_refused_for_lack_of_space_harms_neither_cache_nor_outbox() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);
    let before_cache = status(&rt).await["cache"].clone();
    let before_outbox = outbox(&rt).await;
    let scope_path = "/api/now/table/wm_task?sysparm_query=ORDERBYnumber";
    let cached = call(&rt, "GET", scope_path, None).await.1;
    rt.network().force(None);

    rt.network().force_storage(Some(StorageEstimate {
        usage: 999_000_000.0,
        quota: 1_000_000_000.0,
    }));
    let (s, body) = call(&rt, "POST", "/offgrid/cache/download?full=true", None).await;
    assert_eq!(s, 507, "{body}");
    assert_eq!(body["error"]["code"], "quota", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(": 1.0 MB free, about "), "{body}");
    rt.network().force_storage(None);

    assert_eq!(status(&rt).await["cache"], before_cache);
    assert_eq!(outbox(&rt).await, before_outbox);
    rt.network().force(Some(false));
    assert_eq!(call(&rt, "GET", scope_path, None).await.1, cached);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn an_expired_cache_is_deleted_and_the_outbox_kept() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let downloaded_at = Timestamp::parse(
        status(&rt).await["cache"]["downloaded_at"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let task_id = id(&task("assigned", 0).await);
    rt.network().force(Some(false));
    assert_eq!(act(&rt, "accept_task", &task_id, json!({})).await.0, 202);

    let ttl = 172_800;
    rt.clock().set(Some(downloaded_at.plus(ttl - 90_000)));
    assert!(
        rt.expiry_check().await.unwrap().is_empty(),
        "no threshold crossed yet"
    );
    rt.clock().set(Some(downloaded_at.plus(ttl - 3_000)));
    let warnings = rt.expiry_check().await.unwrap();
    let thresholds: Vec<i64> = warnings
        .iter()
        .map(|w| w["before_s"].as_i64().unwrap())
        .collect();
    assert_eq!(
        thresholds,
        [3_600, 14_400, 86_400],
        "every crossed threshold, most urgent first"
    );
    assert!(
        rt.expiry_check().await.unwrap().is_empty(),
        "each warning is given once"
    );
    let st = status(&rt).await;
    assert_eq!(st["warnings"][0]["code"], "expiry", "{st}");

    rt.clock().set(Some(downloaded_at.plus(ttl + 1)));
    let gone = rt.expiry_check().await.unwrap();
    assert_eq!(gone[0]["expired"], true);
    let st = status(&rt).await;
    assert_eq!(st["cache"]["present"], false);
    assert_eq!(st["outbox"]["pending"], 1, "the outbox survives expiry");
    assert_eq!(st["warnings"][0]["code"], "expired");
    assert_eq!(st["warnings"][0]["unsynced"], 1);
    assert_eq!(outbox(&rt).await.len(), 1);
    let (s, body) = call(&rt, "GET", "/api/now/table/wm_task", None).await;
    assert_eq!((s, body["error"]["code"].as_str()), (503, Some("no_cache")));
    finish(rt, &prefix).await;
}
