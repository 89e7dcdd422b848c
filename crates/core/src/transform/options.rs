//! Reading `transformOptions`: typed getters that remember which keys were used, so unknown keys can be rejected.

use super::SpecError;
use serde_json::{Map, Value};
use std::cell::RefCell;

pub(crate) struct Options<'a> {
    map: Option<&'a Map<String, Value>>,
    used: RefCell<Vec<&'static str>>,
}

impl<'a> Options<'a> {
    pub(crate) fn new(options: Option<&'a Value>) -> Result<Options<'a>, SpecError> {
        let map = match options {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m),
            Some(_) => {
                return Err(SpecError {
                    field: "transformOptions".into(),
                    message: "must be an object".into(),
                })
            }
        };
        Ok(Options {
            map,
            used: RefCell::new(Vec::new()),
        })
    }

    /// An optional string option; present but not a string is an error.
    pub(crate) fn string(&self, key: &'static str) -> Result<Option<String>, SpecError> {
        self.used.borrow_mut().push(key);
        match self.map.and_then(|m| m.get(key)) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(SpecError::option(key, "must be a string")),
        }
    }

    /// Rejects any key no getter asked for.
    pub(crate) fn reject_unknown(&self, transform: &str) -> Result<(), SpecError> {
        let used = self.used.borrow();
        if let Some(m) = self.map {
            if let Some(k) = m.keys().find(|k| !used.contains(&k.as_str())) {
                let allowed = if used.is_empty() {
                    "none".to_string()
                } else {
                    used.join(", ")
                };
                return Err(SpecError::option(
                    k,
                    &format!("unknown option for {transform} (allowed: {allowed})"),
                ));
            }
        }
        Ok(())
    }
}

impl SpecError {
    pub(crate) fn option(key: &str, message: &str) -> SpecError {
        SpecError {
            field: format!("transformOptions.{key}"),
            message: message.to_string(),
        }
    }
}
