//! Who is calling: session cookies and HTTP Basic, password hashes, sessions that expire,
//! throttled failed sign-ins, roles, the offline scopes, and the CSRF rule for
//! cookie-authenticated writes.
//!
//! Passwords are stored as argon2id hashes (PHC strings). Session tokens are 256 random bits;
//! only their sha-256 is stored, so the database alone opens no session.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use axum::http::request::Parts;
use axum::http::Method;
use base64::Engine as _;
use offgrid::query::{Query, QueryContext};
use offgrid::record::{new_sys_id, Record};
use serde_json::Value;

use crate::error::{ApiError, HttpError};
use crate::storage::{find_by, sha256_hex, Session, StorageError, Tx};
use crate::AppState;
use std::net::{IpAddr, SocketAddr};

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
            roles: offgrid::api::local::role_names(record.get("roles")),
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

/// Sets a user's password: an argon2id hash with a fresh salt (the salt column stays empty,
/// the PHC string carries it).
pub fn set_password(tx: &mut dyn Tx, user: &str, password: &str) -> Result<(), StorageError> {
    // 128 random bits, as hex: valid salt characters.
    let salt = SaltString::from_b64(&new_sys_id()).map_err(|e| StorageError(e.to_string()))?;
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| StorageError(format!("cannot hash a password: {e}")))?;
    tx.put_credentials(user, "", &hash.to_string())
}

fn password_matches(salt: &str, hash: &str, password: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        // Written before passwords were argon2: sha-256 of the salt and the password.
        Err(_) => sha256_hex(format!("{salt}:{password}").as_bytes()) == hash,
    }
}

/// Checks a user name and password; the user when they are right.
pub fn verify(tx: &dyn Tx, user: &str, password: &str) -> Result<Option<CurrentUser>, ApiError> {
    let Some((salt, hash)) = tx.credentials(user)? else {
        return Ok(None);
    };
    if !password_matches(&salt, &hash, password) {
        return Ok(None);
    }
    Ok(find_by(tx, USER_TABLE, "user_name", user)?.map(|r| CurrentUser::from_record(&r, None)))
}

/// Opens a session for a user; returns the token (only its hash is stored).
pub fn open_session(tx: &mut dyn Tx, user: &str) -> Result<String, StorageError> {
    // Two sys_ids: 256 bits from the OS's secure random source.
    let token = format!("{}{}", new_sys_id(), new_sys_id());
    tx.put_session(&token_hash(&token), user, unix_now())?;
    Ok(token)
}

/// What is stored of a session token: a random token needs no slow hash.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// How long sessions live and how their cookie is marked.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle_secs: u64,
    /// A session ends this long after sign-in.
    pub max_secs: u64,
    /// Whether the cookie is `Secure` (served over HTTPS).
    pub secure: bool,
}

impl SessionPolicy {
    /// The `Set-Cookie` value for a session token (an empty token clears the cookie).
    pub fn cookie(&self, token: &str) -> String {
        let expiry = if token.is_empty() { "; Max-Age=0" } else { "" };
        let secure = if self.secure { "; Secure" } else { "" };
        format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{expiry}{secure}")
    }

    /// Why `session` has ended at `now`, if it has.
    fn expired(&self, session: &Session, now: i64) -> Option<&'static str> {
        if now - session.created_at >= self.max_secs as i64 {
            Some("the session has expired (it is older than the longest a session lives)")
        } else if now - session.last_seen >= self.idle_secs as i64 {
            Some("the session has expired (unused for too long)")
        } else {
            None
        }
    }

    /// Whether a use at `now` is worth writing down: not more often than once a minute, nor
    /// less often than half the idle time.
    fn worth_touching(&self, session: &Session, now: i64) -> bool {
        now - session.last_seen >= (self.idle_secs / 2).min(60) as i64
    }
}

/// Checks a sign-in against the throttle, then the password; counts a failure. `address` is
/// the client's, when known.
pub async fn sign_in(
    state: &AppState,
    user: String,
    password: String,
    address: Option<IpAddr>,
) -> Result<CurrentUser, ApiError> {
    if let Err(wait) = state.throttle.check(&user, address) {
        return Err(ApiError::too_many_requests(
            format!(
                "too many failed sign-ins for {user} or from this address; try again in {wait} \
                 seconds"
            ),
            wait,
        ));
    }
    let name = user.clone();
    let found = state
        .blocking(move |s| s.read(|tx| verify(tx, &name, &password)))
        .await?;
    match found {
        Some(found) => {
            state.throttle.succeeded(&user);
            Ok(found)
        }
        None => {
            state.throttle.failed(&user, address);
            Err(ApiError::unauthorized("wrong user name or password"))
        }
    }
}

/// The client's address, when the server was started with connection info.
pub fn client_address(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
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
            return sign_in(state, user, password, client_address(parts)).await;
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
        let policy = state.sessions;
        let hash = token_hash(&token);
        let now = unix_now();
        let (session, user) = state
            .blocking({
                let hash = hash.clone();
                move |s| {
                    s.read(|tx| {
                        let Some(session) = tx.session(&hash)? else {
                            return Ok::<_, ApiError>((None, None));
                        };
                        let user = find_by(tx, USER_TABLE, "user_name", &session.user_name)?
                            .map(|r| CurrentUser::from_record(&r, Some(token.clone())));
                        Ok((Some(session), user))
                    })
                }
            })
            .await?;
        let (Some(session), Some(user)) = (session, user) else {
            return Err(ApiError::unauthorized(
                "the session has ended; log in again",
            ));
        };
        if let Some(why) = policy.expired(&session, now) {
            state
                .blocking(move |s| s.write(|tx| Ok::<_, ApiError>(tx.delete_session(&hash)?)))
                .await?;
            return Err(ApiError::unauthorized(format!("{why}; log in again")));
        }
        if policy.worth_touching(&session, now) {
            state
                .blocking(move |s| s.write(|tx| Ok::<_, ApiError>(tx.touch_session(&hash, now)?)))
                .await?;
        }
        Ok(user)
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
