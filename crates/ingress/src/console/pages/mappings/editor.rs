//! The mapping editor's markup: name, both endpoints, field-pair rows, direction, conflict policy,
//! match, associations, on-delete, schedule with its next fire times, and the preview pane.
//! Every input shows the API's messages about it right under it ([`FieldErrors`]).

use fluxcascade_core::ProviderKind;
use fluxcascade_store::connections::ConnectionRow;
use fluxcascade_store::mappings::MappingRow;
use maud::{html, Markup};

use super::errors::FieldErrors;
use super::form::{
    wire, AssocRow, EditorForm, PairRow, CONFLICTS, DIRECTIONS, ON_DELETES, TRANSFORMS,
};
use super::schedule::next_runs_markup;
use crate::console::layout::csrf_field;
use crate::console::pages::connections::provider_label;
use crate::console::user::ConsoleUser;

/// A new mapping, or an existing one being edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    New,
    Edit(uuid::Uuid),
}

impl Mode {
    pub fn action(self) -> String {
        match self {
            Mode::New => "/mappings/new".into(),
            Mode::Edit(id) => format!("/mappings/{id}/edit"),
        }
    }
}

/// What the editor shows.
pub struct Editor<'a> {
    pub user: &'a ConsoleUser,
    pub mode: Mode,
    pub connections: &'a [ConnectionRow],
    /// The org's other mappings (associations resolve through one of them).
    pub mappings: &'a [MappingRow],
    pub form: &'a EditorForm,
    pub errors: &'a FieldErrors,
    /// The API's message when saving failed.
    pub failure: Option<&'a str>,
}

/// A connection's name as the selects show it.
pub fn connection_label(c: &ConnectionRow) -> String {
    match ProviderKind::parse(&c.provider) {
        Some(kind) => format!("{} · {}", provider_label(kind), c.account_name),
        None => format!("{} · {}", c.provider, c.account_name),
    }
}

/// The objects of the provider of connection `id` (none when it is unknown).
pub fn objects_of(connections: &[ConnectionRow], id: &str) -> &'static [&'static str] {
    connections
        .iter()
        .find(|c| c.id.to_string() == id)
        .and_then(|c| ProviderKind::parse(&c.provider))
        .map_or(&[], ProviderKind::objects)
}

/// The messages about `slot`, under its input.
pub fn field_errors(errors: &FieldErrors, slot: &str) -> Markup {
    html! {
        @for m in errors.at(slot) {
            p.field-error role="alert" { (m) }
        }
    }
}

/// The object select of one side, swapped when its connection changes.
pub fn object_select(side: &str, objects: &[&str], selected: &str) -> Markup {
    let typed_elsewhere = !selected.is_empty() && !objects.contains(&selected);
    html! {
        select id=(format!("{side}-object")) name=(format!("{side}_object")) {
            @if objects.is_empty() {
                option value="" { "Choose a connection first" }
            }
            @for o in objects {
                option value=(o) selected[*o == selected] { (o) }
            }
            @if typed_elsewhere {
                option value=(selected) selected { (selected) }
            }
        }
    }
}

fn endpoint(ed: &Editor<'_>, side: &str, label: &str, connection: &str, object: &str) -> Markup {
    let conn_slot = format!("{side}.connectionId");
    let obj_slot = format!("{side}.object");
    let select_id = format!("{side}_connection");
    html! {
        fieldset.endpoint {
            legend { (label) }
            div.field data-field=(conn_slot) {
                label for=(select_id) { "Connection" }
                select id=(select_id) name=(select_id)
                    hx-get=(format!("/mappings/editor/objects/{side}"))
                    hx-trigger="change" hx-include=(format!("#{select_id}"))
                    hx-target=(format!("#{side}-object")) hx-swap="outerHTML" {
                    @for c in ed.connections {
                        option value=(c.id) selected[c.id.to_string() == connection] { (connection_label(c)) }
                    }
                }
                (field_errors(ed.errors, &conn_slot))
            }
            div.field data-field=(obj_slot) {
                label for=(format!("{side}-object")) { "Object" }
                (object_select(side, objects_of(ed.connections, connection), object))
                (field_errors(ed.errors, &obj_slot))
            }
        }
    }
}

/// One field-pair row (`key` groups its inputs; `index` is its `fieldPairs[i]`, if any).
pub fn pair_row(key: &str, index: Option<usize>, row: &PairRow, errors: &FieldErrors) -> Markup {
    let name = |f: &str| format!("pair.{key}.{f}");
    let slot = |f: &str| index.map_or_else(String::new, |i| format!("fieldPairs[{i}].{f}"));
    let errs = |f: &str| match index {
        Some(_) => field_errors(errors, &slot(f)),
        None => html! {},
    };
    html! {
        div.pair {
            div.field data-field=(slot("sourceField")) {
                label for=(name("source")) { "Source field" }
                input type="text" id=(name("source")) name=(name("source")) value=(row.source)
                    placeholder="phone (comma-separated for concatenate)";
                (errs("sourceField"))
            }
            div.field data-field=(slot("targetField")) {
                label for=(name("target")) { "Target field" }
                input type="text" id=(name("target")) name=(name("target")) value=(row.target)
                    placeholder="phones[0].number";
                (errs("targetField"))
            }
            div.field data-field=(slot("transform")) {
                label for=(name("transform")) { "Transform" }
                select.transform id=(name("transform")) name=(name("transform")) {
                    option value="" selected[row.transform.is_empty()] { "None" }
                    @for (t, label) in TRANSFORMS {
                        option value=(t) selected[row.transform == t] { (label) }
                    }
                    @if !row.transform.is_empty() && !TRANSFORMS.iter().any(|(t, _)| *t == row.transform) {
                        option value=(row.transform) selected { (row.transform) }
                    }
                }
                (errs("transform"))
            }
            div.field.options data-field=(slot("transformOptions")) {
                label.opt.opt-region {
                    "Region "
                    input type="text" name=(name("region")) value=(row.region) placeholder="US" size="4";
                }
                label.opt.opt-timezone {
                    "Time zone "
                    input type="text" name=(name("timezone")) value=(row.timezone) placeholder="UTC";
                }
                label.opt.opt-part {
                    "Part "
                    select name=(name("part")) {
                        option value="first" selected[row.part != "last"] { "first" }
                        option value="last" selected[row.part == "last"] { "last" }
                    }
                }
                label.opt.opt-separator {
                    "Separator "
                    input type="text" name=(name("separator")) value=(row.separator) placeholder="(a space)" size="6";
                }
                (errs("transformOptions"))
            }
            div.field.check {
                label {
                    input type="checkbox" name=(name("required")) value="on" checked[row.required];
                    " Required"
                }
            }
            div.field.remove {
                button type="button" hx-get="/mappings/editor/nothing" hx-target="closest .pair"
                    hx-swap="delete" aria-label="Remove this field" { "Remove" }
            }
        }
    }
}

fn assoc_row(ed: &Editor<'_>, key: &str, index: Option<usize>, row: &AssocRow) -> Markup {
    let name = |f: &str| format!("assoc.{key}.{f}");
    let slot = |f: &str| index.map_or_else(String::new, |i| format!("associations[{i}].{f}"));
    html! {
        div.assoc {
            div.field data-field=(slot("source")) {
                label for=(name("source")) { "Associated object" }
                input type="text" id=(name("source")) name=(name("source")) value=(row.source) placeholder="contacts";
                (field_errors(ed.errors, &slot("source")))
            }
            div.field data-field=(slot("mappingId")) {
                label for=(name("mapping_id")) { "Through mapping" }
                select id=(name("mapping_id")) name=(name("mapping_id")) {
                    option value="" { "—" }
                    @for m in ed.mappings {
                        option value=(m.id) selected[m.id.to_string() == row.mapping_id] { (m.spec.name) }
                    }
                }
                (field_errors(ed.errors, &slot("mappingId")))
            }
            div.field data-field=(slot("targetField")) {
                label for=(name("target_field")) { "Target field" }
                input type="text" id=(name("target_field")) name=(name("target_field")) value=(row.target_field) placeholder="clientId";
                (field_errors(ed.errors, &slot("targetField")))
            }
        }
    }
}

fn select_of<T: Copy + serde::Serialize>(
    ed: &Editor<'_>,
    id: &str,
    slot: &str,
    label: &str,
    choices: &[(T, &str)],
    current: &str,
) -> Markup {
    html! {
        div.field data-field=(slot) {
            label for=(id) { (label) }
            select id=(id) name=(id) {
                @for (value, text) in choices {
                    @let v = wire(*value);
                    option value=(v) selected[v == current] { (text) }
                }
            }
            (field_errors(ed.errors, slot))
        }
    }
}

/// The whole editor.
pub fn editor(ed: &Editor<'_>) -> Markup {
    let f = ed.form;
    let unplaced = ed.errors.unplaced(f);
    let blank = [PairRow::default()];
    let pairs: &[PairRow] = if f.pairs.is_empty() { &blank } else { &f.pairs };
    html! {
        h2 { @match ed.mode { Mode::New => "New mapping", Mode::Edit(_) => "Edit mapping" } }
        @if let Some(message) = ed.failure {
            div.save-failed role="alert" {
                p.error { strong { "Not saved: " } (message) }
                @if !unplaced.is_empty() {
                    ul { @for (field, m) in &unplaced { li { code { (field) } " " (m) } } }
                }
            }
        }
        div.editor-layout {
            form.editor method="post" action=(ed.mode.action()) id="mapping-editor" {
                (csrf_field(ed.user))
                div.field data-field="name" {
                    label for="name" { "Name" }
                    input type="text" id="name" name="name" value=(f.name) placeholder="Contacts to clients";
                    (field_errors(ed.errors, "name"))
                }
                div.endpoints {
                    (endpoint(ed, "source", "Read from (source)", &f.source_connection, &f.source_object))
                    (endpoint(ed, "target", "Write to (target)", &f.target_connection, &f.target_object))
                }
                fieldset.pairs {
                    legend { "Field pairs" }
                    (field_errors(ed.errors, "fieldPairs"))
                    div #pairs {
                        @for (i, row) in pairs.iter().enumerate() {
                            (pair_row(&i.to_string(), Some(i), row, ed.errors))
                        }
                    }
                    button type="button" hx-get="/mappings/editor/row" hx-target="#pairs" hx-swap="beforeend" { "Add field" }
                }
                div.settings {
                    (select_of(ed, "direction", "direction", "Direction", &DIRECTIONS, &f.direction))
                    (select_of(ed, "conflict", "conflictResolution", "When both sides changed", &CONFLICTS, &f.conflict))
                    div.field data-field="onDelete" {
                        label for="on_delete" { "When a record is deleted" }
                        select id="on_delete" name="on_delete" {
                            @for (value, text) in ON_DELETES {
                                option value=(value.as_str()) selected[value.as_str() == f.on_delete] { (text) }
                            }
                        }
                        (field_errors(ed.errors, "onDelete"))
                    }
                    div.field.check {
                        label { input type="checkbox" name="enabled" value="on" checked[f.enabled]; " Enabled" }
                    }
                }
                fieldset.match {
                    legend { "Match existing target records" }
                    p.hint { "A record not linked yet is matched to the target record whose field equals its own (e.g. email). Leave empty to always create." }
                    div.field data-field="match.sourceField" {
                        label for="match_source" { "Source field" }
                        input type="text" id="match_source" name="match_source" value=(f.match_source) placeholder="email";
                        (field_errors(ed.errors, "match.sourceField"))
                    }
                    div.field data-field="match.targetField" {
                        label for="match_target" { "Target field" }
                        input type="text" id="match_target" name="match_target" value=(f.match_target) placeholder="emails[0].address";
                        (field_errors(ed.errors, "match.targetField"))
                    }
                }
                fieldset.associations {
                    legend { "Associations" }
                    p.hint { "Fill a target field with the twin of an associated record, through another mapping's links (e.g. a deal's contact → its Jobber client)." }
                    (field_errors(ed.errors, "associations"))
                    @for (i, row) in f.associations.iter().enumerate() {
                        (assoc_row(ed, &i.to_string(), Some(i), row))
                    }
                    (assoc_row(ed, "new", None, &AssocRow::default()))
                }
                fieldset.schedule #schedule {
                    legend { "Schedule" }
                    p.hint { "A cron (5 fields, or 6 with seconds) in a time zone; leave it empty to run syncs by hand." }
                    div.field data-field="schedule.cron" {
                        label for="cron" { "Cron" }
                        input type="text" id="cron" name="cron" value=(f.cron) placeholder="*/15 * * * *"
                            hx-get="/mappings/editor/next-runs" hx-trigger="keyup changed delay:300ms, change"
                            hx-include="#cron, #timezone" hx-target="#next-runs" hx-swap="innerHTML";
                        (field_errors(ed.errors, "schedule.cron"))
                    }
                    div.field data-field="schedule.timezone" {
                        label for="timezone" { "Time zone" }
                        input type="text" id="timezone" name="timezone" value=(f.timezone) placeholder="Europe/Paris"
                            hx-get="/mappings/editor/next-runs" hx-trigger="keyup changed delay:300ms, change"
                            hx-include="#cron, #timezone" hx-target="#next-runs" hx-swap="innerHTML";
                        (field_errors(ed.errors, "schedule.timezone"))
                    }
                    div #next-runs aria-live="polite" { (next_runs_markup(&f.cron, &f.timezone)) }
                }
                div.form-actions {
                    button.primary type="submit" { "Save mapping" }
                    a href="/mappings" { "Cancel" }
                }
                (preview_pane(f))
            }
        }
    }
}

/// The preview pane: paste records or fetch a sample; the answer lands in `#preview-result`.
fn preview_pane(f: &EditorForm) -> Markup {
    html! {
        section.preview aria-label="Preview" {
            h3 { "Preview" }
            p.hint { "See what this mapping, as typed (unsaved), would write: paste records exactly as the source provider returns them (HubSpot " code { "{id, properties}" } ", Salesforce " code { "attributes" } " + fields, Pipedrive or Jobber objects, or " code { "{fields}" } "), or read a sample from the source. Nothing is written." }
            div.field {
                label for="records" { "Records (JSON: one object or a list)" }
                textarea id="records" name="records" rows="6" placeholder=r#"[{"id": "1", "properties": {"phone": "(415) 555-0123"}}]"# { (f.records) }
            }
            div.preview-actions {
                button type="button" hx-post="/mappings/editor/preview/pasted" hx-target="#preview-result" hx-swap="innerHTML" { "Preview pasted records" }
                label for="sample_count" { "Sample size" }
                input type="number" id="sample_count" name="sample_count" min="1" max="20" value=(f.sample_count);
                button type="button" hx-post="/mappings/editor/preview/sample" hx-target="#preview-result" hx-swap="innerHTML" { "Fetch sample" }
            }
            div #preview-result aria-live="polite" {
                p.hint { "No preview yet." }
            }
        }
    }
}
