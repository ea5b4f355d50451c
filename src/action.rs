//! Writeback actions (SPEC section 4): definitions checked when they are loaded, their inputs,
//! value templates, and the step engine that runs them on the device and on the instance.
//!
//! ```
//! use offgrid::action::ActionDef;
//! use serde_json::json;
//!
//! let def = ActionDef::from_json(&json!({
//!     "name": "start_work", "table": "wm_task", "offline": true,
//!     "steps": [ { "mode": "both", "op": "update", "set": { "state": "work_in_progress" } } ]
//! }))
//! .unwrap();
//! assert_eq!(def.written_fields(), ["state"]);
//! ```

mod definition;
mod engine;
mod input;
mod overlay;
mod template;

pub use definition::{
    is_journal_field, ActionDef, ActionSet, DefinitionError, Step, StepMode, StepOp, ADMIN_ROLE,
    JOURNAL_FIELDS,
};
pub use engine::{run, ActionContext, ActionError, Hooks, NoHooks, Outcome, Side};
pub use input::{FileBytes, InputDef, InputError, InputErrors, InputType};
pub use template::{Template, TemplateEnv, TemplateError};

#[cfg(test)]
mod fixtures;
