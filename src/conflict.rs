//! Conflict rules (SPEC 5): whether an outbox entry still applies to the instance's current
//! record, given what the device saw when the change was made.
//!
//! A change applies when nobody touched the record since. When someone did, it still applies
//! (merges) unless a field the change writes now holds a different value from both what the
//! device saw and what the change writes: then the user decides.

use crate::outbox::Base;
use crate::record::{value_text, Record};
use serde::Serialize;
use serde_json::{Map, Value};

/// The outcome of checking an entry against the instance's current record.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Nobody changed the record since the device saw it.
    Apply,
    /// The record changed, but not in a way that contradicts the entry.
    Merge {
        /// Fields of the base that moved on the instance: fields the entry does not write,
        /// and fields that moved to the very value the entry writes.
        fields: Vec<String>,
    },
    /// The entry must not apply; the user resolves or deletes it.
    Conflict(Conflict),
}

/// Why an entry does not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// `deleted` or `field_changed`.
    pub code: &'static str,
    /// The field that changed, for `field_changed`.
    pub field: Option<String>,
    /// What happened, for the user.
    pub message: String,
}

/// Checks an entry that will write `writes` (field to value), made on `base`, against the
/// instance's `current` record (`None` when it no longer exists).
///
/// Values compare by their text, and null, missing and `""` are all empty, because the
/// instance and the device may spell the same value differently (`2` and `"2"`, a missing
/// field and `""`); a conflict over spelling alone would only confuse the user.
pub fn check(base: &Base, writes: &Map<String, Value>, current: Option<&Record>) -> Verdict {
    let Some(current) = current else {
        return Verdict::Conflict(Conflict {
            code: "deleted",
            field: None,
            message: "This record was deleted on the instance; your change cannot be applied"
                .to_string(),
        });
    };
    if current.mod_count() == base.mod_count {
        return Verdict::Apply;
    }
    let mut merged = Vec::new();
    for (field, seen) in &base.fields {
        let now = current.get(field);
        if same(now, Some(seen)) {
            continue;
        }
        match writes.get(field) {
            Some(wanted) if !same(now, Some(wanted)) => {
                return Verdict::Conflict(field_changed(field, seen, wanted, current));
            }
            _ => merged.push(field.clone()),
        }
    }
    Verdict::Merge { fields: merged }
}

fn field_changed(field: &str, seen: &Value, wanted: &Value, current: &Record) -> Conflict {
    let who = current
        .text("sys_updated_by")
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "someone".to_string());
    let when = current
        .text("sys_updated_on")
        .filter(|t| !t.is_empty())
        .map(|t| format!(" at {t}"))
        .unwrap_or_default();
    let message = format!(
        "{field} was changed to {} by {who}{when} since you made this change offline \
         (you saw {}; your change sets {})",
        shown(current.get(field)),
        shown(Some(seen)),
        shown(Some(wanted)),
    );
    Conflict {
        code: "field_changed",
        field: Some(field.to_string()),
        message,
    }
}

/// The comparable text of a value; `None` when empty (missing, null or `""`).
fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(value_text).filter(|t| !t.is_empty())
}

fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    text(a) == text(b)
}

/// A value as the message shows it: strings quoted, empty as `(empty)`.
fn shown(value: Option<&Value>) -> String {
    match (value, text(value)) {
        (_, None) => "(empty)".to_string(),
        (Some(Value::String(_)), Some(t)) => format!("\"{t}\""),
        (_, Some(t)) => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    /// The task as the device saw it: assigned, mod count 3.
    fn base() -> Base {
        Base {
            mod_count: 3,
            fields: map(json!({"state": "assigned", "close_notes": null})),
        }
    }

    /// The entry accepts the task and writes a note.
    fn writes() -> Map<String, Value> {
        map(json!({"state": "accepted", "close_notes": "on my way"}))
    }

    /// The instance's record: the task as seen, changed by `changes` (each bumping the mod
    /// count once) by fred.luddy.
    fn current(changes: Value) -> Record {
        let mut r = Record::from_value(json!({
            "sys_id": "0123456789abcdef0123456789abcdef",
            "state": "assigned",
            "close_notes": "",
            "priority": "3",
            "sys_mod_count": 3,
            "sys_updated_by": "beth.anglin",
            "sys_updated_on": "2026-11-21 18:00:00",
        }))
        .unwrap();
        for (field, value) in map(changes) {
            r.set(field, value);
            r.set("sys_mod_count", r.mod_count() + 1);
            r.set("sys_updated_by", "fred.luddy");
            r.set("sys_updated_on", "2026-11-22 06:00:00");
        }
        r
    }

    #[test]
    fn a_deleted_record_conflicts() {
        let Verdict::Conflict(c) = check(&base(), &writes(), None) else {
            panic!("expected a conflict");
        };
        assert_eq!(c.code, "deleted");
        assert_eq!(c.field, None);
        assert!(
            c.message.contains("deleted on the instance"),
            "{}",
            c.message
        );
    }

    #[test]
    fn an_untouched_record_applies() {
        assert_eq!(
            check(&base(), &writes(), Some(&current(json!({})))),
            Verdict::Apply
        );
    }

    #[test]
    fn a_change_to_another_field_merges() {
        let record = current(json!({"priority": "1"}));
        assert_eq!(
            check(&base(), &writes(), Some(&record)),
            Verdict::Merge { fields: vec![] }
        );
    }

    #[test]
    fn a_written_field_changed_to_the_same_value_merges_and_is_listed() {
        let record = current(json!({"state": "accepted"}));
        assert_eq!(
            check(&base(), &writes(), Some(&record)),
            Verdict::Merge {
                fields: vec!["state".to_string()]
            }
        );
    }

    #[test]
    fn a_base_field_the_entry_does_not_write_merges_and_is_listed() {
        let record = current(json!({"state": "work_in_progress"}));
        let only_notes = map(json!({"close_notes": "on my way"}));
        assert_eq!(
            check(&base(), &only_notes, Some(&record)),
            Verdict::Merge {
                fields: vec!["state".to_string()]
            }
        );
    }

    #[test]
    fn a_written_field_changed_to_another_value_conflicts_with_a_readable_message() {
        let record = current(json!({"state": "closed_complete"}));
        let Verdict::Conflict(c) = check(&base(), &writes(), Some(&record)) else {
            panic!("expected a conflict");
        };
        assert_eq!(c.code, "field_changed");
        assert_eq!(c.field.as_deref(), Some("state"));
        assert_eq!(
            c.message,
            "state was changed to \"closed_complete\" by fred.luddy at 2026-11-22 06:00:00 \
             since you made this change offline (you saw \"assigned\"; your change sets \
             \"accepted\")"
        );
    }

    #[test]
    fn empty_values_show_as_empty_in_the_message() {
        let record = current(json!({"close_notes": "customer absent"}));
        let notes_only = Base {
            mod_count: 3,
            fields: map(json!({"close_notes": null})),
        };
        let clear = map(json!({"close_notes": null}));
        let wanted = map(json!({"close_notes": "done"}));
        let Verdict::Conflict(c) = check(&notes_only, &wanted, Some(&record)) else {
            panic!("expected a conflict");
        };
        assert!(c.message.contains("you saw (empty)"), "{}", c.message);
        let Verdict::Conflict(c) = check(&notes_only, &clear, Some(&record)) else {
            panic!("expected a conflict");
        };
        assert!(
            c.message.contains("your change sets (empty)"),
            "{}",
            c.message
        );
    }

    #[test]
    fn null_missing_and_empty_string_count_as_the_same_value() {
        // The device saw close_notes as null, the instance has "": not a change.
        let record = current(json!({"priority": "2"}));
        assert_eq!(
            check(&base(), &writes(), Some(&record)),
            Verdict::Merge { fields: vec![] }
        );
        let numbers = Base {
            mod_count: 3,
            fields: map(json!({"priority": 3})),
        };
        let record = current(json!({"state": "accepted"}));
        assert_eq!(
            check(&numbers, &map(json!({"priority": 1})), Some(&record)),
            Verdict::Merge { fields: vec![] }
        );
    }

    #[test]
    fn an_entry_rebased_on_the_current_record_applies() {
        // Resolving a failed entry captures its base from the instance's current record.
        let record = current(json!({"state": "closed_complete"}));
        let rebased = Base::capture(&record, &["state".to_string()]);
        assert_eq!(rebased.mod_count, 4);
        assert_eq!(rebased.fields["state"], "closed_complete");
        assert_eq!(check(&rebased, &writes(), Some(&record)), Verdict::Apply);
    }
}
