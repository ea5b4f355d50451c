//! Action inputs: what the user fills in when running an action, declared by the action and
//! checked the same way on the device and on the instance.

use super::ActionDef;
use crate::record::Timestamp;
use crate::store::FileInput;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::fmt;

/// The type of an input, which decides the form control and the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// One line of text.
    String,
    /// Several lines of text.
    Text,
    /// A number (a numeric string is accepted and becomes a number).
    Number,
    /// True or false (`"true"` and `"false"` are accepted).
    Boolean,
    /// One of the input's `options`.
    Choice,
    /// A UTC date and time, `YYYY-MM-DD HH:MM:SS`.
    Datetime,
    /// A file, as a [`FileInput`] object.
    File,
}

impl InputType {
    /// Every type, in the order the SPEC lists them.
    pub const ALL: [InputType; 7] = [
        Self::String,
        Self::Text,
        Self::Number,
        Self::Boolean,
        Self::Choice,
        Self::Datetime,
        Self::File,
    ];

    /// The type's JSON name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Text => "text",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Choice => "choice",
            Self::Datetime => "datetime",
            Self::File => "file",
        }
    }

    /// The type with that JSON name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for InputType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One declared input of an action.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InputDef {
    /// The key in the inputs object, and in `${input.NAME}`.
    pub name: String,
    /// What the form shows, and what error messages call the input.
    pub label: String,
    /// The type.
    #[serde(rename = "type")]
    pub input_type: InputType,
    /// Whether a value must be given.
    pub required: bool,
    /// The allowed values of a `choice` input (empty for the other types).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// One fault in the inputs given to an action.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    /// The input's name (the key in the inputs object).
    pub input: String,
    /// What is wrong, naming the input by its label.
    pub message: String,
}

/// Every fault in the inputs given to an action, so a form can show them all at once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", list(.0))]
pub struct InputErrors(pub Vec<InputError>);

fn list(errors: &[InputError]) -> String {
    errors
        .iter()
        .map(|e| e.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

impl InputDef {
    /// Checks one value; `Ok(None)` when an optional input was left empty. Returns the
    /// normalized value: numbers and booleans typed, timestamps and files in canonical form.
    fn check(&self, value: Option<&Value>) -> Result<Option<Value>, String> {
        let label = &self.label;
        let empty = match value {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.is_empty(),
            Some(_) => false,
        };
        let value = match value {
            Some(value) if !empty => value,
            _ if self.required => return Err(format!("{label} is required")),
            _ => return Ok(None),
        };
        let normalized = match self.input_type {
            InputType::String | InputType::Text => match value {
                Value::String(_) => Some(value.clone()),
                _ => None,
            }
            .ok_or_else(|| format!("{label} must be text"))?,
            InputType::Number => {
                number(value).ok_or_else(|| format!("{label} must be a number"))?
            }
            InputType::Boolean => match value {
                Value::Bool(_) => Some(value.clone()),
                Value::String(s) if s == "true" => Some(Value::Bool(true)),
                Value::String(s) if s == "false" => Some(Value::Bool(false)),
                _ => None,
            }
            .ok_or_else(|| format!("{label} must be true or false"))?,
            InputType::Choice => match value {
                Value::String(s) if self.options.contains(s) => value.clone(),
                _ => {
                    return Err(format!(
                        "{label} must be one of: {}",
                        self.options.join(", ")
                    ))
                }
            },
            InputType::Datetime => value
                .as_str()
                .and_then(|s| Timestamp::parse(s).ok())
                .map(|t| Value::String(t.to_string()))
                .ok_or_else(|| format!("{label} must be a date and time, YYYY-MM-DD HH:MM:SS"))?,
            InputType::File => {
                let file = self.file(value)?;
                // Bytes that travel with the file must be the ones it announces.
                file.bytes().map_err(|e| format!("{label}: {e}"))?;
                serde_json::to_value(file).map_err(|e| format!("{label}: {e}"))?
            }
        };
        Ok(Some(normalized))
    }
}

impl InputDef {
    /// `value` as a file, or the message saying it is not one.
    fn file(&self, value: &Value) -> Result<FileInput, String> {
        FileInput::deserialize(value).map_err(|_| {
            format!(
                "{} must be a file (an object with file_name, content_type, size_bytes and \
                 hash)",
                self.label
            )
        })
    }
}

/// A file input's bytes, taken out of the inputs ([`ActionDef::take_file_bytes`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FileBytes {
    /// The file (its metadata; `data` removed).
    pub file: FileInput,
    /// Its bytes, checked against the announced size and sha-256.
    pub bytes: Vec<u8>,
}

impl ActionDef {
    /// Takes the bytes out of every file input that carries them (`data`), checked against
    /// the size and sha-256 each announces, and leaves the files' metadata in `inputs`. Every
    /// fault is named by its input. Values of file inputs that are not files are left for
    /// [`ActionDef::validate_inputs`] to refuse.
    pub fn take_file_bytes(
        &self,
        inputs: &mut Map<String, Value>,
    ) -> Result<Vec<FileBytes>, InputErrors> {
        let mut taken = Vec::new();
        let mut errors = Vec::new();
        for def in self
            .inputs
            .iter()
            .filter(|i| i.input_type == InputType::File)
        {
            let Some(value) = inputs.get_mut(&def.name) else {
                continue;
            };
            let Ok(mut file) = def.file(value) else {
                continue;
            };
            match file.bytes() {
                Ok(None) => {}
                Ok(Some(bytes)) => {
                    file.data = None;
                    if let Value::Object(fields) = value {
                        fields.remove("data");
                    }
                    taken.push(FileBytes { file, bytes });
                }
                Err(e) => errors.push(InputError {
                    input: def.name.clone(),
                    message: format!("{}: {e}", def.label),
                }),
            }
        }
        if errors.is_empty() {
            Ok(taken)
        } else {
            Err(InputErrors(errors))
        }
    }
}

/// A JSON number, or a string holding one, as a JSON number (an integer when it is one).
fn number(value: &Value) -> Option<Value> {
    match value {
        Value::Number(_) => Some(value.clone()),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                return Some(Value::Number(i.into()));
            }
            s.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
        }
        _ => None,
    }
}

impl ActionDef {
    /// Checks the inputs given to this action and returns them normalized. Every fault is
    /// reported, not just the first: missing required inputs, values of the wrong type, and
    /// names the action does not declare. Optional inputs left empty are absent from the
    /// result.
    pub fn validate_inputs(
        &self,
        inputs: &Map<String, Value>,
    ) -> Result<Map<String, Value>, InputErrors> {
        let mut normalized = Map::new();
        let mut errors = Vec::new();
        for def in &self.inputs {
            match def.check(inputs.get(&def.name)) {
                Ok(Some(value)) => {
                    normalized.insert(def.name.clone(), value);
                }
                Ok(None) => {}
                Err(message) => errors.push(InputError {
                    input: def.name.clone(),
                    message,
                }),
            }
        }
        for name in inputs.keys() {
            if !self.inputs.iter().any(|def| &def.name == name) {
                errors.push(InputError {
                    input: name.clone(),
                    message: format!("'{name}' is not an input of action '{}'", self.label),
                });
            }
        }
        if errors.is_empty() {
            Ok(normalized)
        } else {
            Err(InputErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn action(inputs: Value) -> ActionDef {
        ActionDef::from_json(&json!({
            "name": "fill", "label": "Fill", "table": "wm_task", "offline": true,
            "inputs": inputs, "steps": []
        }))
        .unwrap()
    }

    fn one(input_type: &str, required: bool) -> ActionDef {
        let mut input =
            json!({"name": "x", "label": "Field X", "type": input_type, "required": required});
        if input_type == "choice" {
            input["options"] = json!(["low", "high"]);
        }
        action(json!([input]))
    }

    fn check(def: &ActionDef, inputs: Value) -> Result<Map<String, Value>, InputErrors> {
        def.validate_inputs(inputs.as_object().unwrap())
    }

    fn normalized(def: &ActionDef, value: Value) -> Value {
        check(def, json!({"x": value})).unwrap()["x"].clone()
    }

    fn fault(def: &ActionDef, value: Value) -> String {
        check(def, json!({"x": value})).unwrap_err().to_string()
    }

    #[test]
    fn required_inputs_missing_null_or_empty_are_named_by_label() {
        let def = one("text", true);
        for inputs in [json!({}), json!({"x": null}), json!({"x": ""})] {
            let err = check(&def, inputs).unwrap_err();
            assert_eq!(err.to_string(), "Field X is required");
            assert_eq!(err.0[0].input, "x");
        }
    }

    #[test]
    fn optional_inputs_left_empty_are_absent_from_the_result() {
        let def = one("text", false);
        for inputs in [json!({}), json!({"x": null}), json!({"x": ""})] {
            assert_eq!(check(&def, inputs).unwrap(), Map::new());
        }
    }

    #[test]
    fn string_and_text_inputs_must_be_strings() {
        for t in ["string", "text"] {
            let def = one(t, false);
            assert_eq!(normalized(&def, json!("hello")), json!("hello"));
            assert_eq!(fault(&def, json!(5)), "Field X must be text");
        }
    }

    #[test]
    fn number_inputs_accept_numeric_strings_and_normalize_them() {
        let def = one("number", true);
        assert_eq!(normalized(&def, json!(2.5)), json!(2.5));
        assert_eq!(normalized(&def, json!("42")), json!(42));
        assert_eq!(normalized(&def, json!(" 1.5 ")), json!(1.5));
        assert_eq!(fault(&def, json!("four")), "Field X must be a number");
        assert_eq!(fault(&def, json!(true)), "Field X must be a number");
    }

    #[test]
    fn boolean_inputs_accept_true_and_false_strings() {
        let def = one("boolean", true);
        assert_eq!(normalized(&def, json!(false)), json!(false));
        assert_eq!(normalized(&def, json!("true")), json!(true));
        assert_eq!(normalized(&def, json!("false")), json!(false));
        assert_eq!(fault(&def, json!("yes")), "Field X must be true or false");
    }

    #[test]
    fn choice_inputs_must_be_one_of_the_options() {
        let def = one("choice", true);
        assert_eq!(normalized(&def, json!("high")), json!("high"));
        assert_eq!(
            fault(&def, json!("medium")),
            "Field X must be one of: low, high"
        );
    }

    #[test]
    fn datetime_inputs_must_be_utc_timestamps() {
        let def = one("datetime", true);
        assert_eq!(
            normalized(&def, json!("2026-05-06 07:08:09")),
            json!("2026-05-06 07:08:09")
        );
        assert!(fault(&def, json!("2026-05-06T07:08:09Z")).contains("YYYY-MM-DD HH:MM:SS"));
    }

    /// A file input carrying the bytes `[0, 0, 0]` (base64 `AAAA`) under `hash`.
    fn zeros(hash: &str) -> Value {
        json!({"file_name": "a.jpg", "content_type": "image/jpeg", "size_bytes": 3,
               "hash": hash, "data": "AAAA"})
    }

    fn zeros_hash() -> String {
        use sha2::Digest as _;
        crate::record::hex(&sha2::Sha256::digest([0u8, 0, 0]))
    }

    #[test]
    fn file_inputs_must_be_file_objects_whose_bytes_match_their_hash() {
        let def = one("file", true);
        let file = zeros(&zeros_hash());
        assert_eq!(normalized(&def, file.clone()), file);
        assert!(fault(&def, json!({"file_name": "a.jpg"})).starts_with("Field X must be a file"));
        assert!(fault(&def, json!("a.jpg")).starts_with("Field X must be a file"));
        let forged = fault(&def, zeros("ab"));
        assert!(
            forged.starts_with("Field X: the file's bytes have sha-256"),
            "{forged}"
        );
    }

    #[test]
    fn file_bytes_are_taken_out_checked_and_faults_named_by_input() {
        let def = one("file", true);
        let mut inputs = Map::new();
        inputs.insert("x".into(), zeros(&zeros_hash()));
        let taken = def.take_file_bytes(&mut inputs).unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].bytes, [0, 0, 0]);
        assert_eq!(taken[0].file.data, None);
        assert!(inputs["x"].get("data").is_none());
        assert_eq!(inputs["x"]["hash"], zeros_hash().as_str());

        inputs.insert("x".into(), zeros("ab"));
        let errors = def.take_file_bytes(&mut inputs).unwrap_err();
        assert_eq!(errors.0[0].input, "x");
        assert!(errors.0[0].message.contains("not the ab announced"));
        assert!(
            inputs["x"].get("data").is_some(),
            "nothing is taken from refused inputs"
        );
    }

    #[test]
    fn every_fault_is_collected_including_unknown_inputs() {
        let def = action(json!([
            {"name": "note", "label": "Note", "type": "text", "required": true},
            {"name": "hours", "label": "Hours", "type": "number"},
            {"name": "ok", "label": "OK", "type": "boolean"}
        ]));
        let err = check(&def, json!({"hours": "lots", "ok": true, "extra": 1})).unwrap_err();
        let inputs: Vec<&str> = err.0.iter().map(|e| e.input.as_str()).collect();
        assert_eq!(inputs, ["note", "hours", "extra"]);
        assert_eq!(
            err.to_string(),
            "Note is required; Hours must be a number; 'extra' is not an input of action 'Fill'"
        );
    }
}
