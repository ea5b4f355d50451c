//! Every bad input gets the SPEC's error body, a fitting status and a message naming the
//! fault.

use crate::fixture::{task, Instance};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn message(body: &Value) -> &str {
    assert_eq!(body["status"], "failure", "{body}");
    body["error"]["message"].as_str().unwrap()
}

#[tokio::test]
async fn unknown_tables_and_actions_are_404_naming_them() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let (status, body) = admin.get("/api/now/table/cmdb_ci").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "unknown_table");
    assert!(message(&body).contains("cmdb_ci"));

    let (status, body) = admin.action("teleport", "wm_task", "x", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "unknown_action");
    assert!(message(&body).contains("teleport"));
}

#[tokio::test]
async fn malformed_queries_and_parameters_are_400_with_the_fault() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let (status, body) = admin
        .get("/api/now/table/wm_task?sysparm_query=stateFOOassigned")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_query");
    assert!(message(&body).contains("position"), "{body}");
    assert_eq!(body["error"]["detail"]["position"], 5, "{body}");
    assert!(body["error"]["detail"]["fault"].is_string(), "{body}");

    let (status, body) = admin.get("/api/now/table/wm_task?sysparm_limit=ten").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("sysparm_limit"));

    let (status, body) = admin.get("/api/offgrid/cache?since=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("since"));
}

#[tokio::test]
async fn malformed_json_is_400_naming_the_parser_error_and_changes_nothing() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let before = admin.list("wm_task", "").await.len();
    let response = admin
        .client
        .post(admin.url("/api/now/table/wm_task"))
        .header("content-type", "application/json")
        .body("{\"state\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert!(message(&body).contains("malformed JSON"), "{body}");
    assert!(
        message(&body).contains("line 1"),
        "serde's position: {body}"
    );

    // A body that is not a batch at all is refused whole; a malformed entry inside a batch is
    // rejected on its own (see hostile.rs).
    let (status, body) = admin.post("/api/offgrid/sync", json!({"entries": 3})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message(&body).contains("malformed JSON"));
    let (status, body) = admin
        .post("/api/offgrid/sync", json!({"entries": [{"id": 1}]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "rejected");
    assert_eq!(body["results"][0]["error"]["code"], "bad_request");
    assert_eq!(admin.list("wm_task", "").await.len(), before);
}

#[tokio::test]
async fn wrong_and_missing_inputs_are_422_with_detail_per_input() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let id = t["sys_id"].as_str().unwrap();
    let (status, body) = beth
        .action("report_incident", "wm_task", id, json!({"urgency": "9"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_inputs");
    assert!(
        body["error"]["detail"]["inputs"]["urgency"].is_string(),
        "{body}"
    );

    let (status, body) = beth.action("add_work_note", "wm_task", id, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["detail"]["inputs"]["note"]
        .as_str()
        .unwrap()
        .contains("required"));
    assert_eq!(beth.record("wm_task", id).await, t, "nothing was written");
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let instance = Instance::start_with(|c| c.max_attachment_bytes = 1000).await;
    let admin = instance.login("admin").await;
    let big = "x".repeat(2 << 20);
    let (status, body) = admin
        .post("/api/now/table/wm_task", json!({"description": big}))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(message(&body).contains("too large"));
}
