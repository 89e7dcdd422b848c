//! The editor's preview pane: the mapping as typed (unsaved) run over pasted records or a sample
//! read from the source, through the same handler as `POST /v1/mappings/preview` (validation,
//! native record shapes, `"sample": {"count": N}`). The answer is an htmx fragment: per record
//! the target fields that would be written, and every error with its code and field.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use fluxcascade_core::ProviderKind;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::form::EditorForm;
use crate::api::preview::PreviewRequest;
use crate::api::preview_sample::SampleRequest;
use crate::console::layout::html_response;
use crate::console::pages::connections::provider_label;
use crate::console::user::ConsoleUser;
use crate::error::{ApiError, ErrorDetail};
use crate::json::ApiJson;
use crate::AppState;

/// Which records the preview maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The records pasted in the pane.
    Pasted,
    /// `sample_count` records read from the source connection.
    Sample,
}

#[derive(Debug, Deserialize)]
struct PreviewAnswer {
    data: Vec<Item>,
    target: Target,
}

#[derive(Debug, Deserialize)]
struct Target {
    provider: ProviderKind,
    object: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    record_id: String,
    payload: Option<Value>,
    errors: Vec<ItemError>,
}

#[derive(Debug, Deserialize)]
struct ItemError {
    code: String,
    field: String,
    message: String,
}

/// The pasted records: a JSON list, or one object.
pub fn pasted_records(text: &str) -> Result<Vec<Value>, ErrorDetail> {
    if text.trim().is_empty() {
        return Err(ErrorDetail::new(
            "records",
            "paste records first (JSON), or fetch a sample from the source",
        ));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(list)) => Ok(list),
        Ok(one @ Value::Object(_)) => Ok(vec![one]),
        Ok(_) => Err(ErrorDetail::new(
            "records",
            "must be a JSON object or a list of objects",
        )),
        Err(e) => Err(ErrorDetail::new("records", format!("not valid JSON: {e}"))),
    }
}

/// The sample size typed in the pane (its range is the API's to judge).
pub fn sample_count(text: &str) -> Result<i64, ErrorDetail> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ErrorDetail::new("sample.count", "must be a whole number between 1 and 20"))
}

/// A payload as `path → value` lines (`phones[0].number → +14155550123`).
pub fn flatten(value: &Value) -> Vec<(String, String)> {
    fn walk(v: &Value, path: String, out: &mut Vec<(String, String)>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                for (k, child) in map {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(child, p, out);
                }
            }
            Value::Array(list) if !list.is_empty() => {
                for (i, child) in list.iter().enumerate() {
                    walk(child, format!("{path}[{i}]"), out);
                }
            }
            Value::String(s) => out.push((path, s.clone())),
            other => out.push((path, other.to_string())),
        }
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

/// `POST /mappings/editor/preview/{pasted|sample}` (CSRF; a read, so Members may preview too).
pub async fn preview(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(source): Path<Source>,
    Form(raw): Form<Vec<(String, String)>>,
) -> Response {
    let form = EditorForm::parse(&raw);
    if let Err(e) = crate::console::csrf::check_field(&user.session, form.csrf.as_deref()) {
        return e.into_response();
    }
    let markup = match run(&state, &user, source, &form).await {
        Ok(answer) => answer_markup(&answer),
        Err(e) => error_markup(&e),
    };
    html_response(StatusCode::OK, markup)
}

async fn run(
    state: &AppState,
    user: &ConsoleUser,
    source: Source,
    form: &EditorForm,
) -> Result<PreviewAnswer, ApiError> {
    let (mapping, issues) = form.to_spec();
    if !issues.is_empty() {
        return Err(ApiError::invalid(issues));
    }
    let (records, sample) = match source {
        Source::Pasted => (
            Some(pasted_records(&form.records).map_err(|d| ApiError::invalid(vec![d]))?),
            None,
        ),
        Source::Sample => (
            None,
            Some(SampleRequest {
                count: sample_count(&form.sample_count).map_err(|d| ApiError::invalid(vec![d]))?,
            }),
        ),
    };
    let request = PreviewRequest {
        mapping,
        records,
        sample,
    };
    let axum::Json(answer) =
        crate::api::preview::preview(State(state.clone()), user.caller(), ApiJson(request)).await?;
    serde_json::from_value(answer).map_err(|e| {
        tracing::error!(error = %e, "the preview answer does not read back");
        ApiError::internal()
    })
}

fn answer_markup(answer: &PreviewAnswer) -> Markup {
    let failing = answer.data.iter().filter(|i| !i.errors.is_empty()).count();
    html! {
        p.preview-summary {
            (answer.data.len()) " record(s) → " (provider_label(answer.target.provider)) " "
            (answer.target.object) ": " (answer.data.len() - failing) " would be written, "
            (failing) " with errors"
        }
        @if answer.data.is_empty() {
            p.hint { "The source has no records to sample yet." }
        }
        @for item in &answer.data {
            article.preview-record data-record=(item.record_id) {
                h4 { "Record " code { (item.record_id) } }
                @if !item.errors.is_empty() {
                    ul.record-errors {
                        @for e in &item.errors {
                            li.error { code { (e.code) } " at " code { (e.field) } ": " (e.message) }
                        }
                    }
                }
                @if let Some(payload) = &item.payload {
                    @let lines = flatten(payload);
                    @if lines.is_empty() {
                        p.hint { "Nothing to write: none of the source fields is set." }
                    } @else {
                        table.payload {
                            @for (path, value) in &lines {
                                tr { th scope="row" { code { (path) } } td { (value) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn error_markup(e: &ApiError) -> Markup {
    html! {
        div.preview-failed role="alert" {
            p.error { strong { "No preview: " } (e.message) }
            @if e.details.len() > 1 {
                ul {
                    @for d in &e.details {
                        li { code { (d.field.strip_prefix("mapping.").unwrap_or(&d.field)) } " " (d.message) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payloads_read_as_paths() {
        let lines = flatten(
            &json!({"firstName": "ADA", "phones": [{"number": "+14155550123"}],
                                    "n": 3, "gone": null}),
        );
        assert!(lines.contains(&("phones[0].number".into(), "+14155550123".into())));
        assert!(lines.contains(&("firstName".into(), "ADA".into())));
        assert!(lines.contains(&("n".into(), "3".into())));
        assert!(lines.contains(&("gone".into(), "null".into())));
    }

    #[test]
    fn pasted_text_is_one_record_or_a_list_and_bad_json_names_records() {
        assert_eq!(pasted_records(r#"{"id": "1"}"#).unwrap().len(), 1);
        assert_eq!(pasted_records(r#"[{}, {}]"#).unwrap().len(), 2);
        assert_eq!(pasted_records("[{").unwrap_err().field, "records");
        assert_eq!(pasted_records("  ").unwrap_err().field, "records");
        assert_eq!(pasted_records("3").unwrap_err().field, "records");
        assert_eq!(sample_count(" 7 ").unwrap(), 7);
        assert_eq!(sample_count("x").unwrap_err().field, "sample.count");
    }
}
