//! Who is calling: session cookies and HTTP Basic, demo-grade password hashes, roles, the
//! offline scopes, and the CSRF rule for cookie-authenticated writes.
//!
//! Passwords are stored as sha-256 of a random salt and the password. That is demo grade
//! (fast to brute-force); a production instance would use a slow password hash.

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::Method;
use base64::Engine as _;
use offgrid::query::{Query, QueryContext};
use offgrid::record::{new_sys_id, Record};
use serde_json::Value;

use crate::error::{ApiError, HttpError};
use crate::storage::{find_by, sha256_hex, StorageError, Tx};
use crate::AppState;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "offgrid_session";
/// The table of users.
pub const USER_TABLE: &str = "sys_user";

/// The authenticated caller.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    /// `user_name`.
    pub user_name: String,
    /// The `sys_user` record's `sys_id`.
    pub sys_id: String,
    /// Roles (`admin`, `dispatcher`, `technician`).
    pub roles: Vec<String>,
    /// The session token, when the caller came with a cookie rather than Basic credentials.
    pub session: Option<String>,
}

impl CurrentUser {
    fn from_record(record: &Record, session: Option<String>) -> Self {
        Self {
            user_name: record.text("user_name").unwrap_or_default(),
            sys_id: record.sys_id().unwrap_or_default().to_string(),
            roles: roles(record),
            session,
        }
    }

    /// Whether the user has a role.
    pub fn has(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The context that resolves `javascript:gs.getUserName()` for this user.
    pub fn ctx(&self) -> QueryContext {
        QueryContext {
            user_name: self.user_name.clone(),
            user_sys_id: self.sys_id.clone(),
        }
    }

    /// The user as the API shows it.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "user_name": self.user_name,
            "sys_id": self.sys_id,
            "roles": self.roles,
        })
    }
}

/// A user record's roles: a comma-separated string or an array of strings.
fn roles(record: &Record) -> Vec<String> {
    match record.get("roles") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) => s
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// Sets a user's password (fresh salt).
pub fn set_password(tx: &mut dyn Tx, user: &str, password: &str) -> Result<(), StorageError> {
    let salt = new_sys_id();
    tx.put_credentials(user, &salt, &hash_password(&salt, password))
}

fn hash_password(salt: &str, password: &str) -> String {
    sha256_hex(format!("{salt}:{password}").as_bytes())
}

/// Checks a user name and password; the user when they are right.
pub fn verify(tx: &dyn Tx, user: &str, password: &str) -> Result<Option<CurrentUser>, ApiError> {
    let Some((salt, hash)) = tx.credentials(user)? else {
        return Ok(None);
    };
    if hash_password(&salt, password) != hash {
        return Ok(None);
    }
    Ok(find_by(tx, USER_TABLE, "user_name", user)?.map(|r| CurrentUser::from_record(&r, None)))
}

/// Opens a session for a user; returns the token.
pub fn open_session(tx: &mut dyn Tx, user: &str) -> Result<String, StorageError> {
    // Two sys_ids: 256 bits from the OS's secure random source.
    let token = format!("{}{}", new_sys_id(), new_sys_id());
    tx.put_session(&token, user, offgrid::Timestamp::now())?;
    Ok(token)
}

/// The `Set-Cookie` value for a session token (an empty token clears the cookie).
pub fn session_cookie(token: &str) -> String {
    let expiry = if token.is_empty() { "; Max-Age=0" } else { "" };
    format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{expiry}")
}

fn cookie_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

fn basic_credentials(parts: &Parts) -> Option<Result<(String, String), ApiError>> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    // The scheme is case-insensitive (RFC 9110 11.1).
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    Some(match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((user, password)) => Ok((user.to_string(), password.to_string())),
        None => Err(ApiError::unauthorized(
            "the Basic credentials are not base64 of user:password",
        )),
    })
}

/// A browser sends cookies with cross-site form posts, but cannot set a JSON content type or
/// a custom header on them without a CORS preflight: requiring one of the two stops CSRF.
fn csrf_safe(parts: &Parts) -> bool {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let json = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    let marked = parts
        .headers
        .get("x-offgrid-request")
        .is_some_and(|v| v.as_bytes() == b"1");
    json || marked
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HttpError> {
        Ok(Self::authenticate(parts, state).await?)
    }
}

impl CurrentUser {
    /// Who is calling: Basic credentials, else the session cookie (with the CSRF rule).
    async fn authenticate(parts: &Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(credentials) = basic_credentials(parts) {
            let (user, password) = credentials?;
            let found = state
                .blocking(move |s| s.read(|tx| verify(tx, &user, &password)))
                .await?;
            return found.ok_or_else(|| ApiError::unauthorized("wrong user name or password"));
        }
        let Some(token) = cookie_token(parts) else {
            return Err(ApiError::unauthorized(
                "log in first: no session cookie and no Basic credentials",
            ));
        };
        if !csrf_safe(parts) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf",
                "a request that changes data with a session cookie must have \
                 Content-Type: application/json or the header X-Offgrid-Request: 1",
            ));
        }
        let user = state
            .blocking(move |s| {
                s.read(|tx| {
                    let Some(name) = tx.session_user(&token)? else {
                        return Ok::<_, ApiError>(None);
                    };
                    Ok(find_by(tx, USER_TABLE, "user_name", &name)?
                        .map(|r| CurrentUser::from_record(&r, Some(token.clone()))))
                })
            })
            .await?;
        user.ok_or_else(|| ApiError::unauthorized("the session has ended; log in again"))
    }
}

/// The offline scope query of a table (from the configuration), `None` when the table has
/// none.
pub fn scope(tx: &dyn Tx, table: &str) -> Result<Option<Query>, ApiError> {
    let tables = tx.config(crate::config_keys::TABLES)?;
    let Some(text) = tables
        .as_ref()
        .and_then(|t| t.get(table))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    Query::parse(text).map(Some).map_err(|e| {
        ApiError::internal(format!(
            "the offline scope of {table} is not a valid query: {e}"
        ))
    })
}
