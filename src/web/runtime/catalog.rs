//! What the app builds its screens from: the instance's configuration (answered from the
//! stored copy when offline) and the actions that stand for a record now. The rules are the
//! core's ([`api::action::applicable`]); this module finds the record and the mode.

use super::http::{from_cache, json_response, ok};
use super::{keys, InstanceConfig, Runtime, RuntimeError, Session};
use crate::api::action::applicable;
use crate::api::table::known_table;
use crate::record::Record;
use serde_json::json;
use std::collections::BTreeMap;
use web_sys::{Request, Response};

impl Runtime {
    /// Whether actions run on the device now: offline mode on, or no network.
    fn offline_now(&self, session: &Session) -> bool {
        session.offline_mode.get() || !self.network.is_up()
    }

    /// `GET /api/offgrid/config`: the instance's when it can be asked; otherwise the copy
    /// stored at sign-in and with every download, in the same shape, from the cache.
    pub(super) async fn config(
        &self,
        request: &Request,
        path: &str,
    ) -> Result<Response, RuntimeError> {
        let session = self.session();
        if session.as_ref().is_none_or(|s| !self.offline_now(s)) {
            match self.transport.forward(request, path).await {
                Ok(response) => return Ok(response),
                Err(e) if e.is_network() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let session = session.ok_or(RuntimeError::NotSignedIn)?;
        let stored: InstanceConfig = session.db.get_meta(keys::CONFIG).await?.unwrap_or_default();
        let answer = json!({
            "tables": stored.tables,
            "actions": session.actions,
            "policy": stored.policy,
            "user": session.user,
        });
        Ok(json_response(200, &answer, &[from_cache()]))
    }

    /// `GET /offgrid/actions?table=T&sys_id=S`: the table's actions as they stand for the
    /// record (the device's version; the instance's when the device has none and it can be
    /// asked) and the signed-in user, now. Without `sys_id`: the table's record-less actions
    /// (those that create a record), for a form with no record selected.
    pub(super) async fn actions_for(
        &self,
        params: &BTreeMap<String, String>,
    ) -> Result<Response, RuntimeError> {
        let session = self.signed_in()?;
        let param = |name: &str| params.get(name).filter(|v| !v.is_empty());
        let table = param("table").ok_or_else(|| {
            RuntimeError::BadRequest("send ?table=...(&sys_id=...): table is missing".into())
        })?;
        let sys_id = param("sys_id");
        known_table(table)?;
        let offline = self.offline_now(&session);
        let record = match sys_id {
            Some(sys_id) => Some(
                self.device_or_instance_record(&session, table, sys_id, offline)
                    .await?,
            ),
            None => None,
        };
        let actions = applicable(
            &session.actions,
            table,
            record.as_ref(),
            &session.ctx(),
            &session.user.role_names(),
            offline,
        );
        Ok(ok(
            &json!({ "table": table, "sys_id": sys_id, "offline": offline, "actions": actions }),
        ))
    }

    /// The record `sys_id` of `table` as the device has it, with the user's unsynced changes;
    /// the instance's when the device has none and it can be asked.
    async fn device_or_instance_record(
        &self,
        session: &Session,
        table: &str,
        sys_id: &str,
        offline: bool,
    ) -> Result<Record, RuntimeError> {
        let record = match session.db.get_record(table, sys_id).await? {
            Some(record) => Some(record),
            None => self.instance_record(table, sys_id).await,
        };
        record.ok_or_else(|| {
            RuntimeError::NotFound(format!(
                "the {table} record {sys_id} is not on this device{}",
                if offline { "" } else { " nor on the instance" }
            ))
        })
    }
}
