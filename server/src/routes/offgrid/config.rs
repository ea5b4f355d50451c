//! The configuration the core downloads: offline scopes, action definitions, cache policy.

use axum::extract::State;
use axum::Json;
use offgrid::action::ActionSet;
use offgrid::policy::CachePolicy;
use serde_json::{json, Map, Value};

use crate::auth::CurrentUser;
use crate::config_keys;
use crate::error::{ApiError, HttpError};
use crate::storage::{StorageError, Tx};
use crate::AppState;

/// The offline scopes, `{table: query}` (empty when none are configured).
pub(super) fn tables(tx: &dyn Tx) -> Result<Map<String, Value>, StorageError> {
    Ok(match tx.config(config_keys::TABLES)? {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    })
}

/// The action definitions.
pub(super) fn actions(tx: &dyn Tx) -> Result<ActionSet, ApiError> {
    let value = tx
        .config(config_keys::ACTIONS)?
        .unwrap_or_else(|| Value::Array(Vec::new()));
    ActionSet::from_json(&value)
        .map_err(|e| ApiError::internal(format!("the stored action definitions are invalid: {e}")))
}

/// `GET /api/offgrid/config`: offline scopes, action definitions and cache policy, and who
/// the user is.
pub async fn config(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Value>, HttpError> {
    let (tables, actions, policy) = state
        .blocking(|s| {
            s.read(|tx| {
                let policy = match tx.config(config_keys::POLICY)? {
                    Some(policy) => policy,
                    None => serde_json::to_value(CachePolicy::default())
                        .map_err(|e| ApiError::internal(e.to_string()))?,
                };
                Ok::<_, ApiError>((tables(tx)?, actions(tx)?.to_json(), policy))
            })
        })
        .await?;
    Ok(Json(json!({
        "tables": tables,
        "actions": actions,
        "policy": policy,
        "user": user.to_json(),
    })))
}
