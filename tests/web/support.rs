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

use offgrid::outbox::Entry;
use offgrid::record::new_sys_id;
use offgrid::web::idb::LocalDb;
use offgrid::web::runtime::{Runtime, RuntimeConfig};
use serde_json::{json, Value};
use std::rc::Rc;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCredentials, RequestInit, Response};

pub const INSTANCE: &str = match option_env!("OFFGRID_TEST_INSTANCE") {
    Some(address) => address,
    None => "http://127.0.0.1:18080",
};

/// The page's origin as the runtime sees it; only the path matters to it.
pub const ORIGIN: &str = "http://app.offgrid.test";

pub const USER: &str = "beth.anglin";

/// A runtime on fresh databases, signed in as beth.anglin.
pub async fn signed_in() -> (Rc<Runtime>, String) {
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

pub async fn open(prefix: &str, instance: &str) -> Rc<Runtime> {
    Runtime::open(RuntimeConfig {
        instance: instance.to_string(),
        db_prefix: prefix.to_string(),
    })
    .await
    .expect("open the runtime")
}

/// Deletes a test's databases.
pub async fn finish(rt: Rc<Runtime>, prefix: &str) {
    drop(rt);
    let _ = LocalDb::delete(&format!("{prefix}:{USER}")).await;
    let _ = LocalDb::delete(prefix).await;
}

/// A request of the app to the runtime: status and JSON body.
pub async fn call(rt: &Runtime, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let (status, body, _) = call_with_headers(rt, method, path, body).await;
    (status, body)
}

pub async fn call_with_headers(
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

pub async fn read(response: Response) -> (u16, Value, Headers) {
    let status = response.status();
    let headers = response.headers();
    let text = JsFuture::from(response.text().unwrap()).await.unwrap();
    let text = text.as_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// A request straight to the instance as `user`, with Basic auth and no cookie.
pub async fn instance(user: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
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
pub async fn task(state: &str, n: usize) -> Value {
    let path = format!(
        "/api/now/table/wm_task?sysparm_query=assigned_to={USER}^state={state}^ORDERBYnumber&sysparm_limit=1&sysparm_offset={n}"
    );
    let (status, body) = instance("admin", "GET", &path, None).await;
    assert_eq!(status, 200, "{body}");
    body["result"][0].clone()
}

pub async fn instance_record(table: &str, sys_id: &str) -> Value {
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

pub fn id(record: &Value) -> String {
    record["sys_id"].as_str().expect("a sys_id").to_string()
}

pub async fn download(rt: &Runtime) -> Value {
    let (status, body) = call(rt, "POST", "/offgrid/cache/download", None).await;
    assert_eq!(status, 200, "download: {body}");
    body
}

pub async fn outbox(rt: &Runtime) -> Vec<Value> {
    let (status, body) = call(rt, "GET", "/offgrid/outbox", None).await;
    assert_eq!(status, 200, "{body}");
    body["entries"].as_array().cloned().unwrap_or_default()
}

pub async fn status(rt: &Runtime) -> Value {
    call(rt, "GET", "/offgrid/status", None).await.1
}

pub async fn act(rt: &Runtime, action: &str, task: &str, inputs: Value) -> (u16, Value) {
    call(
        rt,
        "POST",
        &format!("/api/offgrid/actions/{action}"),
        Some(json!({"table": "wm_task", "sys_id": task, "inputs": inputs})),
    )
    .await
}

pub async fn sync(rt: &Runtime) -> Value {
    let (status, body) = call(rt, "POST", "/offgrid/sync", None).await;
    assert_eq!(status, 200, "sync: {body}");
    body
}

pub fn ids(body: &Value) -> Vec<String> {
    body["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sys_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub async fn sleep_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        js_sys::global()
            .unchecked_into::<web_sys::WorkerGlobalScope>()
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

/// Sends entries to the instance's sync endpoint with beth's session cookie (the one the
/// runtime's login set), as a worker would have.
pub async fn instance_sync_as_beth(entries: &[Entry]) -> (u16, Value) {
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

/// A `photo` file input for `bytes`, announcing `hash` and `size`, with the bytes as base64.
pub fn photo_input(bytes: &[u8], hash: &str, size: usize) -> Value {
    use base64::Engine;
    json!({"photo": {
        "file_name": "meter.png", "content_type": "image/png", "size_bytes": size,
        "hash": hash, "data": base64::engine::general_purpose::STANDARD.encode(bytes),
    }})
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// PNG-ish bytes no earlier run has sent: the instance also finds a file by its hash among
/// the attachments it already has, which would hide bytes that never came.
pub fn unique_png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(new_sys_id().as_bytes());
    bytes.extend((0..=255u8).rev());
    bytes
}
