//! Evaluating parsed SOQL against stored records: typed comparisons (ids case-sensitively,
//! other text case-insensitively, nulls only equal null), WHERE matching and ORDER BY.

use std::cmp::Ordering;

use super::schema::{FieldSpec, FieldType};
use super::soql::{Cond, InList, Op, OrderKey, Scalar};
use super::store::SfRecord;

/// A record's field as a comparable value.
pub fn scalar(rec: &SfRecord, field: &FieldSpec) -> Scalar {
    match field.name {
        "Id" => Scalar::Text(rec.id.clone()),
        "IsDeleted" => Scalar::Bool(rec.deleted),
        "CreatedDate" => Scalar::Time(rec.created_ms),
        "LastModifiedDate" | "SystemModstamp" => Scalar::Time(rec.modstamp_ms),
        name => match rec.fields.get(name) {
            None | Some(serde_json::Value::Null) => Scalar::Null,
            Some(serde_json::Value::Number(n)) => Scalar::Number(n.as_f64().unwrap_or(0.0)),
            Some(serde_json::Value::Bool(b)) => Scalar::Bool(*b),
            Some(serde_json::Value::String(s)) => Scalar::Text(s.clone()),
            Some(other) => Scalar::Text(other.to_string()),
        },
    }
}

/// Non-null values of one field: ids case-sensitively, other text case-insensitively.
fn compare(field: &FieldSpec, a: &Scalar, b: &Scalar) -> Ordering {
    match (a, b) {
        (Scalar::Text(x), Scalar::Text(y)) => match field.ty {
            FieldType::Id | FieldType::Reference(_) => x.cmp(y),
            _ => x.to_lowercase().cmp(&y.to_lowercase()),
        },
        (Scalar::Number(x), Scalar::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Scalar::Time(x), Scalar::Time(y)) => x.cmp(y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

impl Cond {
    pub fn matches(&self, rec: &SfRecord) -> bool {
        match self {
            Cond::And(cs) => cs.iter().all(|c| c.matches(rec)),
            Cond::Or(cs) => cs.iter().any(|c| c.matches(rec)),
            Cond::Not(c) => !c.matches(rec),
            Cond::In(list) => list.contains(rec) != list.negated,
            Cond::Cmp(field, op, lit) => {
                let v = scalar(rec, field);
                match (&v, lit) {
                    (Scalar::Null, Scalar::Null) => *op == Op::Eq,
                    (_, Scalar::Null) => *op == Op::Ne,
                    (Scalar::Null, _) => *op == Op::Ne,
                    _ => {
                        let o = compare(field, &v, lit);
                        match op {
                            Op::Eq => o == Ordering::Equal,
                            Op::Ne => o != Ordering::Equal,
                            Op::Lt => o == Ordering::Less,
                            Op::Le => o != Ordering::Greater,
                            Op::Gt => o == Ordering::Greater,
                            Op::Ge => o != Ordering::Less,
                        }
                    }
                }
            }
        }
    }
}

impl InList {
    /// Whether the record's field equals one of the values (text by key, others by value;
    /// null equals only a null in the list).
    fn contains(&self, rec: &SfRecord) -> bool {
        let v = scalar(rec, self.field);
        match &v {
            Scalar::Text(t) => {
                let key = match self.field.ty {
                    FieldType::Id | FieldType::Reference(_) => t.clone(),
                    _ => t.to_lowercase(),
                };
                self.keys.contains(&key)
            }
            Scalar::Null => self.values.contains(&Scalar::Null),
            _ => self
                .values
                .iter()
                .any(|x| *x != Scalar::Null && compare(self.field, &v, x) == Ordering::Equal),
        }
    }
}

/// Sorts by the ORDER BY keys (ties keep creation order).
pub fn sort(records: &mut [&SfRecord], order: &[OrderKey]) {
    records.sort_by(|a, b| {
        for k in order {
            let (x, y) = (scalar(a, k.field), scalar(b, k.field));
            let o = match (&x, &y) {
                (Scalar::Null, Scalar::Null) => Ordering::Equal,
                (Scalar::Null, _) if k.nulls_first => Ordering::Less,
                (Scalar::Null, _) => Ordering::Greater,
                (_, Scalar::Null) if k.nulls_first => Ordering::Greater,
                (_, Scalar::Null) => Ordering::Less,
                _ if k.desc => compare(k.field, &x, &y).reverse(),
                _ => compare(k.field, &x, &y),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        a.seq.cmp(&b.seq)
    });
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::super::soql::parse;
    use super::*;

    fn rec(seq: u64, id: &str, modstamp_ms: i64, last: &str) -> SfRecord {
        SfRecord {
            seq,
            id: id.into(),
            created_ms: 0,
            modstamp_ms,
            fields: BTreeMap::from([("LastName", json!(last))]),
            deleted: false,
        }
    }

    #[test]
    fn compound_cursor_matches_later_times_and_later_ids_in_the_tie() {
        let t = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        let q = parse(
            "SELECT Id FROM Contact WHERE SystemModstamp > 2026-01-01T00:00:00Z OR \
             (SystemModstamp = 2026-01-01T00:00:00Z AND Id > '003000000000002AAA') \
             ORDER BY SystemModstamp, Id",
        )
        .unwrap();
        let c = q.filter.unwrap();
        assert!(!c.matches(&rec(1, "003000000000001AAA", t, "a")));
        assert!(!c.matches(&rec(2, "003000000000002AAA", t, "a")));
        assert!(c.matches(&rec(3, "003000000000003AAA", t, "a")));
        assert!(c.matches(&rec(4, "003000000000000AAA", t + 1000, "a")));
    }

    #[test]
    fn in_lists_match_case_insensitively_and_not_in_negates() {
        let q = parse("SELECT Id FROM Contact WHERE LastName IN ('SMITH', 'o\\'neil')").unwrap();
        let c = q.filter.unwrap();
        assert!(c.matches(&rec(1, "003A", 0, "smith")));
        assert!(c.matches(&rec(2, "003B", 0, "O'Neil")));
        assert!(!c.matches(&rec(3, "003C", 0, "jones")));
        let q = parse("SELECT Id FROM Contact WHERE LastName NOT IN ('smith')").unwrap();
        let c = q.filter.unwrap();
        assert!(!c.matches(&rec(1, "003A", 0, "Smith")));
        assert!(c.matches(&rec(2, "003B", 0, "jones")));
        let long = format!(
            "SELECT Id FROM Contact WHERE LastName = '{}'",
            "x".repeat(100_000)
        );
        assert_eq!(parse(&long).unwrap_err().code, "MALFORMED_QUERY");
        assert_eq!(
            parse("SELECT Id FROM Contact WHERE LastName IN 'a'")
                .unwrap_err()
                .code,
            "MALFORMED_QUERY"
        );
    }

    #[test]
    fn text_compares_case_insensitively_and_sorts_with_nulls_first() {
        let q = parse("SELECT Id FROM Contact WHERE LastName = 'SMITH'").unwrap();
        assert!(q
            .filter
            .unwrap()
            .matches(&rec(1, "003000000000001AAA", 0, "smith")));
        let q = parse("SELECT Id FROM Contact ORDER BY Email, LastName DESC").unwrap();
        let (a, b) = (rec(1, "003A", 0, "a"), rec(2, "003B", 0, "b"));
        let mut v = vec![&a, &b];
        sort(&mut v, &q.order);
        assert_eq!(v[0].id, "003B");
    }
}
