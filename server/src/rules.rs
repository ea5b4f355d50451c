//! Who may read and write what through the Table API and attachments: the same rules the
//! actions keep non-admins to. The choices of choice fields and the fields each role may write live in
//! the instance's configuration (`choices`, `writable`), with the defaults below when absent.
//!
//! - `admin` may write anything (choices still hold).
//! - Other users write only `wm_task` and `incident`.
//! - A `technician` writes only records inside their offline scope, before and after the
//!   change (no pushing a task into someone else's queue), never deletes, and writes only the
//!   fields `writable` lists for their role and table.
//! - A `dispatcher` writes and deletes any `wm_task` or `incident`, every field (a role that
//!   `writable` does not list may write every field of the tables it may write).

use offgrid::generate::{INCIDENT_STATES, WM_TASK_STATES};
use offgrid::query::{FieldTest, Query, QueryContext};
use offgrid::record::{value_text, Record};
use offgrid::store::{ATTACHMENT_TABLE, JOURNAL_TABLE};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

use crate::auth::{scope, CurrentUser, USER_TABLE};
use crate::config_keys;
use crate::error::ApiError;
use crate::hooks::AUDIT_TABLE;
use crate::storage::Tx;

/// The tables users other than the admin may write.
const FIELD_TABLES: [&str; 2] = ["wm_task", "incident"];

/// The choices of choice fields, `{table: {field: [choice, ...]}}`, when the configuration has
/// none: the seven task states and the incident states.
pub fn default_choices() -> Value {
    json!({ "wm_task": { "state": WM_TASK_STATES }, "incident": { "state": INCIDENT_STATES } })
}

/// The fields a role may write through the Table API, `{role: {table: [field, ...]}}`, when the
/// configuration has none. A technician's state, assignment, close notes and work times change
/// only through actions, whose conditions and validations hold.
pub fn default_writable() -> Value {
    json!({
        "technician": {
            "wm_task": ["short_description", "description", "priority", "work_notes", "comments"],
            "incident": ["short_description", "description", "urgency", "category",
                         "work_notes", "comments"],
        }
    })
}

fn configured(tx: &dyn Tx, key: &str, default: fn() -> Value) -> Result<Value, ApiError> {
    Ok(tx.config(key)?.unwrap_or_else(default))
}

fn names(value: Option<&Value>) -> Option<Vec<String>> {
    value.and_then(Value::as_array).map(|items| {
        items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    })
}

/// Refuses a value of a choice field that is not one of its choices (422 `invalid_value`).
pub fn check_choices(
    tx: &dyn Tx,
    table: &str,
    fields: &Map<String, Value>,
) -> Result<(), ApiError> {
    let choices = configured(tx, config_keys::CHOICES, default_choices)?;
    for (field, value) in fields {
        let Some(allowed) = names(choices.get(table).and_then(|t| t.get(field))) else {
            continue;
        };
        let text = value_text(value).unwrap_or_default();
        if !allowed.contains(&text) {
            return Err(ApiError::invalid_value(table, field, &text, &allowed));
        }
    }
    Ok(())
}

/// Whether `user` may write `table`: `before` is the record as it is (`None` for an insert),
/// `after` as it would be, `fields` the fields the request writes (journal fields included).
pub fn authorize_write(
    tx: &dyn Tx,
    user: &CurrentUser,
    table: &str,
    before: Option<&Record>,
    after: &Record,
    fields: &[String],
) -> Result<(), ApiError> {
    if user.has("admin") {
        return Ok(());
    }
    let label = record_label(table, after);
    let who = &user.user_name;
    if !FIELD_TABLES.contains(&table) {
        return Err(ApiError::forbidden(format!(
            "{who} may not change {label}: only an administrator may write {table}"
        )));
    }
    if user.has("dispatcher") {
        return Ok(());
    }
    if !user.has("technician") {
        return Err(ApiError::forbidden(format!(
            "{who} may not change {label}: they have no role that allows writing {table}"
        )));
    }
    let Some(query) = scope(tx, table)? else {
        return Err(ApiError::forbidden(format!(
            "{who} may not change {label}: {table} has no offline scope for technicians"
        )));
    };
    if let Some(before) = before.filter(|r| !query.matches(r, &user.ctx())) {
        return Err(ApiError::forbidden(format!(
            "{who} may not change {}: it is outside their offline scope ({})",
            record_label(table, before),
            query.text()
        )));
    }
    if !query.matches(after, &user.ctx()) {
        return Err(ApiError::forbidden(format!(
            "{who} may not change {label}: after the change it would be outside their offline \
             scope ({})",
            query.text()
        )));
    }
    let writable = configured(tx, config_keys::WRITABLE, default_writable)?;
    if let Some(allowed) = names(writable.get("technician").and_then(|r| r.get(table))) {
        if let Some(field) = fields.iter().find(|f| !allowed.contains(f)) {
            return Err(ApiError::forbidden(format!(
                "{who} may not write {field} of {label}: a technician writes only {} through \
                 the Table API (the rest changes through actions)",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// Whether `user` may delete `record` of `table`: the admin anything, the dispatcher any task
/// or incident, nobody else.
pub fn authorize_delete(user: &CurrentUser, table: &str, record: &Record) -> Result<(), ApiError> {
    if user.has("admin") || (user.has("dispatcher") && FIELD_TABLES.contains(&table)) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{} may not delete {}: only a dispatcher (tasks and incidents) or an administrator may",
        user.user_name,
        record_label(table, record)
    )))
}

/// How a record is named in messages: its number when it has one, and its sys_id.
pub fn record_label(table: &str, record: &Record) -> String {
    let id = record.sys_id().unwrap_or("(new)");
    match record.text("number") {
        Some(number) => format!("{table} {number} ({id})"),
        None => format!("{table} {id}"),
    }
}

/// What a user may read (SPEC 2): the admin everything; the dispatcher every task and
/// incident (the demo has one dispatch desk, which dispatches every field task); a technician
/// the tasks and incidents inside their offline scope. Everyone signed in reads `sys_user`;
/// journal entries, attachments and audit records follow their record.
pub enum Reader {
    /// The admin.
    Everything,
    /// A dispatcher: every `wm_task` and `incident`.
    Dispatch,
    /// A technician: the records of each table's offline scope, as this user.
    Scoped {
        /// The user, for `javascript:gs.getUserName()`.
        ctx: QueryContext,
        /// The offline scope of each table that has one.
        scopes: BTreeMap<String, Query>,
    },
    /// No role that reads records: users only.
    Nothing,
}

impl Reader {
    /// What `user` may read, with the offline scopes of the configuration.
    pub fn of(tx: &dyn Tx, user: &CurrentUser) -> Result<Self, ApiError> {
        if user.has("admin") {
            return Ok(Self::Everything);
        }
        if user.has("dispatcher") {
            return Ok(Self::Dispatch);
        }
        if !user.has("technician") {
            return Ok(Self::Nothing);
        }
        let mut scopes = BTreeMap::new();
        for table in FIELD_TABLES {
            if let Some(query) = scope(tx, table)? {
                scopes.insert(table.to_string(), query);
            }
        }
        Ok(Self::Scoped {
            ctx: user.ctx(),
            scopes,
        })
    }

    /// Whether the user may read `record` of `table`.
    pub fn may_read(&self, tx: &dyn Tx, table: &str, record: &Record) -> Result<bool, ApiError> {
        if matches!(self, Self::Everything) || table == USER_TABLE {
            return Ok(true);
        }
        if let Some((parent_table, parent_field)) = parent_of(table) {
            let (Some(parent_table), Some(parent_id)) =
                (record.text(parent_table), record.text(parent_field))
            else {
                return Ok(false);
            };
            if !FIELD_TABLES.contains(&parent_table.as_str()) {
                return Ok(false);
            }
            return match tx.get(&parent_table, &parent_id)? {
                Some(parent) => Ok(self.may_read_record(&parent_table, &parent)),
                None => Ok(false),
            };
        }
        Ok(self.may_read_record(table, record))
    }

    /// Whether the user may read a task or incident (no parent lookups).
    pub fn may_read_record(&self, table: &str, record: &Record) -> bool {
        match self {
            Self::Everything => true,
            Self::Dispatch => FIELD_TABLES.contains(&table),
            Self::Scoped { ctx, scopes } => scopes
                .get(table)
                .is_some_and(|query| query.matches(record, ctx)),
            Self::Nothing => false,
        }
    }

    /// What the user may read of `table` as the core's field tests ([`Query::field_tests`]),
    /// which a store can apply itself: no tests when they read all of it; `None` when the rule
    /// is no such tests (a scope with other conditions, a child record following its parent,
    /// a table they read none of).
    pub fn field_tests(&self, table: &str) -> Option<Vec<FieldTest>> {
        // As `may_read` decides, in its order.
        match self {
            Self::Everything => Some(Vec::new()),
            _ if table == USER_TABLE => Some(Vec::new()),
            _ if parent_of(table).is_some() => None,
            Self::Dispatch => FIELD_TABLES.contains(&table).then(Vec::new),
            Self::Scoped { ctx, scopes } => scopes.get(table)?.field_tests(ctx),
            Self::Nothing => None,
        }
    }

    /// The fields of a `table` record [`Reader::may_read`] looks at, when it looks at the
    /// record alone; `None` when it reads other records too (a journal entry's or an
    /// attachment's parent).
    pub fn fields_read(&self, table: &str) -> Option<BTreeSet<String>> {
        if parent_of(table).is_some() && !matches!(self, Self::Everything) {
            return None;
        }
        Some(match self {
            Self::Scoped { scopes, .. } => scopes.get(table).map(Query::fields).unwrap_or_default(),
            _ => BTreeSet::new(),
        })
    }

    /// Calls `each` with every record of `table` the user may read and that may meet
    /// `narrowing` ([`Tx::scan_narrowed`], records of only `fields` when given), in `sys_id`
    /// order, as the table is read: a list holds only what it keeps, never the whole table.
    pub fn scan(
        &self,
        tx: &dyn Tx,
        table: &str,
        narrowing: &[(String, Vec<String>)],
        fields: Option<&BTreeSet<String>>,
        mut each: impl FnMut(Record),
    ) -> Result<(), ApiError> {
        let mut failure = None;
        tx.scan_narrowed(table, narrowing, fields, &mut |record| match self
            .may_read(tx, table, &record)
        {
            Ok(true) => {
                each(record);
                true
            }
            Ok(false) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        })?;
        failure.map_or(Ok(()), Err)
    }
}

/// The fields naming the record a child record belongs to: its table and its `sys_id`.
fn parent_of(table: &str) -> Option<(&'static str, &'static str)> {
    match table {
        JOURNAL_TABLE => Some(("name", "element_id")),
        ATTACHMENT_TABLE => Some(("table_name", "table_sys_id")),
        AUDIT_TABLE => Some(("table_name", "record_sys_id")),
        _ => None,
    }
}
