//! Demo data: the demo users with their passwords, generated tasks and incidents, offline
//! scopes, the default cache policy and the action definitions in `demo/actions.json`.

use offgrid::generate::{demo_users, generate};
use offgrid::policy::CachePolicy;
use offgrid::record::{Record, Timestamp};
use serde_json::{json, Value};

use crate::auth::{set_password, USER_TABLE};
use crate::config_keys;
use crate::storage::{Storage, StorageError};
use crate::StartError;

/// The demo action definitions: one for every step op and mode.
pub const ACTIONS_JSON: &str = include_str!("demo/actions.json");

/// Offline scope of work order tasks: the user's open tasks.
pub const TASK_SCOPE: &str = "assigned_to=javascript:gs.getUserName()^state!=closed_complete\
^state!=closed_incomplete^state!=cancelled";
/// Offline scope of incidents: the user's open incidents.
pub const INCIDENT_SCOPE: &str = "assigned_to=javascript:gs.getUserName()^state!=closed";

/// A demo user, as printed at start.
#[derive(Clone, Debug)]
pub struct SeededUser {
    /// `user_name`.
    pub user_name: String,
    /// The password (the user name: demo data only).
    pub password: String,
    /// Roles.
    pub roles: String,
}

/// What pads a record's `description` up to the size a benchmark asks for.
const FILLER: &str = "Notes from earlier visits: the site log is kept in the cabinet by the door. ";

/// Seeds the demo data when the database holds no record; returns the users created (none
/// when the database already had data). Each generated record's `description` is padded until
/// its JSON is at least `record_bytes` long.
pub fn seed(
    storage: &dyn Storage,
    records: u32,
    record_bytes: u32,
    seed: u64,
) -> Result<Vec<SeededUser>, StartError> {
    let actions: Value = serde_json::from_str(ACTIONS_JSON)
        .map_err(|e| StartError::Demo(format!("demo/actions.json is not JSON: {e}")))?;
    offgrid::action::ActionSet::from_json(&actions)
        .map_err(|e| StartError::Demo(format!("demo/actions.json: {e}")))?;
    let policy = serde_json::to_value(CachePolicy::default())
        .map_err(|e| StartError::Demo(e.to_string()))?;
    let now = Timestamp::now();
    storage
        .write(|tx| {
            if !tx.is_empty()? {
                return Ok::<_, StorageError>(Vec::new());
            }
            let mut seeded = Vec::new();
            for user in demo_users() {
                tx.put(USER_TABLE, &user.record(now))?;
                set_password(tx, user.user_name, user.user_name)?;
                seeded.push(SeededUser {
                    user_name: user.user_name.to_string(),
                    password: user.user_name.to_string(),
                    roles: user.roles.to_string(),
                });
            }
            for (table, mut record) in generate(seed, records as usize, now) {
                pad(&mut record, record_bytes as usize);
                tx.put(table, &record)?;
            }
            tx.put_config(
                config_keys::TABLES,
                &json!({ "wm_task": TASK_SCOPE, "incident": INCIDENT_SCOPE }),
            )?;
            tx.put_config(config_keys::ACTIONS, &actions)?;
            tx.put_config(config_keys::POLICY, &policy)?;
            tx.put_config(config_keys::CHOICES, &crate::rules::default_choices())?;
            tx.put_config(config_keys::WRITABLE, &crate::rules::default_writable())?;
            Ok(seeded)
        })
        .map_err(StartError::from)
}

/// Appends filler to `description` until the record's JSON is at least `bytes` long.
fn pad(record: &mut Record, bytes: usize) {
    let size = serde_json::to_vec(&record.0).map_or(0, |json| json.len());
    if size >= bytes {
        return;
    }
    // The filler is ASCII that JSON does not escape: each char adds one byte.
    let mut description = record.text("description").unwrap_or_default();
    description.extend(FILLER.chars().cycle().take(bytes - size));
    record.set("description", description);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(record: &Record) -> usize {
        serde_json::to_vec(&record.0).unwrap().len()
    }

    #[test]
    fn padding_makes_every_generated_record_at_least_the_asked_size_and_keeps_its_text() {
        for (table, original) in generate(7, 8, Timestamp::now()) {
            let mut record = original.clone();
            pad(&mut record, 1024);
            assert!(size(&record) >= 1024, "{table}: {} bytes", size(&record));
            assert!(
                size(&record) < 1024 + 32,
                "{table}: padded far past the size"
            );
            let before = original.text("description").unwrap_or_default();
            assert!(record.text("description").unwrap().starts_with(&before));
            let mut unpadded = original.clone();
            pad(&mut unpadded, 0);
            assert_eq!(unpadded, original, "0 pads nothing");
        }
    }
}
