//! Reads follow the roles: a technician reads her scope, the dispatcher every task and
//! incident, the admin everything; attachments and journal entries follow their record; the
//! incremental feed names only deletions the user could see.

use crate::cache::{feed, of_type};
use crate::fixture::{task, text, upload, Instance};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_technician_reads_the_records_in_her_scope_and_no_others() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let fred = instance.login("fred.luddy").await;
    let abels = task(&admin, "assigned", "abel.tuter").await;
    let closed = task(&admin, "closed_complete", "beth.anglin").await;
    for table in ["wm_task", "incident"] {
        let all = admin.list(table, "").await;
        let hers = beth.list(table, "").await;
        assert!(!hers.is_empty() && hers.len() < all.len(), "{table}");
        for record in &hers {
            assert_eq!(text(record, "assigned_to"), "beth.anglin", "{record}");
        }
        assert_eq!(
            fred.list(table, "").await.len(),
            all.len(),
            "the dispatcher"
        );
    }
    for other in [&abels, &closed] {
        let path = format!("/api/now/table/wm_task/{}", text(other, "sys_id"));
        let (status, body) = beth.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "not_found");
        let (status, _) = fred.get(&path).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert!(beth
        .list("wm_task", &format!("sys_id={}", text(&abels, "sys_id")))
        .await
        .is_empty());
}

#[tokio::test]
async fn attachments_and_journal_entries_follow_their_record() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let abel = instance.login("abel.tuter").await;
    let abels = task(&admin, "accepted", "abel.tuter").await;
    let id = text(&abels, "sys_id");
    let meta = upload(&abel, id, "site.png", "image/png", b"\x89PNG site").await;
    let (status, _) = abel
        .patch(
            &format!("/api/now/table/wm_task/{id}"),
            json!({"work_notes": "Gate code 4711"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, listed) = beth
        .get(&format!(
            "/api/now/attachment?sysparm_query=table_sys_id={id}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["result"], json!([]), "{listed}");
    let file = format!("/api/now/attachment/{}/file", text(&meta, "sys_id"));
    let (status, body) = beth.get(&file).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert!(beth
        .list("sys_attachment", &format!("table_sys_id={id}"))
        .await
        .is_empty());
    assert!(beth
        .list("sys_journal_field", &format!("element_id={id}"))
        .await
        .is_empty());

    assert_eq!(
        abel.list("sys_journal_field", &format!("element_id={id}"))
            .await
            .len(),
        1
    );
    let (status, listed) = abel
        .get(&format!(
            "/api/now/attachment?sysparm_query=table_sys_id={id}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["result"].as_array().unwrap().len(), 1);
    let (status, _) = abel.get(&file).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_incremental_feed_names_only_deletions_the_user_could_see() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let fred = instance.login("fred.luddy").await;
    let hers = task(&admin, "assigned", "beth.anglin").await;
    let handed_over = task(&admin, "assigned", "beth.anglin").await;
    let abels = task(&admin, "assigned", "abel.tuter").await;
    let abels_moved = task(&admin, "assigned", "abel.tuter").await;
    let full = feed(&beth, None).await;
    let watermark = full[0]["watermark"].as_str().unwrap().to_string();

    for t in [&hers, &abels] {
        let path = format!("/api/now/table/wm_task/{}", text(t, "sys_id"));
        let (status, _) = fred.send(Method::DELETE, &path, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    for (t, to) in [(&handed_over, "abel.tuter"), (&abels_moved, "fred.luddy")] {
        let path = format!("/api/now/table/wm_task/{}", text(t, "sys_id"));
        let (status, _) = fred.patch(&path, json!({"assigned_to": to})).await;
        assert_eq!(status, StatusCode::OK);
    }

    let lines = feed(&beth, Some(&watermark)).await;
    let deleted: Vec<&str> = of_type(&lines, "delete")
        .into_iter()
        .map(|l| l["sys_id"].as_str().unwrap())
        .collect();
    assert!(deleted.contains(&text(&hers, "sys_id")), "{deleted:?}");
    assert!(
        deleted.contains(&text(&handed_over, "sys_id")),
        "{deleted:?}"
    );
    for never_hers in [&abels, &abels_moved] {
        assert!(
            !deleted.contains(&text(never_hers, "sys_id")),
            "abel's task is named to beth: {deleted:?}"
        );
    }
}
