//! Record-less actions: `create_incident` makes a new incident from a form, live or from the
//! outbox, under the id the device derives from its call's or entry's id, and only once.

use crate::fixture::{text, Instance};
use crate::sync::sync;
use offgrid::record::{derived_sys_id, new_uuid};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn inputs(short_description: &str) -> Value {
    json!({"short_description": short_description, "priority": "2",
           "description": "Water under the pump\nsince Monday"})
}

#[tokio::test]
async fn a_live_create_makes_one_incident_and_a_repeated_call_answers_that_one() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let id = new_uuid();
    let call = json!({"table": "incident", "inputs": inputs("Pump leaks"), "id": id});
    let (status, body) = beth
        .post("/api/offgrid/actions/create_incident", call.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = derived_sys_id(&id, 1);
    assert_eq!(text(&body["result"], "sys_id"), created);
    assert_eq!(body["created"], json!([]), "the new incident is the result");
    let incident = admin.record("incident", &created).await;
    assert_eq!(text(&incident, "short_description"), "Pump leaks");
    assert_eq!(text(&incident, "priority"), "2");
    assert_eq!(
        text(&incident, "description"),
        "Water under the pump\nsince Monday"
    );
    assert_eq!(text(&incident, "assigned_to"), "beth.anglin");
    assert_eq!(text(&incident, "state"), "new");

    let (status, again) = beth
        .post("/api/offgrid/actions/create_incident", call)
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["result"], body["result"]);
    let found = admin.list("incident", "short_description=Pump leaks").await;
    assert_eq!(found.len(), 1, "one incident, not two");
}

#[tokio::test]
async fn a_create_names_no_record_and_is_for_technicians() {
    let instance = Instance::start().await;
    let beth = instance.login("beth.anglin").await;
    let fred = instance.login("fred.luddy").await;
    let (status, body) = beth
        .post(
            "/api/offgrid/actions/create_incident",
            json!({"table": "incident", "sys_id": new_uuid().replace('-', ""), "inputs": inputs("x")}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no sys_id"));
    let (status, body) = beth
        .post(
            "/api/offgrid/actions/accept_task",
            json!({"table": "wm_task", "inputs": {}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("sys_id"));
    let (status, body) = fred
        .post(
            "/api/offgrid/actions/create_incident",
            json!({"table": "incident", "inputs": inputs("x")}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = beth
        .post(
            "/api/offgrid/actions/create_incident",
            json!({"table": "incident", "inputs": {"priority": "2"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_inputs");
}

#[tokio::test]
async fn a_synced_create_makes_the_incident_under_the_devices_id_once_and_a_replay_is_applied() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let id = new_uuid();
    let created = derived_sys_id(&id, 1);
    let entry = json!({
        "id": id, "seq": 1, "action": "create_incident", "table": "incident",
        "sys_id": created, "inputs": inputs("Valve stuck"),
        "base": {"mod_count": 0, "fields": {}}, "queued_at": "2026-11-20 08:00:00",
    });
    let first = sync(&beth, std::slice::from_ref(&entry)).await;
    assert_eq!(first[0]["status"], "applied", "{}", first[0]);
    assert_eq!(text(&first[0]["record"], "sys_id"), created);
    let incident = admin.record("incident", &created).await;
    assert_eq!(text(&incident, "short_description"), "Valve stuck");
    assert_eq!(text(&incident, "sys_created_on"), "2026-11-20 08:00:00");

    let replay = sync(&beth, &[entry.clone(), entry]).await;
    for result in &replay {
        assert_eq!(result["status"], "applied", "{result}");
        assert_eq!(result["record"], first[0]["record"]);
    }
    let found = admin
        .list("incident", "short_description=Valve stuck")
        .await;
    assert_eq!(found.len(), 1, "one incident however often it is sent");
    assert_eq!(admin.record("incident", &created).await, incident);
}
