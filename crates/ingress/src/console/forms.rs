//! What the console's form pages share (Members, Webhooks, Usage): an API error split into
//! messages per form field (the API's 422 details name the field) and one for the form as a whole,
//! the query of an API list call, a form value by name.

use std::collections::HashMap;

use axum::response::Response;
use maud::{html, Markup};

use crate::console::layout::error_page;
use crate::error::ApiError;
use crate::paging::Params;

/// The largest page the admin pages ask the API for.
pub const LIST_LIMIT: &str = "100";

/// `limit=100`: the query of a list the page shows whole.
pub fn list_params() -> Params {
    Params(HashMap::from([("limit".to_owned(), LIST_LIMIT.to_owned())]))
}

/// An API error as a form shows it: each detail at its field, the rest above the form.
#[derive(Debug, Default)]
pub struct FormErrors {
    /// `(field, message)`, the field as the API names it (`url`, `events[1]`, `email`).
    fields: Vec<(String, String)>,
    /// The message when no detail names a field (403, 409, ...).
    pub general: Option<String>,
}

impl FormErrors {
    pub fn from_api(e: &ApiError) -> FormErrors {
        let fields: Vec<(String, String)> = e
            .details
            .iter()
            .map(|d| (d.field.clone(), d.message.clone()))
            .collect();
        let general = fields.is_empty().then(|| e.message.clone());
        FormErrors { fields, general }
    }

    /// The messages for the form field `name`: the API's `name`, `name[i]` and `name.x`.
    pub fn at(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(f, _)| {
                f == name
                    || f.strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
            })
            .map(|(_, m)| m.as_str())
            .collect()
    }

    /// The messages of field `name` as markup (nothing when it has none), with the id the
    /// field's `aria-describedby` names.
    pub fn show(&self, name: &str, id: &str) -> Markup {
        let messages = self.at(name);
        html! {
            @if !messages.is_empty() {
                p.error.field-error id=(id) role="alert" {
                    @for (i, m) in messages.iter().enumerate() {
                        @if i > 0 { br; }
                        (m)
                    }
                }
            }
        }
    }

    /// The form-wide message, if any.
    pub fn show_general(&self) -> Markup {
        html! {
            @if let Some(message) = &self.general {
                p.error role="alert" { (message) }
            }
        }
    }
}

/// An error page for an API error outside a form (a list that failed, a missing row).
pub fn api_error_page(e: &ApiError) -> Response {
    error_page(e.status, &e.message)
}

/// The first value of `name` in a posted form.
pub fn value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorDetail;

    #[test]
    fn details_land_at_their_field_and_the_rest_above_the_form() {
        let e = ApiError::invalid(vec![
            ErrorDetail::new("url", "must be https"),
            ErrorDetail::new("events[1]", "unknown event"),
            ErrorDetail::new("eventsX", "not ours"),
        ]);
        let f = FormErrors::from_api(&e);
        assert_eq!(f.at("url"), ["must be https"]);
        assert_eq!(f.at("events"), ["unknown event"]);
        assert!(f.general.is_none());
        let f = FormErrors::from_api(&ApiError::conflict("already a member"));
        assert!(f.at("email").is_empty());
        assert_eq!(f.general.as_deref(), Some("already a member"));
    }
}
