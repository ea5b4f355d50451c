//! Who may run which action: an action's `roles`, checked for live runs and for sync.

use crate::fixture::{task, text, Instance};
use crate::sync::{entry, sync};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_technician_may_not_reassign_a_task_live() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "assigned", "abel.tuter").await;
    let id = text(&t, "sys_id");
    let (status, body) = beth
        .action(
            "reassign",
            "wm_task",
            id,
            json!({"assigned_to": "beth.anglin"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dispatcher"),
        "the message names who may: {body}"
    );
    assert_eq!(admin.record("wm_task", id).await, t, "nothing was written");
}

#[tokio::test]
async fn a_technician_may_not_delete_a_draft_live() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let draft = task(&admin, "pending_dispatch", "").await;
    let id = text(&draft, "sys_id");
    let (status, body) = beth.action("delete_draft", "wm_task", id, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(admin.record("wm_task", id).await, draft, "still there");
}

#[tokio::test]
async fn the_dispatcher_and_the_admin_reassign_tasks_and_delete_drafts() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let t = task(&admin, "assigned", "abel.tuter").await;
    let id = text(&t, "sys_id");
    let (status, body) = fred
        .action(
            "reassign",
            "wm_task",
            id,
            json!({"assigned_to": "beth.anglin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(text(&body["result"], "assigned_to"), "beth.anglin");
    let (status, body) = admin
        .action(
            "reassign",
            "wm_task",
            id,
            json!({"assigned_to": "abel.tuter"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the admin passes every role check: {body}"
    );
    for user in [&fred, &admin] {
        let draft = task(&admin, "pending_dispatch", "").await;
        let (status, body) = user
            .action("delete_draft", "wm_task", text(&draft, "sys_id"), json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["deleted"], true);
    }
}

#[tokio::test]
async fn a_technician_s_synced_delete_draft_is_rejected_forbidden_and_deletes_nothing() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let draft = task(&admin, "pending_dispatch", "").await;
    let id = text(&draft, "sys_id");
    let results = sync(&beth, &[entry("delete_draft", &draft, &[], json!({}))]).await;
    assert_eq!(results[0]["status"], "rejected", "{}", results[0]);
    assert_eq!(results[0]["error"]["code"], "forbidden", "{}", results[0]);
    assert_eq!(admin.record("wm_task", id).await, draft, "still there");

    let fred = instance.login("fred.luddy").await;
    let results = sync(&fred, &[entry("delete_draft", &draft, &[], json!({}))]).await;
    assert_eq!(results[0]["status"], "applied", "{}", results[0]);
}

#[tokio::test]
async fn the_configuration_names_the_roles_of_the_dispatcher_s_actions() {
    let instance = Instance::start().await;
    let beth = instance.login("beth.anglin").await;
    let (status, body) = beth.get("/api/offgrid/config").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let actions = body["actions"].as_array().unwrap();
    let roles = |name: &str| {
        actions
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["roles"].clone())
            .unwrap()
    };
    assert_eq!(roles("reassign"), json!(["dispatcher"]));
    assert_eq!(roles("delete_draft"), json!(["dispatcher"]));
    assert_eq!(
        roles("accept_task"),
        json!(null),
        "absent: every signed-in user"
    );
}

#[tokio::test]
async fn an_online_only_action_in_a_sync_batch_is_rejected_unavailable_offline() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let t = task(&admin, "assigned", "abel.tuter").await;
    let id = text(&t, "sys_id");
    let reassign = entry(
        "reassign",
        &t,
        &["assigned_to", "state"],
        json!({"assigned_to": "beth.anglin"}),
    );
    let results = sync(&fred, &[reassign]).await;
    assert_eq!(results[0]["status"], "rejected", "{}", results[0]);
    assert_eq!(results[0]["error"]["code"], "unavailable_offline");
    assert_eq!(admin.record("wm_task", id).await, t, "nothing was written");
    // A technician's queued online-only action is refused the same way, whoever she is.
    let beth = instance.login("beth.anglin").await;
    let mine = task(&admin, "assigned", "beth.anglin").await;
    let results = sync(
        &beth,
        &[entry(
            "reassign",
            &mine,
            &[],
            json!({"assigned_to": "abel.tuter"}),
        )],
    )
    .await;
    assert_eq!(results[0]["error"]["code"], "unavailable_offline");
    assert_eq!(
        text(
            &admin.record("wm_task", text(&mine, "sys_id")).await,
            "assigned_to"
        ),
        "beth.anglin"
    );
}
