//! The service-worker runtime against the REAL instance, inside a real service worker.
//!
//! The instance's address comes in at build time (`OFFGRID_TEST_INSTANCE`, default
//! `http://127.0.0.1:18080`); it must run with `--demo --records 1000 --cors-origin` set to
//! the test runner's origin. Each test opens a runtime on fresh, randomly named databases.
//!
//! Offline: a test cannot cut Chromium's network, so it forces the runtime's view of it down
//! with `Network::force(Some(false))`, which the runtime treats exactly like
//! `navigator.onLine == false`.
//!
//! Tests change the instance's data; each picks its own tasks (the first ones still in the
//! state it needs), so they do not depend on each other or on running once.

use offgrid::outbox::{Entry, Outbox};
use offgrid::record::{new_sys_id, Timestamp};
use offgrid::schedule::Decision;
use offgrid::web::idb::LocalDb;
use offgrid::web::runtime::{Runtime, RuntimeConfig, StorageEstimate};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{
    BroadcastChannel, Headers, MessageEvent, Request, RequestCredentials, RequestInit, Response,
};

const INSTANCE: &str = match option_env!("OFFGRID_TEST_INSTANCE") {
    Some(address) => address,
    None => "http://127.0.0.1:18080",
};

/// The page's origin as the runtime sees it; only the path matters to it.
const ORIGIN: &str = "http://app.offgrid.test";

const USER: &str = "beth.anglin";

/// A runtime on fresh databases, signed in as beth.anglin.
async fn signed_in() -> (Rc<Runtime>, String) {
    let prefix = format!("offgrid-test-{}", new_sys_id());
    let rt = open(&prefix, INSTANCE).await;
    let (status, body) = call(
        &rt,
        "POST",
        "/api/offgrid/login",
        Some(json!({"user_name": USER, "password": USER})),
    )
    .await;
    assert_eq!(status, 200, "login: {body}");
    assert_eq!(rt.user().map(|u| u.user_name).as_deref(), Some(USER));
    (rt, prefix)
}

async fn open(prefix: &str, instance: &str) -> Rc<Runtime> {
    Runtime::open(RuntimeConfig {
        instance: instance.to_string(),
        db_prefix: prefix.to_string(),
    })
    .await
    .expect("open the runtime")
}

/// Deletes a test's databases.
async fn finish(rt: Rc<Runtime>, prefix: &str) {
    drop(rt);
    let _ = LocalDb::delete(&format!("{prefix}:{USER}")).await;
    let _ = LocalDb::delete(prefix).await;
}

/// A request of the app to the runtime: status and JSON body.
async fn call(rt: &Runtime, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, body, _) = call_with_headers(rt, method, path, body).await;
    (status, body)
}

async fn call_with_headers(
    rt: &Runtime,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value, Headers) {
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Headers::new().unwrap();
    if let Some(body) = &body {
        headers.set("Content-Type", "application/json").unwrap();
        init.set_body(&body.to_string().into());
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(&format!("{ORIGIN}{path}"), &init).unwrap();
    let response = rt.handle(request).await;
    read(response).await
}

async fn read(response: Response) -> (u16, Value, Headers) {
    let status = response.status();
    let headers = response.headers();
    let text = JsFuture::from(response.text().unwrap()).await.unwrap();
    let text = text.as_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// A request straight to the instance as `user`, with Basic auth and no cookie.
async fn instance(user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::Omit);
    let headers = Headers::new().unwrap();
    let token = js_sys::global()
        .unchecked_into::<web_sys::WorkerGlobalScope>()
        .btoa(&format!("{user}:{user}"))
        .unwrap();
    headers
        .set("Authorization", &format!("Basic {token}"))
        .unwrap();
    if let Some(body) = &body {
        headers.set("Content-Type", "application/json").unwrap();
        init.set_body(&body.to_string().into());
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(&format!("{INSTANCE}{path}"), &init).unwrap();
    let global = js_sys::global().unchecked_into::<web_sys::WorkerGlobalScope>();
    let response: Response = JsFuture::from(global.fetch_with_request(&request))
        .await
        .expect("the instance answers")
        .unchecked_into();
    let (status, body, _) = read(response).await;
    (status, body)
}

/// The `n`-th (from 0) of beth's tasks in `state`, by number, as the instance has it now.
async fn task(state: &str, n: usize) -> Value {
    let path = format!(
        "/api/now/table/wm_task?sysparm_query=assigned_to={USER}^state={state}^ORDERBYnumber&sysparm_limit=1&sysparm_offset={n}"
    );
    let (status, body) = instance("admin", "GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    body["result"][0].clone()
}

async fn instance_record(table: &str, sys_id: &str) -> Value {
    let (status, body) = instance(
        "admin",
        "GET",
        &format!("/api/now/table/{table}/{sys_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

fn id(record: &Value) -> String {
    record["sys_id"].as_str().expect("a sys_id").to_string()
}

async fn download(rt: &Runtime) -> Value {
    let (status, body) = call(rt, "POST", "/offgrid/cache/download", None).await;
    assert_eq!(status, 200, "download: {body}");
    body
}

async fn outbox(rt: &Runtime) -> Vec<Value> {
    let (status, body) = call(rt, "GET", "/offgrid/outbox", None).await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

async fn status(rt: &Runtime) -> Value {
    call(rt, "GET", "/offgrid/status", None).await.1
}

async fn act(rt: &Runtime, action: &str, task: &str, inputs: Value) -> (u16, Value) {
    call(
        rt,
        "POST",
        &format!("/api/offgrid/actions/{action}"),
        Some(json!({"table": "wm_task", "sys_id": task, "inputs": inputs})),
    )
    .await
}

async fn sync(rt: &Runtime) -> Value {
    let (status, body) = call(rt, "POST", "/offgrid/sync", None).await;
    assert_eq!(status, 200, "sync: {body}");
    body
}

fn ids(body: &Value) -> Vec<String> {
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sys_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

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

async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        js_sys::global()
            .unchecked_into::<web_sys::WorkerGlobalScope>()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

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

/// Sends entries to the instance's sync endpoint with beth's session cookie (the one the
/// runtime's login set), as a worker would have.
async fn instance_sync_as_beth(entries: &[Entry]) -> (u16, Value) {
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_credentials(RequestCredentials::Include);
    let headers = Headers::new().unwrap();
    headers.set("Content-Type", "application/json").unwrap();
    init.set_headers(&headers);
    init.set_body(&json!({ "entries": entries }).to_string().into());
    let request =
        Request::new_with_str_and_init(&format!("{INSTANCE}/api/offgrid/sync"), &init).unwrap();
    let global = js_sys::global().unchecked_into::<web_sys::WorkerGlobalScope>();
    let response: Response = JsFuture::from(global.fetch_with_request(&request))
        .await
        .unwrap()
        .unchecked_into();
    let (status, body, _) = read(response).await;
    (status, body)
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

/// A `photo` file input for `bytes`, announcing `hash` and `size`, with the bytes as base64.
fn photo_input(bytes: &[u8], hash: &str, size: usize) -> Value {
    use base64::Engine;
    json!({"photo": {
        "file_name": "meter.png", "content_type": "image/png", "size_bytes": size,
        "hash": hash, "data": base64::engine::general_purpose::STANDARD.encode(bytes),
    }})
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// PNG-ish bytes no earlier run has sent: the instance also finds a file by its hash among
/// the attachments it already has, which would hide bytes that never came.
fn unique_png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(new_sys_id().as_bytes());
    bytes.extend((0..=255u8).rev());
    bytes
}

async fn blob_bytes(blob: &web_sys::Blob) -> Vec<u8> {
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

/// The bytes of a file on the instance, fetched as admin.
async fn instance_file(sys_id: &str) -> (u16, Vec<u8>) {
    let init = RequestInit::new();
    init.set_credentials(RequestCredentials::Omit);
    let headers = Headers::new().unwrap();
    let global = js_sys::global().unchecked_into::<web_sys::WorkerGlobalScope>();
    let token = global.btoa("admin:admin").unwrap();
    headers
        .set("Authorization", &format!("Basic {token}"))
        .unwrap();
    init.set_headers(&headers);
    let url = format!("{INSTANCE}/api/now/attachment/{sys_id}/file");
    let request = Request::new_with_str_and_init(&url, &init).unwrap();
    let response: Response = JsFuture::from(global.fetch_with_request(&request))
        .await
        .expect("the instance answers")
        .unchecked_into();
    let buffer = JsFuture::from(response.array_buffer().unwrap())
        .await
        .unwrap();
    (response.status(), js_sys::Uint8Array::new(&buffer).to_vec())
}

#[wasm_bindgen_test]
async fn a_photo_attached_offline_is_kept_as_a_blob_and_sent_with_its_entry() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let png = unique_png();
    let hash = sha256_hex(&png);
    rt.network().force(Some(false));

    let (s, body) = act(
        &rt,
        "attach_photo",
        &task_id,
        photo_input(&png, &hash, png.len()),
    )
    .await;
    assert_eq!(s, 202, "{body}");

    // The stored entry carries the file's metadata only; the bytes are a Blob by hash.
    let db = LocalDb::open(&format!("{prefix}:{USER}")).await.unwrap();
    let stored = db.outbox_entries().await.unwrap();
    assert_eq!(stored.len(), 1);
    let file = &stored[0].inputs["photo"];
    assert_eq!(file["hash"], hash.as_str());
    assert_eq!(file["file_name"], "meter.png");
    assert_eq!(file["size_bytes"], png.len());
    assert!(
        file.get("data").is_none(),
        "no base64 in the outbox: {file}"
    );
    assert!(outbox(&rt).await[0]["inputs"]["photo"]
        .get("data")
        .is_none());
    let blob = db
        .get_blob(&hash)
        .await
        .unwrap()
        .expect("the photo's bytes");
    assert_eq!(blob.type_(), "image/png");
    assert_eq!(blob_bytes(&blob).await, png);

    rt.network().force(None);
    let done = sync(&rt).await;
    assert_eq!(done["applied"], 1, "{done}");
    let (s, list) = instance(
        "admin",
        "GET",
        &format!("/api/now/attachment?sysparm_query=table_sys_id={task_id}^hash={hash}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let attachments = list["result"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{list}");
    let (s, bytes) = instance_file(&id(&attachments[0])).await;
    assert_eq!(s, 200);
    assert_eq!(bytes, png, "the instance has the same bytes");
    // Its entry is gone, and no other needs the photo.
    assert!(db.get_blob(&hash).await.unwrap().is_none());
    drop(db);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_file_whose_bytes_do_not_match_what_it_announces_is_refused_and_nothing_stored() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let png = unique_png();
    let other = sha256_hex(b"some other file");
    rt.network().force(Some(false));

    for (announced, size) in [
        (other.clone(), png.len()),
        (sha256_hex(&png), png.len() + 1),
    ] {
        let (s, body) = act(
            &rt,
            "attach_photo",
            &task_id,
            photo_input(&png, &announced, size),
        )
        .await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(body["error"]["code"], "invalid_inputs");
        let fault = body["error"]["detail"]["inputs"]["photo"]
            .as_str()
            .unwrap_or_default();
        assert!(fault.starts_with("Photo: "), "{body}");
    }
    assert!(outbox(&rt).await.is_empty(), "no entry");
    let db = LocalDb::open(&format!("{prefix}:{USER}")).await.unwrap();
    for hash in [other, sha256_hex(&png)] {
        assert!(db.get_blob(&hash).await.unwrap().is_none(), "no blob");
    }
    drop(db);
    finish(rt, &prefix).await;
}
