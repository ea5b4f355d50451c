//! Sessions and sign-in: JSON-only login, slow password hashes, hashed session tokens,
//! sessions that expire, `Secure` cookies behind HTTPS, throttled failed sign-ins.

use crate::fixture::Instance;
use offgrid_server::storage::sqlite::Sqlite;
use offgrid_server::storage::Storage;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

async fn login(
    instance: &Instance,
    client: &Client,
    user: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(instance.url("/api/offgrid/login"))
        .json(&json!({"user_name": user, "password": password}))
        .send()
        .await
        .unwrap()
}

fn session_token(response: &reqwest::Response) -> String {
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    let token = cookie.split(';').next().unwrap().split_once('=').unwrap().1;
    token.to_string()
}

/// Every byte the database holds on disk, its write-ahead log included.
fn stored_bytes(instance: &Instance) -> Vec<u8> {
    let mut bytes = std::fs::read(&instance.db).unwrap();
    let wal = instance.db.with_extension("db-wal");
    bytes.extend(std::fs::read(wal).unwrap_or_default());
    bytes
}

#[tokio::test]
async fn login_accepts_only_a_json_body() {
    let instance = Instance::start().await;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let mut request = Client::new()
            .post(instance.url("/api/offgrid/login"))
            .body(r#"{"user_name": "beth.anglin", "password": "beth.anglin"}"#);
        if !content_type.is_empty() {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        assert!(response.headers().get("set-cookie").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unsupported_media_type");
    }
}

#[tokio::test]
async fn passwords_are_argon2_hashes_and_session_tokens_are_stored_hashed() {
    let instance = Instance::start().await;
    let client = Client::new();
    let response = login(&instance, &client, "beth.anglin", "beth.anglin").await;
    assert_eq!(response.status(), StatusCode::OK);
    let token = session_token(&response);
    assert!(
        !stored_bytes(&instance)
            .windows(token.len())
            .any(|w| w == token.as_bytes()),
        "the session token itself is not in the database"
    );
    let db = Sqlite::open(&instance.db).unwrap();
    let storage: &dyn Storage = &db;
    let (_, hash) = storage
        .read(|tx| tx.credentials("beth.anglin"))
        .unwrap()
        .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
}

#[tokio::test]
async fn an_idle_session_expires() {
    let instance = Instance::start_with(|c| c.session_idle_secs = 1).await;
    let client = Client::builder().cookie_store(true).build().unwrap();
    assert_eq!(
        login(&instance, &client, "beth.anglin", "beth.anglin")
            .await
            .status(),
        StatusCode::OK
    );
    let config = || client.get(instance.url("/api/offgrid/config")).send();
    assert_eq!(config().await.unwrap().status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let response = config().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
}

#[tokio::test]
async fn a_session_in_use_still_ends_at_its_absolute_limit() {
    let instance = Instance::start_with(|c| {
        c.session_idle_secs = 60;
        c.session_max_secs = 2;
    })
    .await;
    let client = Client::builder().cookie_store(true).build().unwrap();
    login(&instance, &client, "beth.anglin", "beth.anglin").await;
    let config = || client.get(instance.url("/api/offgrid/config")).send();
    for _ in 0..3 {
        assert_eq!(config().await.unwrap().status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(config().await.unwrap().status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_instance_is_served_over_https() {
    let plain = Instance::start().await;
    let response = login(&plain, &Client::new(), "beth.anglin", "beth.anglin").await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(!cookie.contains("Secure"), "{cookie}");
    let https = Instance::start_with(|c| c.secure_cookies = true).await;
    let response = login(&https, &Client::new(), "beth.anglin", "beth.anglin").await;
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_user_and_per_address() {
    let instance = Instance::start().await;
    let client = Client::new();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            login(&instance, &client, "beth.anglin", "guess")
                .await
                .status(),
        );
    }
    assert_eq!(statuses[..5], [StatusCode::UNAUTHORIZED; 5]);
    assert_eq!(statuses[5], StatusCode::TOO_MANY_REQUESTS);
    let response = login(&instance, &client, "beth.anglin", "beth.anglin").await;
    assert_eq!(
        response.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    let basic = client
        .get(instance.url("/api/offgrid/config"))
        .basic_auth("beth.anglin", Some("beth.anglin"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::TOO_MANY_REQUESTS, "Basic too");
    assert_eq!(
        login(&instance, &client, "abel.tuter", "abel.tuter")
            .await
            .status(),
        StatusCode::OK,
        "another user from the same address still signs in"
    );

    // One address guessing many users' passwords is stopped too.
    let mut last = StatusCode::OK;
    for i in 0..25 {
        last = login(&instance, &client, &format!("nobody{i}"), "guess")
            .await
            .status();
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let instance = Instance::start_with(|c| c.header_read_timeout_secs = 1).await;
    let address = instance.base.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /api/offgrid/config HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the instance still holds a connection whose headers never ended"
    );
}
