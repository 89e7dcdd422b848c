//! Tests for write decisions, echo detection and conflict policies.

use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 5, h, 0, 0).unwrap()
}

fn link(hash: Option<&str>) -> LinkState {
    LinkState {
        source_id: "S1".into(),
        target_id: "T1".into(),
        source_updated_at: Some(at(10)),
        target_updated_at: Some(at(10)),
        hash: hash.map(str::to_string),
    }
}

#[test]
fn write_decisions() {
    assert_eq!(decide_write(None, "h1"), Decision::Create);
    assert_eq!(
        decide_write(Some(&link(Some("h1"))), "h1"),
        Decision::Skip {
            reason: SkipReason::Unchanged
        }
    );
    assert_eq!(
        decide_write(Some(&link(Some("h0"))), "h1"),
        Decision::Update {
            target_id: "T1".into()
        }
    );
    assert_eq!(
        decide_write(Some(&link(None)), "h1"),
        Decision::Update {
            target_id: "T1".into()
        }
    );
}

#[test]
fn echo_is_our_own_hash_coming_back() {
    assert!(is_echo(Some(&link(Some("h1"))), "h1"));
    assert!(!is_echo(Some(&link(Some("h1"))), "h2"));
    assert!(!is_echo(Some(&link(None)), "h1"));
    assert!(!is_echo(None, "h1"));
}

#[test]
fn conflict_needs_both_sides_changed() {
    let l = link(Some("h"));
    assert!(is_conflict(&l, at(11), at(12)));
    assert!(!is_conflict(&l, at(11), at(10)), "target unchanged");
    assert!(!is_conflict(&l, at(10), at(12)), "source unchanged");
    assert!(!is_conflict(&l, at(9), at(9)));
    let unknown = LinkState {
        source_updated_at: None,
        ..link(None)
    };
    assert!(is_conflict(&unknown, at(1), at(11)));
    assert!(!is_conflict(&unknown, at(1), at(10)));
}

#[test]
fn conflict_policies() {
    use ConflictResolution::*;
    let cases = [
        (NewestWins, at(11), at(12), Side::Target),
        (NewestWins, at(12), at(11), Side::Source),
        (NewestWins, at(12), at(12), Side::Source),
        (SourceWins, at(11), at(12), Side::Source),
        (SourceWins, at(12), at(11), Side::Source),
        (TargetWins, at(12), at(11), Side::Target),
        (TargetWins, at(11), at(12), Side::Target),
    ];
    for (policy, s, t, want) in cases {
        assert_eq!(
            resolve_conflict(policy, s, t),
            want,
            "{policy:?} source {s} target {t}"
        );
    }
}

proptest! {
    #[test]
    fn newest_wins_picks_the_later(a in 0i64..4_000_000_000, b in 0i64..4_000_000_000) {
        let (s, t) = (DateTime::from_timestamp(a, 0).unwrap(), DateTime::from_timestamp(b, 0).unwrap());
        let side = resolve_conflict(ConflictResolution::NewestWins, s, t);
        let winner = if side == Side::Source { s } else { t };
        prop_assert_eq!(winner, s.max(t));
    }
}
