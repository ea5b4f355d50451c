//! Writeback actions (SPEC section 4): definitions checked when they are loaded, their inputs,
//! value templates, and the step engine that runs them on the device and on the instance.

mod template;

pub use template::{Template, TemplateEnv, TemplateError};
