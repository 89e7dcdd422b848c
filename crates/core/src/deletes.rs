//! The deletion decision as a plain function: what a tombstone does to its linked twin, by the mapping's `onDelete`.

use crate::decide::LinkState;
use crate::domain::OnDelete;

/// What the write path does with a tombstone (`Record { deleted: true }`) read from one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteAction {
    /// Nothing: no twin, or the mapping ignores deletions. Counted as skipped.
    Ignore,
    /// Archive (or delete) the twin `target_id` through the adapter, then remove the link.
    /// Counted as deleted.
    Archive { target_id: String },
    /// Remove the link only; the twin stays. Counted as deleted.
    Unlink,
}

impl DeleteAction {
    /// Whether the action changes something (counted in `Counts.deleted`, else `skipped`).
    pub fn is_applied(&self) -> bool {
        !matches!(self, DeleteAction::Ignore)
    }
}

/// The action for a tombstone whose record has `link` (looked up on the side it was read from).
///
/// - no link: nothing was ever synced from it, so there is nothing to do;
/// - `ignore`: the link stays, the twin is untouched;
/// - `unlink`: the link goes, the twin stays;
/// - `archive`: the twin is archived and the link goes; a create intent (a link with no target
///   id yet) only loses its link, since there is no twin to archive.
///
/// Removing the link is what keeps a bidirectional mapping from echoing: the twin's own
/// tombstone, read back on the other leg, finds no link and is ignored.
pub fn on_delete(policy: OnDelete, link: Option<&LinkState>) -> DeleteAction {
    let Some(link) = link else {
        return DeleteAction::Ignore;
    };
    match policy {
        OnDelete::Ignore => DeleteAction::Ignore,
        OnDelete::Unlink => DeleteAction::Unlink,
        OnDelete::Archive if link.target_id.is_empty() => DeleteAction::Unlink,
        OnDelete::Archive => DeleteAction::Archive {
            target_id: link.target_id.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(target_id: &str) -> LinkState {
        LinkState {
            source_id: "s1".into(),
            target_id: target_id.into(),
            source_updated_at: None,
            target_updated_at: None,
            hash: Some("h".into()),
        }
    }

    #[test]
    fn table() {
        let linked = link("t1");
        let intent = link("");
        let archive_t1 = DeleteAction::Archive {
            target_id: "t1".into(),
        };
        let cases: [(OnDelete, Option<&LinkState>, DeleteAction); 9] = [
            (OnDelete::Ignore, None, DeleteAction::Ignore),
            (OnDelete::Unlink, None, DeleteAction::Ignore),
            (OnDelete::Archive, None, DeleteAction::Ignore),
            (OnDelete::Ignore, Some(&linked), DeleteAction::Ignore),
            (OnDelete::Unlink, Some(&linked), DeleteAction::Unlink),
            (OnDelete::Archive, Some(&linked), archive_t1),
            (OnDelete::Ignore, Some(&intent), DeleteAction::Ignore),
            (OnDelete::Unlink, Some(&intent), DeleteAction::Unlink),
            (OnDelete::Archive, Some(&intent), DeleteAction::Unlink),
        ];
        for (policy, link, want) in cases {
            assert_eq!(on_delete(policy, link), want, "{policy:?} {link:?}");
        }
    }

    #[test]
    fn only_ignore_is_not_applied() {
        assert!(!DeleteAction::Ignore.is_applied());
        assert!(DeleteAction::Unlink.is_applied());
        assert!(DeleteAction::Archive {
            target_id: "x".into()
        }
        .is_applied());
    }

    #[test]
    fn on_delete_defaults_to_ignore_and_parses_lowercase() {
        assert_eq!(OnDelete::default(), OnDelete::Ignore);
        for p in OnDelete::ALL {
            assert_eq!(OnDelete::parse(p.as_str()), Some(p));
            let json = serde_json::to_value(p).unwrap();
            assert_eq!(json, serde_json::json!(p.as_str()));
        }
        assert_eq!(OnDelete::parse("Archive"), None);
        assert!(serde_json::from_value::<OnDelete>(serde_json::json!("delete")).is_err());
    }
}
