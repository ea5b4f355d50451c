//! The offline cache feed: full and incremental.

use crate::fixture::{text, Instance, User};
use offgrid::query::{Query, QueryContext};
use offgrid::record::Record;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub async fn feed(user: &User, since: Option<&str>) -> Vec<Value> {
    let mut request = user.client.get(user.url("/api/offgrid/cache"));
    if let Some(since) = since {
        request = request.query(&[("since", since)]);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.first().unwrap()["type"], "header");
    assert_eq!(lines.last().unwrap()["type"], "end");
    lines
}

pub fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind).collect()
}

#[tokio::test]
async fn the_full_feed_holds_every_record_in_the_users_scope() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let (_, config) = beth.get("/api/offgrid/config").await;
    let ctx = QueryContext {
        user_name: "beth.anglin".into(),
        user_sys_id: text(&config["user"], "sys_id").into(),
    };
    let lines = feed(&beth, None).await;
    let header = &lines[0];
    let records = of_type(&lines, "record");
    assert_eq!(header["full"], true);
    assert_eq!(header["total"], records.len());
    assert_eq!(lines.last().unwrap()["count"], records.len());
    assert_eq!(lines.last().unwrap()["watermark"], header["watermark"]);

    let mut expected = BTreeSet::new();
    for table in ["wm_task", "incident"] {
        let scope = Query::parse(config["tables"][table].as_str().unwrap()).unwrap();
        for r in admin.list(table, "").await {
            if scope.matches(&Record::from_value(r.clone()).unwrap(), &ctx) {
                expected.insert((table.to_string(), text(&r, "sys_id").to_string()));
            }
        }
    }
    let got: BTreeSet<(String, String)> = records
        .iter()
        .map(|l| {
            (
                text(l, "table").to_string(),
                text(&l["record"], "sys_id").to_string(),
            )
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}

#[tokio::test]
async fn the_incremental_feed_sends_updates_deletions_and_records_leaving_scope() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let full = feed(&beth, None).await;
    let watermark = full[0]["watermark"].as_str().unwrap().to_string();
    let tasks: Vec<&Value> = of_type(&full, "record")
        .into_iter()
        .filter(|l| l["table"] == "wm_task")
        .map(|l| &l["record"])
        .collect();
    let (updated, deleted, closed) = (
        text(tasks[0], "sys_id"),
        text(tasks[1], "sys_id"),
        text(tasks[2], "sys_id"),
    );
    admin
        .patch(
            &format!("/api/now/table/wm_task/{updated}"),
            json!({"priority": "1"}),
        )
        .await;
    let (status, _) = admin
        .send(
            Method::DELETE,
            &format!("/api/now/table/wm_task/{deleted}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    admin
        .patch(
            &format!("/api/now/table/wm_task/{closed}"),
            json!({"state": "closed_complete"}),
        )
        .await;

    let lines = feed(&beth, Some(&watermark)).await;
    assert_eq!(lines[0]["full"], false);
    assert_ne!(lines[0]["watermark"], watermark.as_str());
    let records = of_type(&lines, "record");
    assert_eq!(records.len(), 1, "only what changed: {lines:?}");
    assert_eq!(text(&records[0]["record"], "sys_id"), updated);
    assert_eq!(text(&records[0]["record"], "priority"), "1");
    let deletions: BTreeSet<&str> = of_type(&lines, "delete")
        .iter()
        .map(|l| text(l, "sys_id"))
        .collect();
    assert_eq!(deletions, BTreeSet::from([deleted, closed]));
    // Header and end line count records and deletions alike, as the device's decoder checks.
    assert_eq!(lines[0]["total"], 3);
    assert_eq!(lines.last().unwrap()["count"], 3);
    let mut decoder = offgrid::feed::FeedDecoder::new();
    for line in &lines {
        decoder.push(format!("{line}\n").as_bytes()).unwrap();
    }
    let summary = decoder
        .finish()
        .expect("the device accepts the incremental feed");
    assert_eq!((summary.total, summary.count, summary.full), (3, 3, false));

    let latest = lines[0]["watermark"].as_str().unwrap();
    let quiet = feed(&beth, Some(latest)).await;
    assert_eq!(quiet.len(), 2, "nothing changed since: header and end only");
}
