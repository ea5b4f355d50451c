//! Fault injection for soak tests: off unless the instance was started with
//! `--fault-injection`. When on, `POST /api/offgrid/faults` (admin) arms the next requests of a
//! route to fail in one of three ways a device must survive without applying a change twice or
//! losing it: a 500 before anything runs, an answer held past the device's timeout after the
//! transaction committed, or the connection dropped after the transaction committed.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::auth::CurrentUser;
use crate::error::{ApiError, HttpError};
use crate::routes::{body, json};
use crate::AppState;

/// The routes a fault can be armed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// `POST /api/offgrid/sync`.
    Sync,
    /// `POST /api/offgrid/actions/{name}` (live actions).
    Action,
    /// `GET /api/offgrid/cache` (the download feed).
    Cache,
}

impl Route {
    fn of(path: &str) -> Option<Self> {
        match path {
            "/api/offgrid/sync" => Some(Self::Sync),
            "/api/offgrid/cache" => Some(Self::Cache),
            p if p.starts_with("/api/offgrid/actions/") => Some(Self::Action),
            _ => None,
        }
    }
}

/// How an armed request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "fault")]
pub enum Fault {
    /// 500 `internal`, before the handler runs: nothing is written.
    Error,
    /// The handler runs (and commits); its answer is held back for `ms` milliseconds, past
    /// the device's timeout.
    Hang {
        /// How long the answer is held.
        ms: u64,
    },
    /// The handler runs (and commits); the connection is then dropped without an answer.
    Drop,
}

/// The armed faults: per route, how many of its next requests fail, and how.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<BTreeMap<Route, (Fault, u32)>>,
}

impl Faults {
    /// Arms the next `count` requests of `route` with `fault` (0 disarms it).
    pub fn arm(&self, route: Route, fault: Fault, count: u32) {
        let mut armed = self.lock();
        if count == 0 {
            armed.remove(&route);
        } else {
            armed.insert(route, (fault, count));
        }
    }

    /// The fault for a request of `route`, counted down; `None` when none is armed.
    fn take(&self, route: Route) -> Option<Fault> {
        let mut armed = self.lock();
        let (fault, left) = armed.get_mut(&route)?;
        let fault = *fault;
        *left -= 1;
        if *left == 0 {
            armed.remove(&route);
        }
        Some(fault)
    }

    fn snapshot(&self) -> Vec<Armed> {
        self.lock()
            .iter()
            .map(|(route, (fault, count))| Armed {
                route: *route,
                fault: *fault,
                count: *count,
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Route, (Fault, u32)>> {
        // Every change is one call: the map stays consistent if a holder panicked.
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One armed fault: the body of `POST /api/offgrid/faults`, and each item of its answer.
#[derive(Debug, Deserialize, Serialize)]
pub struct Armed {
    /// Which route.
    pub route: Route,
    /// How it fails.
    #[serde(flatten)]
    pub fault: Fault,
    /// How many of its next requests (0 disarms).
    pub count: u32,
}

/// `POST /api/offgrid/faults` (admin): arms a fault; answers every fault still armed. Refused
/// with 404 unless the instance runs with `--fault-injection`.
pub async fn arm(
    State(state): State<AppState>,
    user: CurrentUser,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Some(faults) = &state.faults else {
        return Err(ApiError::not_found(
            "fault injection is off: start the instance with --fault-injection to use it",
        )
        .into());
    };
    if !user.roles.iter().any(|r| r == "admin") {
        return Err(ApiError::forbidden("only an admin may inject faults").into());
    }
    let armed: Armed = json(&body(bytes)?)?;
    faults.arm(armed.route, armed.fault, armed.count);
    Ok(Json(serde_json::json!({ "result": faults.snapshot() })))
}

/// Middleware: fails a request as its route's armed fault says, if one is.
pub async fn inject(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let fault = state
        .faults
        .as_ref()
        .zip(Route::of(request.uri().path()))
        .and_then(|(faults, route)| faults.take(route));
    match fault {
        None => next.run(request).await,
        Some(Fault::Error) => {
            HttpError(ApiError::internal("an injected fault (--fault-injection)")).into_response()
        }
        Some(Fault::Hang { ms }) => {
            let response = next.run(request).await;
            tokio::time::sleep(Duration::from_millis(ms)).await;
            response
        }
        Some(Fault::Drop) => {
            let _committed = next.run(request).await;
            // A body that fails before its first byte: hyper closes the connection without
            // writing the head.
            let cut = futures_util::stream::once(async {
                Err::<Bytes, _>(std::io::Error::other("an injected dropped connection"))
            });
            Response::new(Body::from_stream(cut))
        }
    }
}
