//! The Table API: CRUD, journal fields, query semantics shared with the core, paging.

use crate::fixture::{journal, text, Instance};
use offgrid::query::{Query, QueryContext};
use offgrid::record::Record;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn records_are_created_read_updated_and_deleted() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let id = "0123456789abcdef0123456789abcdef";
    let created = admin
        .insert(
            "incident",
            json!({"sys_id": id, "number": "INC9", "state": "new", "sys_mod_count": 99,
                   "sys_created_by": "mallory"}),
        )
        .await;
    assert_eq!(
        text(&created, "sys_id"),
        id,
        "a valid client sys_id is kept"
    );
    assert_eq!(
        created["sys_mod_count"], 0,
        "system fields from the body are ignored"
    );
    assert_eq!(text(&created, "sys_created_by"), "admin");

    let read = admin.record("incident", id).await;
    assert_eq!(read, created);

    let (status, updated) = admin
        .patch(
            &format!("/api/now/table/incident/{id}"),
            json!({"state": "in_progress", "work_notes": "On my way"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let updated = &updated["result"];
    assert_eq!(text(updated, "state"), "in_progress");
    assert_eq!(updated["sys_mod_count"], 1);
    assert!(
        updated.get("work_notes").is_none(),
        "work notes are not a field"
    );
    let notes = journal(&admin, id).await;
    assert_eq!(notes.len(), 1);
    assert_eq!(text(&notes[0], "element"), "work_notes");
    assert_eq!(text(&notes[0], "value"), "On my way");
    assert_eq!(text(&notes[0], "sys_created_by"), "admin");

    let (status, _) = admin
        .send(
            Method::PUT,
            &format!("/api/now/table/incident/{id}"),
            Some(json!({"comments": "Fixed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        journal(&admin, id).await.len(),
        2,
        "comments append, never overwrite"
    );
    assert_eq!(admin.record("incident", id).await["sys_mod_count"], 2);

    let (status, _) = admin
        .send(
            Method::DELETE,
            &format!("/api/now/table/incident/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = admin.get(&format!("/api/now/table/incident/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["status"], "failure");
}

#[tokio::test]
async fn inserts_refuse_duplicate_and_invalid_ids_and_non_scalar_values() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let existing = admin.list("wm_task", "").await[0].clone();
    let (status, body) = admin
        .post(
            "/api/now/table/wm_task",
            json!({"sys_id": existing["sys_id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains(text(&existing, "sys_id")));

    let (status, body) = admin
        .post("/api/now/table/wm_task", json!({"sys_id": "XYZ"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"].as_str().unwrap().contains("XYZ"));

    let (status, body) = admin
        .post(
            "/api/now/table/wm_task",
            json!({"location": {"city": "Leith"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("location"));
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| text(r, "sys_id").to_string())
        .collect()
}

#[tokio::test]
async fn list_queries_answer_what_the_core_evaluator_answers() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let (_, config) = beth.get("/api/offgrid/config").await;
    let ctx = QueryContext {
        user_name: "beth.anglin".into(),
        user_sys_id: text(&config["user"], "sys_id").into(),
    };
    // A technician reads the records of her scope: the queries select among those.
    let scope = Query::parse(config["tables"]["wm_task"].as_str().unwrap()).unwrap();
    let all: Vec<Record> = admin
        .list("wm_task", "")
        .await
        .into_iter()
        .map(|v| Record::from_value(v).unwrap())
        .filter(|r| scope.matches(r, &ctx))
        .collect();
    assert_eq!(all.len(), beth.list("wm_task", "ORDERBYnumber").await.len());
    for text_query in [
        "state=assigned^ORstate=accepted^ORDERBYnumber",
        "priorityIN1,2^short_descriptionLIKEpump^ORDERBYDESCnumber",
        "assigned_to=javascript:gs.getUserName()^state!=closed_complete^ORDERBYwindow_start",
        "locationSTARTSWITHunit^NQpriority<=2^ORDERBYpriority^ORDERBYnumber",
        "work_startISEMPTY^assigned_toISNOTEMPTY",
        "state=assigned^assigned_to=javascript:gs.getUserID()^ORDERBYnumber",
        "stateINassigned,accepted^priority=2^ORDERBYDESCnumber",
    ] {
        let query = Query::parse(text_query).unwrap();
        let expected: Vec<String> = query
            .select(all.clone(), &ctx)
            .into_iter()
            .map(|r| r.sys_id().unwrap().to_string())
            .collect();
        let got = ids(&beth.list("wm_task", text_query).await);
        assert_eq!(got, expected, "{text_query}");
    }
}

#[tokio::test]
async fn lists_narrowed_by_sql_answer_what_the_evaluator_answers_over_every_record() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    // Values of every kind in the indexed `assigned_to` and an unindexed field, some of which
    // only the evaluator can tell from a string (`2` the number, `"2"` the text).
    for (assigned_to, category) in [
        (json!("beth.anglin"), json!("network")),
        (json!("2"), json!(2)),
        (json!(2), json!("2")),
        (json!(true), json!("true")),
        (json!(null), json!(null)),
        (json!(""), json!("network")),
        (json!("abel.tuter"), json!("ünïcode ✓")),
    ] {
        admin
            .insert(
                "incident",
                json!({"state": "new", "assigned_to": assigned_to, "category": category}),
            )
            .await;
    }
    admin
        .insert(
            "incident",
            json!({"state": "in_progress", "category": "network"}),
        )
        .await;
    let ctx = QueryContext::default();
    let all: Vec<Record> = admin
        .list("incident", "")
        .await
        .into_iter()
        .map(|v| Record::from_value(v).unwrap())
        .collect();
    for text_query in [
        "state=new",
        "stateINnew,in_progress^ORDERBYDESCnumber",
        "assigned_to=beth.anglin",
        "assigned_to=2",
        "assigned_to=true",
        "assigned_to=",
        "assigned_toINbeth.anglin,abel.tuter^state=new^ORDERBYnumber",
        "category=network^state=in_progress",
        "category=2",
        "category=ünïcode ✓",
        "assigned_toINbeth.anglin,2^categoryINnetwork,2",
        "assigned_to=beth.anglin^ORassigned_to=2",
    ] {
        let query = Query::parse(text_query).unwrap();
        let expected: Vec<String> = query
            .select(all.clone(), &ctx)
            .into_iter()
            .map(|r| r.sys_id().unwrap().to_string())
            .collect();
        assert_eq!(
            ids(&admin.list("incident", text_query).await),
            expected,
            "{text_query}"
        );
    }
}

#[tokio::test]
async fn limit_offset_and_fields_page_and_project_with_the_total_in_a_header() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let all = admin.list("wm_task", "ORDERBYnumber").await;
    assert!(all.len() > 6);
    let response = admin
        .client
        .get(admin.url("/api/now/table/wm_task"))
        .query(&[
            ("sysparm_query", "ORDERBYnumber"),
            ("sysparm_limit", "3"),
            ("sysparm_offset", "2"),
            ("sysparm_fields", "number,state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["x-total-count"].to_str().unwrap(),
        all.len().to_string(),
        "the total counts matches before limit and offset"
    );
    let body: Value = response.json().await.unwrap();
    let page = body["result"].as_array().unwrap();
    assert_eq!(page.len(), 3);
    for (got, want) in page.iter().zip(&all[2..5]) {
        assert_eq!(
            got,
            &json!({"number": want["number"], "state": want["state"]})
        );
    }
}
