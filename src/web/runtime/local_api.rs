//! The local API (SPEC 7.2): which requests of the app the runtime answers, and how.
//!
//! - `/api/offgrid/login`, `/api/offgrid/logout`: passed to the instance, remembered here.
//! - `GET /api/now/table/...`: the network, or the cache with the same query semantics.
//! - `POST /api/offgrid/actions/{name}`: live on the instance, or run offline and queued.
//! - `GET /api/offgrid/config`: the instance's, or the stored copy offline.
//! - `GET /api/now/attachment/{sys_id}/file`: the device's copy of a file it keeps, else the
//!   instance's.
//! - `/offgrid/...`: answered by the runtime alone (status, mode, download, outbox, sync,
//!   drafts, settings, logout, the actions of a record).
//! - Any other path: passed to the instance.

use super::cache::TableRequest;
use super::http::{error_response, json_response, ok};
use super::{Runtime, RuntimeError};
use crate::api::action::Invocation;
use crate::api::local::OutboxAnswer;
use crate::api::ApiError;
use crate::record::new_uuid;
use crate::web::transport::{js_text, response_text};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, Response, Url};

/// Answers one request; faults become error answers in the SPEC's JSON shape.
pub async fn route(runtime: &Runtime, request: Request) -> Response {
    match dispatch(runtime, &request).await {
        Ok(response) => response,
        Err(e) => error_response(&e.to_api()),
    }
}

async fn dispatch(rt: &Runtime, request: &Request) -> Result<Response, RuntimeError> {
    let url = Url::new(&request.url())
        .map_err(|e| RuntimeError::BadRequest(format!("not a URL: {}", js_text(&e))))?;
    let path = url.pathname();
    let search = url.search();
    let path_and_query = format!("{path}{search}");
    let params = query_params(&search);
    let method = request.method();
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["api", "offgrid", "login"]) => rt.login(request, &path_and_query).await,
        ("POST", ["api", "offgrid", "logout"]) => rt.api_logout(request, &path_and_query).await,
        ("GET", ["api", "now", "table", table]) => {
            rt.table_get(request, &path_and_query, table_request(table, None, params))
                .await
        }
        ("GET", ["api", "now", "table", table, sys_id]) => {
            let table = table_request(table, Some(sys_id), params);
            rt.table_get(request, &path_and_query, table).await
        }
        ("GET", ["api", "offgrid", "config"]) => rt.config(request, &path_and_query).await,
        ("GET", ["api", "now", "attachment", sys_id, "file"]) => {
            rt.attachment_file(request, &path_and_query, sys_id).await
        }
        ("POST", ["api", "offgrid", "actions", name]) => {
            action(rt, request, &path_and_query, name).await
        }
        (_, ["offgrid", ..]) => local(rt, request, &method, &segments[1..], &params).await,
        _ => Ok(rt.transport.forward(request, &path_and_query).await?),
    }
}

/// `/offgrid/...`: the runtime's own endpoints.
async fn local(
    rt: &Runtime,
    request: &Request,
    method: &str,
    path: &[&str],
    params: &BTreeMap<String, String>,
) -> Result<Response, RuntimeError> {
    let answer = match (method, path) {
        ("GET", ["status"]) => return Ok(ok(&rt.status().await?)),
        ("GET", ["actions"]) => return rt.actions_for(params).await,
        ("POST", ["mode"]) => {
            let body = body_json(request).await?;
            let offline = body["offline"].as_bool().ok_or_else(|| {
                RuntimeError::BadRequest("send {\"offline\": true} or {\"offline\": false}".into())
            })?;
            rt.set_mode(offline).await?
        }
        ("POST", ["cache", "download"]) => {
            let full = params.get("full").is_some_and(|v| v == "true" || v == "1");
            return Ok(ok(&rt.download(full).await?));
        }
        ("GET", ["outbox"]) => {
            let outbox = rt.signed_in()?.outbox().await?;
            return Ok(ok(&OutboxAnswer {
                counts: outbox.counts(),
                entries: outbox.into_entries(),
            }));
        }
        ("POST", ["sync"]) => {
            let session = rt.signed_in()?;
            return Ok(ok(&rt.sync(&session).await?));
        }
        ("POST", ["outbox", id, "resolve"]) => {
            let body = body_json(request).await?;
            let inputs = match &body["inputs"] {
                Value::Null => None,
                Value::Object(map) => Some(map.clone()),
                _ => return Err(RuntimeError::BadRequest("inputs must be an object".into())),
            };
            rt.resolve(id, inputs).await?
        }
        ("DELETE", ["outbox", id]) => rt.delete_entry(id).await?,
        ("GET", ["drafts", key]) => {
            let session = rt.signed_in()?;
            match session.db.get_draft(key).await? {
                Some(draft) => json!({ "key": key, "draft": draft }),
                None => return Err(RuntimeError::NotFound(format!("there is no draft {key:?}"))),
            }
        }
        ("PUT", ["drafts", key]) => {
            let session = rt.signed_in()?;
            let draft = body_json(request).await?;
            session.db.put_draft(key, &draft).await?;
            json!({ "key": key, "saved": true })
        }
        ("DELETE", ["drafts", key]) => {
            let session = rt.signed_in()?;
            session.db.delete_draft(key).await?;
            json!({ "key": key, "deleted": true })
        }
        ("PUT", ["settings"]) => rt.put_settings(&body_json(request).await?).await?,
        ("POST", ["logout"]) => {
            let body = body_json(request).await?;
            rt.logout(body["discard_unsynced"].as_bool().unwrap_or(false))
                .await?
        }
        _ => {
            return Ok(error_response(&ApiError::not_found(format!(
                "the service worker has no endpoint {method} /offgrid/{}",
                path.join("/")
            ))))
        }
    };
    Ok(ok(&answer))
}

/// `POST /api/offgrid/actions/{name}`: live when online and offline mode is off; offline (run
/// on the device and queued, `202`) otherwise, and when the instance cannot be reached.
async fn action(
    rt: &Runtime,
    request: &Request,
    path: &str,
    name: &str,
) -> Result<Response, RuntimeError> {
    let mut body = body_json(request).await?;
    let session = rt.session();
    let online = session.as_ref().is_none_or(|s| !s.offline_mode.get());
    // Set when a live call got no answer: the instance may have run it.
    let mut unanswered = None;
    if online && rt.network.is_up() {
        // The id the change is queued under if no answer comes: the instance remembers it
        // with the change, so a change that did reach it is not applied a second time.
        if body.is_object() && body.get("id").is_none() {
            body["id"] = Value::String(new_uuid());
        }
        match rt.transport.send("POST", path, Some(&body)).await {
            Ok(response) => {
                let status = response.status();
                let text = response_text(&response).await?;
                let answer = serde_json::from_str(&text).unwrap_or(Value::Null);
                if let (Some(session), 200..=299) = (&session, status) {
                    let target = |field: &str| body[field].as_str().unwrap_or_default();
                    rt.keep_fresh(session, target("table"), target("sys_id"), &answer)
                        .await?;
                }
                return Ok(json_response(status, &answer, &[]));
            }
            // No answer: the instance may or may not have run it. Queued under the call's
            // id, it is applied at most once either way. (A timeout is an error: the instance
            // may still be running it.)
            Err(crate::web::transport::FetchError::Network(e)) => unanswered = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    let session = session.ok_or(RuntimeError::NotSignedIn)?;
    let invocation = Invocation::from_value(body)?;
    match rt.offline_action(&session, name, invocation).await {
        Ok(answer) => Ok(json_response(answer.status(), &answer, &[])),
        // Not queued because the device lacks the record (no cache, or not in it): saying
        // "not found" would hide that the instance may have run the change.
        Err(e @ (RuntimeError::NoCache | RuntimeError::NotCached { .. } | RuntimeError::NotFound(_)))
            if unanswered.is_some() =>
        {
            Err(RuntimeError::Api(ApiError::network(format!(
                "the instance did not answer ({}), so it may or may not have run this action, and it cannot be queued on this device ({e}); check the record before trying again",
                unanswered.unwrap_or_default()
            ))))
        }
        Err(e) => Err(e),
    }
}

fn table_request(
    table: &str,
    sys_id: Option<&str>,
    params: BTreeMap<String, String>,
) -> TableRequest {
    TableRequest {
        table: table.to_string(),
        sys_id: sys_id.map(str::to_string),
        params,
    }
}

/// The request's body as JSON; an empty body is an empty object.
async fn body_json(request: &Request) -> Result<Value, RuntimeError> {
    let promise = request.text().map_err(|e| {
        RuntimeError::BadRequest(format!("the body cannot be read: {}", js_text(&e)))
    })?;
    let text = JsFuture::from(promise)
        .await
        .map_err(|e| RuntimeError::BadRequest(format!("the body cannot be read: {}", js_text(&e))))?
        .as_string()
        .unwrap_or_default();
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_str(&text)
        .map_err(|e| RuntimeError::BadRequest(format!("the body is not JSON: {e}")))
}

/// `?a=1&b=x%20y` as a map (the last of repeated names wins, as on the instance).
fn query_params(search: &str) -> BTreeMap<String, String> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                decode(&name.replace('+', " ")),
                decode(&value.replace('+', " ")),
            )
        })
        .collect()
}

/// Percent-decodes; malformed escapes are kept as they are.
fn decode(text: &str) -> String {
    js_sys::decode_uri_component(text)
        .map(String::from)
        .unwrap_or_else(|_| text.to_string())
}
