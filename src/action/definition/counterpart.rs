//! THE RULE (SPEC section 4): an offline step that changes data needs an online or both step
//! of the same op on the same target, or the change would be lost when the outbox syncs.

use super::{ActionDef, DefinitionError, StepMode, StepOp};

impl ActionDef {
    /// THE RULE (SPEC section 4): an offline step that changes data with no online or both
    /// step of the same op on the same target would be lost when the outbox syncs.
    pub(super) fn check_counterparts(&self) -> Result<(), DefinitionError> {
        for (i, step) in self.steps.iter().enumerate() {
            if step.mode != StepMode::Offline || !step.op.changes_data() {
                continue;
            }
            let carried = self
                .steps
                .iter()
                .any(|other| other.mode.reaches_instance() && step.op.carried_by(&other.op));
            if !carried {
                let op = step.op.name();
                return Err(DefinitionError {
                    action: Some(self.name.clone()),
                    step: Some(i + 1),
                    step_kind: Some(step.kind()),
                    message: format!(
                        "no online or both {op} step carries this change to the instance"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl StepOp {
    /// Whether `other` makes the same kind of change to the same target, so that it carries
    /// this step's change to the instance.
    fn carried_by(&self, other: &StepOp) -> bool {
        match (self, other) {
            (Self::Update { .. }, Self::Update { .. }) | (Self::Delete, Self::Delete) => true,
            (Self::Create { table: a, .. }, Self::Create { table: b, .. }) => a == b,
            (Self::Journal { element: a, .. }, Self::Journal { element: b, .. }) => a == b,
            (Self::Attach { input: a }, Self::Attach { input: b }) => a == b,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{assert_refused, refused_steps};
    use super::*;
    use crate::action::fixtures::{action, action_json};
    use serde_json::json;

    #[test]
    fn an_offline_change_without_an_instance_counterpart_is_refused_naming_action_and_step() {
        let err = refused_steps(
            json!([]),
            json!([
                {"mode": "both", "op": "validate", "condition": "state=assigned", "message": "no"},
                {"mode": "offline", "op": "update", "set": {"state": "accepted"}}
            ]),
        );
        assert_eq!(
            err,
            "action 'test_action', step 2 (offline update): no online or both update step \
             carries this change to the instance"
        );
    }

    #[test]
    fn both_mode_steps_and_matching_online_steps_carry_offline_changes() {
        action(
            json!([{"name": "photo", "label": "Photo", "type": "file"}]),
            json!([
                {"mode": "both", "op": "update", "set": {"state": "accepted"}},
                {"mode": "offline", "op": "create", "table": "wm_time", "set": {}},
                {"mode": "online", "op": "create", "table": "wm_time", "set": {}},
                {"mode": "offline", "op": "journal", "element": "work_notes", "value": "x"},
                {"mode": "both", "op": "journal", "element": "work_notes", "value": "x"},
                {"mode": "offline", "op": "attach", "input": "photo"},
                {"mode": "online", "op": "attach", "input": "photo"},
                {"mode": "offline", "op": "delete"},
                {"mode": "online", "op": "delete"},
                {"mode": "offline", "op": "validate", "condition": "state=assigned", "message": "no"}
            ]),
        );
    }

    #[test]
    fn a_counterpart_must_have_the_same_op_and_target() {
        let file = json!([{"name": "a", "label": "A", "type": "file"},
                          {"name": "b", "label": "B", "type": "file"}]);
        let cases = [
            (
                json!([{"mode": "offline", "op": "create", "table": "wm_time", "set": {}},
                    {"mode": "online", "op": "create", "table": "incident", "set": {}}]),
                "step 1 (offline create): no online or both create step",
            ),
            (
                json!([{"mode": "offline", "op": "journal", "element": "work_notes", "value": "x"},
                    {"mode": "online", "op": "journal", "element": "comments", "value": "x"}]),
                "step 1 (offline journal): no online or both journal step",
            ),
            (
                json!([{"mode": "offline", "op": "attach", "input": "a"},
                    {"mode": "online", "op": "attach", "input": "b"}]),
                "step 1 (offline attach): no online or both attach step",
            ),
            (
                json!([{"mode": "online", "op": "update", "set": {"state": "x"}},
                    {"mode": "offline", "op": "delete"}]),
                "step 2 (offline delete): no online or both delete step",
            ),
            (
                json!([{"mode": "offline", "op": "update", "set": {"state": "x"}},
                    {"mode": "offline", "op": "update", "set": {"state": "x"}}]),
                "step 1 (offline update): no online or both update step",
            ),
        ];
        for (steps, expected) in cases {
            assert_refused(refused_steps(file.clone(), steps), expected);
        }
    }

    #[test]
    fn offline_steps_in_an_online_only_action_are_allowed() {
        let mut value = action_json(
            json!([]),
            json!([{"mode": "offline", "op": "validate", "condition": "state=a", "message": "m"}]),
        );
        value["offline"] = json!(false);
        assert!(ActionDef::from_json(&value).is_ok());
    }
}
