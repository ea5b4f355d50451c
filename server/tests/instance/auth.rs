//! Authentication, roles and the CSRF rule.

use crate::fixture::{task, text, Instance};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn requests_without_a_session_or_with_a_bad_password_are_401() {
    let instance = Instance::start().await;
    let anonymous = Client::new();
    let response = anonymous
        .get(instance.url("/api/now/table/wm_task"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let response = anonymous
        .post(instance.url("/api/offgrid/login"))
        .json(&json!({"user_name": "beth.anglin", "password": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let response = anonymous
        .get(instance.url("/api/offgrid/config"))
        .basic_auth("beth.anglin", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = anonymous
        .get(instance.url("/api/offgrid/config"))
        .basic_auth("beth.anglin", Some("beth.anglin"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "Basic auth works for scripts"
    );
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_logout_ends_the_session() {
    let instance = Instance::start().await;
    let client = Client::builder().cookie_store(true).build().unwrap();
    let response = client
        .post(instance.url("/api/offgrid/login"))
        .json(&json!({"user_name": "fred.luddy", "password": "fred.luddy"}))
        .send()
        .await
        .unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["result"]["roles"], json!(["dispatcher"]));

    let response = client
        .post(instance.url("/api/offgrid/logout"))
        .header("x-offgrid-request", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = client
        .get(instance.url("/api/offgrid/config"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn technicians_write_only_inside_their_scope_and_admins_anywhere() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let beth = instance.login("beth.anglin").await;
    let fred = instance.login("fred.luddy").await;
    let abels = task(&admin, "assigned", "abel.tuter").await;
    let path = format!("/api/now/table/wm_task/{}", text(&abels, "sys_id"));

    let (status, body) = beth.patch(&path, json!({"priority": "1"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("WOT9000001") && message.contains("offline scope"),
        "{message}"
    );
    assert_eq!(admin.record("wm_task", text(&abels, "sys_id")).await, abels);

    let beths = task(&admin, "assigned", "beth.anglin").await;
    let (status, _) = beth
        .patch(
            &format!("/api/now/table/wm_task/{}", text(&beths, "sys_id")),
            json!({"priority": "1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "her own open task is in scope");

    let (status, _) = fred.patch(&path, json!({"priority": "2"})).await;
    assert_eq!(status, StatusCode::OK, "a dispatcher writes any task");
    let (status, _) = admin.patch(&path, json!({"priority": "4"})).await;
    assert_eq!(status, StatusCode::OK, "an admin writes anything");

    let users = admin.list("sys_user", "user_name=abel.tuter").await;
    let user_path = format!("/api/now/table/sys_user/{}", text(&users[0], "sys_id"));
    let (status, _) = fred.patch(&user_path, json!({"name": "Abel"})).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "sys_user is read-only except for admin"
    );
    let (status, _) = admin.patch(&user_path, json!({"name": "Abel"})).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_cookie_write_without_json_or_the_offgrid_header_is_refused_as_csrf() {
    let instance = Instance::start().await;
    let admin = instance.login("admin").await;
    let before = admin.list("incident", "").await.len();
    let response = admin
        .client
        .post(admin.url("/api/now/table/incident"))
        .header("content-type", "text/plain")
        .body("{\"number\": \"INC1\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "csrf");
    assert_eq!(admin.list("incident", "").await.len(), before);

    let response = admin
        .client
        .post(admin.url("/api/now/table/incident"))
        .header("content-type", "text/plain")
        .header("x-offgrid-request", "1")
        .body("{\"number\": \"INC1\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "the header marks a same-origin call"
    );
}

#[tokio::test]
async fn the_app_and_the_core_are_served_without_a_session() {
    let files = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(files.path().join("www")).unwrap();
    std::fs::create_dir_all(files.path().join("pkg")).unwrap();
    std::fs::write(files.path().join("www/index.html"), "<h1>offgrid</h1>").unwrap();
    std::fs::write(files.path().join("pkg/offgrid.js"), "export {};").unwrap();
    let (www, pkg) = (files.path().join("www"), files.path().join("pkg"));
    let instance = Instance::start_with(|c| {
        c.www = www;
        c.pkg = pkg;
    })
    .await;
    let anonymous = Client::new();
    let page = anonymous.get(instance.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.text().await.unwrap(), "<h1>offgrid</h1>");
    let module = anonymous
        .get(instance.url("/pkg/offgrid.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(module.status(), StatusCode::OK);
    assert_eq!(module.text().await.unwrap(), "export {};");
}
