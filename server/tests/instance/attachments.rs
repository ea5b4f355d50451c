//! Attachments: upload, list, download byte for byte, the size limit.

use crate::fixture::{task, text, Instance};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn an_upload_downloads_byte_for_byte_with_its_content_type() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let bytes: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
    let response = beth
        .client
        .post(beth.url("/api/now/attachment/file"))
        .query(&[
            ("table_name", "wm_task"),
            ("table_sys_id", id),
            ("file_name", "meter.bin"),
        ])
        .header("content-type", "application/x-meter")
        .header("x-offgrid-request", "1")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let meta: Value = response.json().await.unwrap();
    let meta = &meta["result"];
    assert_eq!(meta["size_bytes"], 5000);
    assert_eq!(text(meta, "content_type"), "application/x-meter");
    assert_eq!(text(meta, "hash").len(), 64);

    let (status, listed) = beth
        .get(&format!(
            "/api/now/attachment?sysparm_query=table_sys_id={id}"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["result"][0], *meta);

    let file = beth
        .client
        .get(beth.url(&format!(
            "/api/now/attachment/{}/file",
            text(meta, "sys_id")
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(file.headers()["content-type"], "application/x-meter");
    assert_eq!(file.bytes().await.unwrap().to_vec(), bytes);
}

#[tokio::test]
async fn an_attachment_over_the_limit_is_413_and_not_stored() {
    let instance = Instance::start_with(|c| c.max_attachment_bytes = 1024).await;
    let admin = instance.login("admin").await;
    let t = task(&admin, "accepted", "beth.anglin").await;
    let id = text(&t, "sys_id");
    let response = admin
        .client
        .post(admin.url("/api/now/attachment/file"))
        .query(&[
            ("table_name", "wm_task"),
            ("table_sys_id", id),
            ("file_name", "big.bin"),
        ])
        .header("x-offgrid-request", "1")
        .body(vec![0u8; 1025])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1024"),
        "{body}"
    );
    assert!(admin
        .list("sys_attachment", &format!("table_sys_id={id}"))
        .await
        .is_empty());
}
