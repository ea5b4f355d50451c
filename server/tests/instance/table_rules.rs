//! The Table API keeps non-admins to the rules the actions keep them to: the scope before and
//! after a change, no deletes for technicians, choice fields, the fields a role may write.

use crate::fixture::{task, text, Instance};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_technician_cannot_push_her_task_into_someone_else_s_queue() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let hers = task(&admin, "assigned", "beth.anglin").await;
    let path = format!("/api/now/table/wm_task/{}", text(&hers, "sys_id"));
    let (status, body) = beth
        .patch(&path, json!({"assigned_to": "abel.tuter"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("after the change"),
        "the scope is checked on the record after the change: {body}"
    );
    assert_eq!(admin.record("wm_task", text(&hers, "sys_id")).await, hers);

    let (status, body) = beth
        .post(
            "/api/now/table/wm_task",
            json!({"number": "WOT1", "state": "assigned", "assigned_to": "abel.tuter"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(admin.list("wm_task", "number=WOT1").await.is_empty());
}

#[tokio::test]
async fn technicians_may_not_delete_and_the_dispatcher_may() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let fred = instance.login("fred.luddy").await;
    let hers = task(&admin, "assigned", "beth.anglin").await;
    let path = format!("/api/now/table/wm_task/{}", text(&hers, "sys_id"));
    let (status, body) = beth.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(admin.record("wm_task", text(&hers, "sys_id")).await, hers);
    let (status, body) = fred.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn a_choice_field_takes_only_one_of_its_choices_whoever_writes_it() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let fred = instance.login("fred.luddy").await;
    let t = task(&admin, "assigned", "beth.anglin").await;
    let path = format!("/api/now/table/wm_task/{}", text(&t, "sys_id"));
    for user in [&admin, &fred] {
        let (status, body) = user.patch(&path, json!({"state": "bogus_state"})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "invalid_value", "{body}");
        assert_eq!(body["error"]["detail"]["field"], "state");
        assert_eq!(
            body["error"]["detail"]["choices"].as_array().unwrap().len(),
            7,
            "the seven task states: {body}"
        );
    }
    assert_eq!(admin.record("wm_task", text(&t, "sys_id")).await, t);
    let (status, body) = fred.patch(&path, json!({"state": "cancelled"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = admin
        .post(
            "/api/now/table/incident",
            json!({"number": "INC1", "state": "exploded"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(admin.list("incident", "number=INC1").await.is_empty());
}

#[tokio::test]
async fn a_technician_writes_only_the_fields_her_role_may_write() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let fred = instance.login("fred.luddy").await;
    let t = task(&admin, "work_in_progress", "beth.anglin").await;
    let path = format!("/api/now/table/wm_task/{}", text(&t, "sys_id"));
    for fields in [
        json!({"close_notes": "done"}),
        json!({"state": "closed_complete"}),
        json!({"work_end": "2026-11-20 08:00:00"}),
    ] {
        let (status, body) = beth.patch(&path, fields.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{fields}: {body}");
        let field = fields.as_object().unwrap().keys().next().unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(field.as_str()),
            "names the field: {body}"
        );
    }
    assert_eq!(admin.record("wm_task", text(&t, "sys_id")).await, t);
    let (status, body) = beth
        .patch(
            &path,
            json!({"work_notes": "Waiting for parts", "priority": "2"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = fred
        .patch(&path, json!({"close_notes": "by dispatch"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
