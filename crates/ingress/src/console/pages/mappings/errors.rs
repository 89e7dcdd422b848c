//! Where the API's 422 details go in the editor: each detail's `field` (`fieldPairs[2].targetField`,
//! `schedule.cron`, `mapping.source.object` from a preview) is placed at the input that edits it;
//! the few with no input of their own are listed above the form.

use std::collections::BTreeMap;

use super::form::EditorForm;
use crate::error::ErrorDetail;

/// The API's messages, by the editor slot (input) they belong to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    by_slot: BTreeMap<String, Vec<String>>,
}

/// The editor slot of an API field: the `mapping.` prefix of a preview is dropped; a pair's
/// `sourceFields[k]` is edited in its source input, its `transformOptions.*` in its options.
pub fn slot_of(field: &str) -> String {
    let field = field.strip_prefix("mapping.").unwrap_or(field);
    if let Some(rest) = field.strip_prefix("fieldPairs[") {
        if let Some((index, sub)) = rest.split_once("].") {
            let sub = if sub.starts_with("sourceFields") {
                "sourceField"
            } else if sub.starts_with("transformOptions") {
                "transformOptions"
            } else {
                sub
            };
            return format!("fieldPairs[{index}].{sub}");
        }
    }
    field.to_owned()
}

/// The slots the editor renders for `form`.
fn has_slot(form: &EditorForm, slot: &str) -> bool {
    const TOP: [&str; 14] = [
        "name",
        "source.connectionId",
        "source.object",
        "target.connectionId",
        "target.object",
        "direction",
        "conflictResolution",
        "onDelete",
        "fieldPairs",
        "match.sourceField",
        "match.targetField",
        "associations",
        "schedule.cron",
        "schedule.timezone",
    ];
    if TOP.contains(&slot) {
        return true;
    }
    let indexed = |prefix: &str, len: usize, subs: &[&str]| {
        slot.strip_prefix(prefix)
            .and_then(|r| r.split_once("]."))
            .is_some_and(|(i, sub)| {
                i.parse::<usize>().is_ok_and(|i| i < len) && subs.contains(&sub)
            })
    };
    indexed(
        "fieldPairs[",
        form.pairs.len(),
        &[
            "sourceField",
            "targetField",
            "transform",
            "transformOptions",
        ],
    ) || indexed(
        "associations[",
        form.associations.len(),
        &["source", "mappingId", "targetField"],
    )
}

impl FieldErrors {
    pub fn from_details(details: &[ErrorDetail]) -> FieldErrors {
        let mut by_slot: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for d in details {
            by_slot
                .entry(slot_of(&d.field))
                .or_default()
                .push(d.message.clone());
        }
        FieldErrors { by_slot }
    }

    /// The messages shown at `slot`'s input.
    pub fn at(&self, slot: &str) -> &[String] {
        self.by_slot.get(slot).map_or(&[], Vec::as_slice)
    }

    pub fn is_empty(&self) -> bool {
        self.by_slot.is_empty()
    }

    /// The messages with no input on this form, as `(field, message)`.
    pub fn unplaced(&self, form: &EditorForm) -> Vec<(String, String)> {
        self.by_slot
            .iter()
            .filter(|(slot, _)| !has_slot(form, slot))
            .flat_map(|(slot, ms)| ms.iter().map(move |m| (slot.clone(), m.clone())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::pages::mappings::form::PairRow;

    #[test]
    fn details_land_at_the_input_that_edits_them() {
        assert_eq!(
            slot_of("fieldPairs[2].targetField"),
            "fieldPairs[2].targetField"
        );
        assert_eq!(
            slot_of("mapping.fieldPairs[0].transformOptions.region"),
            "fieldPairs[0].transformOptions"
        );
        assert_eq!(
            slot_of("fieldPairs[1].sourceFields[3]"),
            "fieldPairs[1].sourceField"
        );
        assert_eq!(slot_of("mapping.schedule.cron"), "schedule.cron");
        assert_eq!(slot_of("records[0]"), "records[0]");
    }

    #[test]
    fn only_details_without_an_input_are_unplaced() {
        let form = EditorForm {
            pairs: vec![PairRow::default(), PairRow::default()],
            ..EditorForm::default()
        };
        let errors = FieldErrors::from_details(&[
            ErrorDetail::new("fieldPairs[1].targetField", "'x[' is not a valid path"),
            ErrorDetail::new("schedule.cron", "bad cron"),
            ErrorDetail::new("fieldPairs[5].targetField", "gone"),
            ErrorDetail::new("enabled", "odd"),
        ]);
        assert_eq!(
            errors.at("fieldPairs[1].targetField"),
            ["'x[' is not a valid path"]
        );
        assert_eq!(errors.at("schedule.cron"), ["bad cron"]);
        assert!(errors.at("name").is_empty());
        assert_eq!(
            errors.unplaced(&form),
            [
                ("enabled".to_owned(), "odd".to_owned()),
                ("fieldPairs[5].targetField".to_owned(), "gone".to_owned())
            ]
        );
    }
}
