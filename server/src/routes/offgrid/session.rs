//! Login and logout: the session cookie.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, HttpError};
use crate::routes::{body, json};
use crate::AppState;

#[derive(Deserialize)]
struct Login {
    user_name: String,
    password: String,
}

/// `POST /api/offgrid/login`: sets the session cookie; answers with the user. Only a JSON
/// body (415 otherwise): a cross-site form cannot send one, so it cannot sign a victim in.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let json_body = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_body {
        return Err(ApiError::unsupported_media_type(
            "sign in with a JSON body: Content-Type: application/json",
        )
        .into());
    }
    let login: Login = json(&body(bytes)?)?;
    let user = auth::sign_in(&state, login.user_name, login.password, Some(address.ip())).await?;
    let name = user.user_name.clone();
    let token = state
        .blocking(move |s| s.write(|tx| Ok::<_, ApiError>(auth::open_session(tx, &name)?)))
        .await?;
    Ok((
        [(SET_COOKIE, state.sessions.cookie(&token))],
        Json(json!({ "result": user.to_json() })),
    )
        .into_response())
}

/// `POST /api/offgrid/logout`: ends the session and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, HttpError> {
    if let Some(token) = user.session.clone() {
        state
            .blocking(move |s| {
                s.write(|tx| Ok::<_, ApiError>(tx.delete_session(&auth::token_hash(&token))?))
            })
            .await?;
    }
    Ok((
        [(SET_COOKIE, state.sessions.cookie(""))],
        Json(json!({ "result": { "logged_out": user.user_name } })),
    )
        .into_response())
}
