//! Hostile input: attachments that cannot run in the app's origin, content types checked when
//! they come in, every error the JSON envelope, one bad sync entry rejected on its own, limits.

use crate::fixture::{task, text, upload, Instance};
use crate::sync::{entry, sync};
use base64::Engine as _;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn attachments_are_downloads_that_cannot_run_in_the_app_s_origin() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    for (name, content_type, disposition) in [
        ("evil.html", "text/html", "attachment"),
        ("evil.svg", "image/svg+xml", "attachment"),
        ("pump.png", "image/png", "inline"),
    ] {
        let meta = upload(
            &beth,
            id,
            name,
            content_type,
            b"<script>alert(document.cookie)</script>",
        )
        .await;
        let response = beth
            .client
            .get(beth.url(&format!(
                "/api/now/attachment/{}/file",
                text(&meta, "sys_id")
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        let got = headers["content-disposition"].to_str().unwrap();
        assert!(got.starts_with(disposition), "{name}: {got}");
        assert!(got.contains(name), "{name}: {got}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("sandbox") && csp.contains("default-src 'none'"),
            "{csp}"
        );
    }
}

#[tokio::test]
async fn a_content_type_with_a_line_break_is_refused_when_it_comes_in() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let bytes = b"\x89PNG".to_vec();
    let photo = json!({
        "file_name": "pump.png", "content_type": "image/png\r\nX-Evil: 1",
        "size_bytes": bytes.len(), "hash": offgrid::record::hex(&Sha256::digest(&bytes)),
        "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
    });
    let (status, body) = beth
        .action("attach_photo", "wm_task", id, json!({"photo": photo}))
        .await;
    assert_eq!(status.as_u16() / 100, 4, "{body}");
    assert_eq!(body["status"], "failure");
    assert!(body.to_string().contains("content type"), "{body}");
    assert!(admin
        .list("sys_attachment", &format!("table_sys_id={id}"))
        .await
        .is_empty());
}

#[tokio::test]
async fn every_error_is_the_json_envelope() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let cases = [
        (Method::DELETE, "/api/offgrid/login".to_string(), 405),
        (Method::PATCH, "/api/now/table/wm_task".to_string(), 405),
        (Method::GET, "/api/offgrid/sync".to_string(), 405),
        (Method::GET, "/api/nothing/here".to_string(), 404),
        (
            Method::GET,
            "/api/now/table/wm_task/%FF%FE".to_string(),
            400,
        ),
        (
            Method::GET,
            format!("/api/now/table/wm_task/{}x", text(&t, "sys_id")),
            404,
        ),
    ];
    for (method, path, status) in cases {
        let response = admin
            .client
            .request(method.clone(), admin.url(&path))
            .header("x-offgrid-request", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: Value = serde_json::from_str(&response.text().await.unwrap())
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert_eq!(body["status"], "failure", "{method} {path}: {body}");
        assert!(body["error"]["code"].is_string(), "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn an_over_long_url_or_header_block_is_refused_in_the_envelope() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let long_query = format!(
        "/api/now/table/wm_task?sysparm_query=number={}",
        "9".repeat(20_000)
    );
    let response = admin
        .client
        .get(admin.url(&long_query))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 414);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "uri_too_long", "{body}");

    let mut request = admin
        .client
        .get(admin.url("/api/now/table/wm_task?sysparm_limit=1"));
    for n in 0..10 {
        request = request.header(format!("x-padding-{n}"), "p".repeat(8_000));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), 431);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large", "{body}");
}

#[tokio::test]
async fn the_basic_scheme_is_case_insensitive() {
    let instance = Instance::start().await;
    let token = base64::engine::general_purpose::STANDARD.encode("admin:admin");
    for scheme in ["basic", "BASIC", "Basic"] {
        let response = Client::new()
            .get(instance.url("/api/offgrid/config"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn a_malformed_entry_is_rejected_on_its_own_and_its_neighbours_apply() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let a = task(&admin, "assigned", "beth.anglin").await;
    let b = task(&admin, "assigned", "beth.anglin").await;
    let mut malformed = entry("accept_task", &a, &["state"], json!({}));
    malformed["base"] = json!("not a base");
    let batch = [
        entry("accept_task", &a, &["state"], json!({})),
        malformed,
        json!(42),
        entry("accept_task", &b, &["state"], json!({})),
    ];
    let (status, body) = beth
        .post("/api/offgrid/sync", json!({ "entries": batch }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{body}");
    assert_eq!(results[0]["status"], "applied");
    assert_eq!(results[1]["status"], "rejected");
    assert_eq!(
        results[1]["id"], batch[1]["id"],
        "named by its id when it has one"
    );
    assert_eq!(results[1]["error"]["code"], "bad_request");
    assert!(results[1]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("base"));
    assert_eq!(results[2]["status"], "rejected");
    assert_eq!(results[3]["status"], "applied", "{}", results[3]);
}

#[tokio::test]
async fn a_field_too_large_too_many_fields_and_too_many_entries_are_refused_clearly() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let path = format!("/api/now/table/wm_task/{}", text(&t, "sys_id"));
    let (status, body) = admin
        .patch(&path, json!({"short_description": "x".repeat(70_000)}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("short_description"));

    let many: serde_json::Map<String, Value> = (0..300)
        .map(|i| (format!("u_field_{i}"), json!("v")))
        .collect();
    let (status, body) = admin.patch(&path, Value::Object(many)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("fields"));
    assert_eq!(admin.record("wm_task", text(&t, "sys_id")).await, t);

    let batch: Vec<Value> = (0..501)
        .map(|_| entry("add_work_note", &t, &[], json!({"note": "n"})))
        .collect();
    let (status, body) = beth
        .post("/api/offgrid/sync", json!({ "entries": batch }))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("entries"));
    let results = sync(&beth, &batch[..2]).await;
    assert_eq!(results[1]["status"], "applied");
}

#[tokio::test]
async fn an_audit_message_built_from_record_values_stays_one_line() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let t = task(&admin, "assigned", "abel.tuter").await;
    let id = text(&t, "sys_id");
    let forged = "beth.anglin\nadmin changed wm_task WOT1: state closed_complete";
    let (status, body) = fred
        .action("reassign", "wm_task", id, json!({"assigned_to": forged}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let audit = admin
        .list("sys_audit", &format!("record_sys_id={id}"))
        .await;
    let message = text(&audit[0], "message");
    assert!(
        !message.contains('\n') && !message.contains('\r'),
        "{message:?}"
    );
    assert!(
        message.contains("\\n"),
        "the break is shown, not kept: {message:?}"
    );
}
