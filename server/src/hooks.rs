//! The instance's hooks: named server routines that `hook` steps call (scripted logic lives
//! here, on the instance only). Their writes go through the action's store, so they are kept
//! only when the whole action succeeds.

use offgrid::action::{ActionContext, Hooks};
use offgrid::record::{new_sys_id, Record};
use offgrid::store::Store;

use crate::rules::record_label;

/// The audit table hooks write to.
pub const AUDIT_TABLE: &str = "sys_audit";

/// The hooks of this instance.
#[derive(Clone, Copy, Debug, Default)]
pub struct InstanceHooks;

impl Hooks for InstanceHooks {
    fn call(
        &mut self,
        name: &str,
        store: &mut dyn Store,
        table: &str,
        record: &Record,
        ctx: &ActionContext,
    ) -> Result<(), String> {
        match name {
            "notify_dispatcher" => notify_dispatcher(store, table, record, ctx),
            other => Err(format!("the instance has no hook named {other:?}")),
        }
    }
}

/// A record value as text for a one-line message: control characters (line breaks
/// included) are shown escaped, so a value cannot forge another line.
fn one_line(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Tells the dispatcher about a change to a task: a `sys_audit` record the dispatcher's
/// views pick up (standing in for a notification).
fn notify_dispatcher(
    store: &mut dyn Store,
    table: &str,
    record: &Record,
    ctx: &ActionContext,
) -> Result<(), String> {
    let user = &ctx.user.user_name;
    let state = one_line(&record.text("state").unwrap_or_default());
    let assignee = one_line(&record.text("assigned_to").unwrap_or_default());
    let mut audit = Record::new();
    audit.set("sys_id", new_sys_id());
    audit.set("table_name", table);
    audit.set("record_sys_id", record.sys_id().unwrap_or_default());
    audit.set("event", "notify_dispatcher");
    audit.set("user", user.clone());
    audit.set(
        "message",
        format!(
            "{user} changed {}: state {state}, assigned to {assignee}",
            one_line(&record_label(table, record))
        ),
    );
    audit.stamp_insert(user, ctx.now);
    store.put(AUDIT_TABLE, audit).map_err(|e| e.to_string())
}
