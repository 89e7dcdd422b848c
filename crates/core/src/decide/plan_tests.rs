//! Tests for the per-record plan of both legs: a table of cases, and proptests over interleaved
//! changes on both sides (no ping-pong, conflicts follow the policy, same inputs same plan).

use super::*;
use chrono::TimeZone;
use proptest::prelude::*;
use ConflictResolution::*;

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

fn link(hash: &str, source_at: i64, target_at: i64) -> LinkState {
    LinkState {
        source_id: "S".into(),
        target_id: "T".into(),
        source_updated_at: Some(at(source_at)),
        target_updated_at: Some(at(target_at)),
        hash: Some(hash.into()),
    }
}

fn skip(reason: SkipReason) -> Plan {
    Plan::Skip { reason }
}

fn update(id: &str) -> Plan {
    Plan::Update { id: id.into() }
}

fn create(hash: &str) -> Plan {
    Plan::Create {
        intent: CreateIntent {
            record_id: "R".into(),
            hash: hash.into(),
        },
    }
}

/// One row of the table: name, leg, link, incoming (hash, at), policy, other (hash, at), want.
struct Case<'a> {
    name: &'a str,
    leg: Leg,
    link: Option<&'a LinkState>,
    incoming: (&'a str, i64),
    policy: Option<ConflictResolution>,
    other: Option<(Option<&'a str>, i64)>,
    want: Plan,
}

#[test]
fn plans_by_link_hash_and_conflict() {
    let l = link("h0", 10, 10);
    let (f, r) = (Leg::Forward, Leg::Reverse);
    let c = |name, leg, link, incoming, policy, other, want| Case {
        name,
        leg,
        link,
        incoming,
        policy,
        other,
        want,
    };
    let lost = skip(SkipReason::ConflictLost);
    let cases = [
        c("new forward", f, None, ("h1", 11), None, None, create("h1")),
        c(
            "new reverse",
            r,
            None,
            ("h1", 11),
            Some(NewestWins),
            None,
            create("h1"),
        ),
        c(
            "unchanged, one-way",
            f,
            Some(&l),
            ("h0", 10),
            None,
            None,
            skip(SkipReason::Unchanged),
        ),
        c(
            "touched, same values",
            f,
            Some(&l),
            ("h0", 12),
            Some(NewestWins),
            None,
            skip(SkipReason::Unchanged),
        ),
        c(
            "echo on reverse",
            r,
            Some(&l),
            ("h0", 10),
            Some(NewestWins),
            Some((Some("h0"), 10)),
            skip(SkipReason::Echo),
        ),
        c(
            "echo on forward",
            f,
            Some(&l),
            ("h0", 10),
            Some(TargetWins),
            Some((Some("h0"), 10)),
            skip(SkipReason::Echo),
        ),
        c(
            "forward change, one-way",
            f,
            Some(&l),
            ("h1", 11),
            None,
            None,
            update("T"),
        ),
        c(
            "reverse change",
            r,
            Some(&l),
            ("h1", 11),
            Some(SourceWins),
            Some((Some("h0"), 10)),
            update("S"),
        ),
        c(
            "forward change, target untouched",
            f,
            Some(&l),
            ("h1", 11),
            Some(TargetWins),
            Some((Some("h0"), 10)),
            update("T"),
        ),
        c(
            "target touched, same values",
            f,
            Some(&l),
            ("h1", 11),
            Some(TargetWins),
            Some((Some("h0"), 12)),
            update("T"),
        ),
        c(
            "newest is target: forward loses",
            f,
            Some(&l),
            ("h1", 11),
            Some(NewestWins),
            Some((Some("h2"), 12)),
            lost.clone(),
        ),
        c(
            "newest is target: reverse wins",
            r,
            Some(&l),
            ("h2", 12),
            Some(NewestWins),
            Some((Some("h1"), 11)),
            update("S"),
        ),
        c(
            "newest is source: forward wins",
            f,
            Some(&l),
            ("h1", 12),
            Some(NewestWins),
            Some((Some("h2"), 11)),
            update("T"),
        ),
        c(
            "newest is source: reverse loses",
            r,
            Some(&l),
            ("h2", 11),
            Some(NewestWins),
            Some((Some("h1"), 12)),
            lost.clone(),
        ),
        c(
            "a tie goes to the source",
            r,
            Some(&l),
            ("h2", 12),
            Some(NewestWins),
            Some((Some("h1"), 12)),
            lost.clone(),
        ),
        c(
            "source_wins",
            r,
            Some(&l),
            ("h2", 13),
            Some(SourceWins),
            Some((Some("h1"), 11)),
            lost.clone(),
        ),
        c(
            "target_wins",
            f,
            Some(&l),
            ("h1", 13),
            Some(TargetWins),
            Some((Some("h2"), 11)),
            lost.clone(),
        ),
        c(
            "unprojectable other counts as changed",
            r,
            Some(&l),
            ("h2", 11),
            Some(SourceWins),
            Some((None, 12)),
            lost,
        ),
        c(
            "other not found: no conflict",
            r,
            Some(&l),
            ("h2", 11),
            Some(SourceWins),
            None,
            update("S"),
        ),
    ];
    for case in cases {
        let input = PlanInput {
            leg: case.leg,
            incoming: Incoming {
                id: "R",
                hash: case.incoming.0,
                updated_at: at(case.incoming.1),
            },
            link: case.link,
            policy: case.policy,
            other: case.other.map(|(hash, t)| Other {
                hash,
                updated_at: at(t),
            }),
        };
        assert_eq!(plan(&input), case.want, "{}", case.name);
    }
}

/// A side's value and when it last changed.
type Version = (u8, i64);

/// A bidirectional pair in a model world: each side holds a value (its projection hash is
/// `h{value}`) and a timestamp; the link is what the last write recorded.
#[derive(Debug, Clone)]
struct World {
    source: Option<Version>,
    target: Option<Version>,
    link: Option<LinkState>,
    clock: i64,
    policy: ConflictResolution,
}

#[derive(Debug, Clone)]
enum Op {
    EditSource(u8),
    EditTarget(u8),
    Forward,
    Reverse,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..4).prop_map(Op::EditSource),
        (0u8..4).prop_map(Op::EditTarget),
        Just(Op::Forward),
        Just(Op::Reverse),
    ]
}

fn policy() -> impl Strategy<Value = ConflictResolution> {
    prop_oneof![Just(NewestWins), Just(SourceWins), Just(TargetWins)]
}

fn hash(v: u8) -> String {
    format!("h{v}")
}

impl World {
    fn new(start_on_source: bool, value: u8, policy: ConflictResolution) -> World {
        let side = Some((value, 0));
        World {
            source: if start_on_source { side } else { None },
            target: if start_on_source { None } else { side },
            link: None,
            clock: 0,
            policy,
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    /// (the side `leg` reads, the side it writes).
    fn sides(&self, leg: Leg) -> (Option<Version>, Option<Version>) {
        match leg {
            Leg::Forward => (self.source, self.target),
            Leg::Reverse => (self.target, self.source),
        }
    }

    /// The plan for the record `leg` reads, computed twice: it is a function of its inputs.
    fn plan(&self, leg: Leg) -> Option<Plan> {
        let (read, other) = self.sides(leg);
        let (value, updated) = read?;
        let h = hash(value);
        let other_hash = other.map(|(v, _)| hash(v));
        let input = PlanInput {
            leg,
            incoming: Incoming {
                id: "R",
                hash: &h,
                updated_at: at(updated),
            },
            link: self.link.as_ref(),
            policy: Some(self.policy),
            other: self.link.as_ref().and(other).map(|(_, t)| Other {
                hash: other_hash.as_deref(),
                updated_at: at(t),
            }),
        };
        let first = plan(&input);
        let again = input;
        assert_eq!(first, plan(&again), "same inputs, same plan");
        Some(first)
    }

    /// Runs one leg; true if it wrote.
    fn run(&mut self, leg: Leg) -> bool {
        let Some(p) = self.plan(leg) else {
            return false;
        };
        if matches!(p, Plan::Skip { .. }) {
            return false;
        }
        let Some((value, read_at)) = self.sides(leg).0 else {
            return false;
        };
        let written = (value, self.tick());
        let (source, target) = match leg {
            Leg::Forward => ((value, read_at), written),
            Leg::Reverse => (written, (value, read_at)),
        };
        self.source = Some(source);
        self.target = Some(target);
        self.link = Some(LinkState {
            source_id: "S".into(),
            target_id: "T".into(),
            source_updated_at: Some(at(source.1)),
            target_updated_at: Some(at(target.1)),
            hash: Some(hash(value)),
        });
        true
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::EditSource(v) if self.source.is_some() => {
                let t = self.tick();
                self.source = Some((v, t));
            }
            Op::EditTarget(v) if self.target.is_some() => {
                let t = self.tick();
                self.target = Some((v, t));
            }
            // Our write comes back on the other leg and is skipped as an echo.
            Op::Forward if self.run(Leg::Forward) => {
                let back = self.plan(Leg::Reverse);
                assert_eq!(back, Some(skip(SkipReason::Echo)), "{self:?}");
            }
            Op::Reverse if self.run(Leg::Reverse) => {
                let back = self.plan(Leg::Forward);
                assert_eq!(back, Some(skip(SkipReason::Echo)), "{self:?}");
            }
            _ => {}
        }
    }

    /// One bidirectional run: the forward leg, then the reverse leg. True if either wrote.
    fn round(&mut self) -> bool {
        let forward = self.run(Leg::Forward);
        let reverse = self.run(Leg::Reverse);
        forward || reverse
    }
}

proptest! {
    #[test]
    fn interleaved_changes_settle_and_never_ping_pong(
        start_on_source in any::<bool>(),
        first in 0u8..4,
        policy in policy(),
        ops in proptest::collection::vec(op(), 0..24),
    ) {
        let mut w = World::new(start_on_source, first, policy);
        for op in &ops {
            w.apply(op);
        }
        w.round();
        prop_assert_eq!(w.source.map(|s| s.0), w.target.map(|t| t.0), "one run brings both sides together: {:?}", w);
        prop_assert!(!w.round(), "a second run writes nothing: {:?}", w);
        prop_assert!(!w.round(), "nor a third: {:?}", w);
    }

    #[test]
    fn a_conflict_resolves_by_the_policy(
        start_on_source in any::<bool>(),
        (old, a, b) in (0u8..8, 0u8..8, 0u8..8)
            .prop_filter("distinct values", |(o, a, b)| o != a && o != b && a != b),
        source_first in any::<bool>(),
        policy in policy(),
    ) {
        let mut w = World::new(start_on_source, old, policy);
        w.round();
        if source_first {
            w.apply(&Op::EditSource(a));
            w.apply(&Op::EditTarget(b));
        } else {
            w.apply(&Op::EditTarget(b));
            w.apply(&Op::EditSource(a));
        }
        prop_assert!(w.round(), "a conflict is written one way");
        let winner = match policy {
            SourceWins => a,
            TargetWins => b,
            NewestWins if source_first => b,
            NewestWins => a,
        };
        prop_assert_eq!(w.source.map(|s| s.0), Some(winner), "{:?}", w);
        prop_assert_eq!(w.target.map(|t| t.0), Some(winner), "{:?}", w);
        prop_assert!(!w.round(), "and then settles: {:?}", w);
    }
}
