//! Login and logout: the session cookie.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, CurrentUser};
use crate::error::{ApiError, HttpError};
use crate::routes::{body, json};
use crate::AppState;

#[derive(Deserialize)]
struct Login {
    user_name: String,
    password: String,
}

/// `POST /api/offgrid/login`: sets the session cookie; answers with the user.
pub async fn login(
    State(state): State<AppState>,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, HttpError> {
    let login: Login = json(&body(bytes)?)?;
    let (user, token) = state
        .blocking(move |s| {
            s.write(|tx| {
                let user = auth::verify(tx, &login.user_name, &login.password)?
                    .ok_or_else(|| ApiError::unauthorized("wrong user name or password"))?;
                let token = auth::open_session(tx, &user.user_name)?;
                Ok::<_, ApiError>((user, token))
            })
        })
        .await?;
    Ok((
        [(SET_COOKIE, auth::session_cookie(&token))],
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
            .blocking(move |s| s.write(|tx| Ok::<_, ApiError>(tx.delete_session(&token)?)))
            .await?;
    }
    Ok((
        [(SET_COOKIE, auth::session_cookie(""))],
        Json(json!({ "result": { "logged_out": user.user_name } })),
    )
        .into_response())
}
