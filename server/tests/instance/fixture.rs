//! Starts an instance with demo data and gives a logged-in client per user.

use offgrid_server::{start, Config};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

/// Demo records generated (small, so every test starts fast).
pub const RECORDS: u32 = 60;
/// The demo generator's seed.
pub const SEED: u64 = 7;

/// A running instance in its own temporary directory.
pub struct Instance {
    pub base: String,
    /// The SQLite file.
    pub db: std::path::PathBuf,
    _dir: TempDir,
}

impl Instance {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.db = dir.path().join("offgrid.db");
        config.demo = true;
        config.records = RECORDS;
        config.seed = SEED;
        config.www = dir.path().join("www");
        config.pkg = dir.path().join("pkg");
        adjust(&mut config);
        let db = config.db.clone();
        let running = start(config).await.unwrap();
        Self {
            base: format!("http://{}", running.addr),
            db,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client logged in as `user` (password = user name) with a session cookie.
    pub async fn login(&self, user: &str) -> User {
        let client = Client::builder().cookie_store(true).build().unwrap();
        let response = client
            .post(self.url("/api/offgrid/login"))
            .json(&json!({ "user_name": user, "password": user }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "login as {user}");
        User {
            client,
            base: self.base.clone(),
        }
    }
}

/// A logged-in user's client.
pub struct User {
    pub client: Client,
    pub base: String,
}

/// A status and a JSON body (null when the body is empty or not JSON).
pub type Answer = (StatusCode, Value);

impl User {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        match body {
            Some(body) => request = request.json(&body),
            // What the app sends on a write without a JSON body (CSRF rule).
            None => request = request.header("x-offgrid-request", "1"),
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }

    /// A record, asserting it exists.
    pub async fn record(&self, table: &str, sys_id: &str) -> Value {
        let (status, body) = self.get(&format!("/api/now/table/{table}/{sys_id}")).await;
        assert_eq!(status, StatusCode::OK, "{table} {sys_id}: {body}");
        body["result"].clone()
    }

    /// Every record of a table matching `query` (URL-encoded here).
    pub async fn list(&self, table: &str, query: &str) -> Vec<Value> {
        let response = self
            .client
            .get(self.url(&format!("/api/now/table/{table}")))
            .query(&[("sysparm_query", query)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["result"].as_array().unwrap().clone()
    }

    /// Inserts a record, asserting 201.
    pub async fn insert(&self, table: &str, fields: Value) -> Value {
        let (status, body) = self.post(&format!("/api/now/table/{table}"), fields).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["result"].clone()
    }

    /// Runs an action live.
    pub async fn action(&self, name: &str, table: &str, sys_id: &str, inputs: Value) -> Answer {
        let body = json!({ "table": table, "sys_id": sys_id, "inputs": inputs });
        self.post(&format!("/api/offgrid/actions/{name}"), body)
            .await
    }
}

/// A new work order task, inserted by admin.
pub async fn task(admin: &User, state: &str, assigned_to: &str) -> Value {
    admin
        .insert(
            "wm_task",
            json!({
                "number": "WOT9000001", "short_description": "Fixture task",
                "state": state, "priority": "3", "assigned_to": assigned_to,
                "work_start": "", "work_end": "", "close_notes": "",
            }),
        )
        .await
}

/// The string field of a JSON record.
pub fn text<'a>(record: &'a Value, field: &str) -> &'a str {
    record[field].as_str().unwrap_or_default()
}

/// Journal entries of a record.
pub async fn journal(user: &User, sys_id: &str) -> Vec<Value> {
    user.list("sys_journal_field", &format!("element_id={sys_id}"))
        .await
}

/// Uploads `bytes` as `name` (`content_type`) to the task `sys_id`, as `user`; the
/// `sys_attachment` record.
pub async fn upload(
    user: &User,
    sys_id: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Value {
    let response = user
        .client
        .post(user.url("/api/now/attachment/file"))
        .query(&[
            ("table_name", "wm_task"),
            ("table_sys_id", sys_id),
            ("file_name", name),
        ])
        .header("content-type", content_type)
        .header("x-offgrid-request", "1")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.unwrap()["result"].clone()
}
