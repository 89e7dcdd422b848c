//! A subset of SOQL: `SELECT f, … FROM Object [WHERE …] [ORDER BY f [ASC|DESC] [NULLS
//! FIRST|LAST], …] [LIMIT n] [OFFSET n]`, where conditions compare a field with a literal
//! (`= != <> < <= > >=`) or a list (`IN (…)`, `NOT IN (…)`), combined with AND/OR/NOT and
//! parentheses; a statement is at most 100,000 characters. As in Salesforce, mixing
//! AND and OR without parentheses is a MALFORMED_QUERY, datetime literals are unquoted and text
//! literals single-quoted.

use std::collections::HashSet;

use chrono::DateTime;

use super::lex::{malformed, tokenize, Tok};
use super::schema::{to18, FieldSpec, FieldType, SObjectKind};
use super::store::SfError;

/// A parsed, schema-checked query.
#[derive(Debug)]
pub struct Soql {
    pub object: SObjectKind,
    pub fields: Vec<&'static FieldSpec>,
    pub filter: Option<Cond>,
    pub order: Vec<OrderKey>,
    pub limit: Option<usize>,
    pub offset: usize,
}

#[derive(Debug)]
pub struct OrderKey {
    pub field: &'static FieldSpec,
    pub desc: bool,
    pub nulls_first: bool,
}

#[derive(Debug)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Cmp(&'static FieldSpec, Op, Scalar),
    /// `field [NOT] IN (…)`: text keys (lowercased unless the field is an id) for the lookup.
    In(InList),
}

#[derive(Debug)]
pub struct InList {
    pub field: &'static FieldSpec,
    pub negated: bool,
    pub values: Vec<Scalar>,
    pub keys: HashSet<String>,
}

/// The longest SOQL statement Salesforce accepts.
pub const MAX_SOQL_LEN: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A comparable value: a literal, or a record's field.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Text(String),
    Number(f64),
    /// Epoch milliseconds.
    Time(i64),
    Bool(bool),
}

/// A datetime literal (`2026-01-01T00:00:00Z`, `…T00:00:00.000+0000`, `…+01:00`) in ms.
pub fn parse_datetime_literal(s: &str) -> Option<i64> {
    if !s.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|d| d.timestamp_millis())
}

struct Parser<'a> {
    toks: &'a [Tok],
    pos: usize,
    object: SObjectKind,
}

fn is_kw(t: Option<&Tok>, kw: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if is_kw(self.peek(), kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SfError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(malformed(format!(
                "expecting '{kw}', found '{}'",
                describe(self.peek())
            )))
        }
    }

    fn field(&mut self) -> Result<&'static FieldSpec, SfError> {
        match self.next() {
            Some(Tok::Word(w)) if self.peek() == Some(&Tok::Open) => {
                Err(malformed(format!("unsupported function: {w}()")))
            }
            Some(Tok::Word(w)) => field_of(self.object, &w),
            other => Err(malformed(format!(
                "unexpected token: '{}'",
                describe(other.as_ref())
            ))),
        }
    }

    /// cond := unary ((AND unary)* | (OR unary)*)
    fn cond(&mut self) -> Result<Cond, SfError> {
        let first = self.unary()?;
        let mut and = Vec::new();
        let mut or = Vec::new();
        loop {
            if self.eat_kw("AND") {
                and.push(self.unary()?);
            } else if self.eat_kw("OR") {
                or.push(self.unary()?);
            } else {
                break;
            }
            if !and.is_empty() && !or.is_empty() {
                return Err(malformed(
                    "unexpected token: mixing AND and OR needs parentheses",
                ));
            }
        }
        Ok(if !and.is_empty() {
            and.insert(0, first);
            Cond::And(and)
        } else if !or.is_empty() {
            or.insert(0, first);
            Cond::Or(or)
        } else {
            first
        })
    }

    fn unary(&mut self) -> Result<Cond, SfError> {
        if self.eat_kw("NOT") {
            return Ok(Cond::Not(Box::new(self.unary()?)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let c = self.cond()?;
            if self.next() != Some(Tok::Close) {
                return Err(malformed("expecting ')'"));
            }
            return Ok(c);
        }
        let field = self.field()?;
        let negated = is_kw(self.peek(), "NOT") && is_kw(self.toks.get(self.pos + 1), "IN");
        if negated {
            self.pos += 1;
        }
        if self.eat_kw("IN") {
            return self.in_list(field, negated);
        }
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            other => {
                return Err(malformed(format!(
                    "unexpected token: '{}'",
                    describe(other.as_ref())
                )))
            }
        };
        let value = literal(field, self.next(), op)?;
        Ok(Cond::Cmp(field, op, value))
    }
}

impl Parser<'_> {
    /// `( literal, … )` after `IN`.
    fn in_list(&mut self, field: &'static FieldSpec, negated: bool) -> Result<Cond, SfError> {
        if self.next() != Some(Tok::Open) {
            return Err(malformed("expecting '(' after IN"));
        }
        let mut values = Vec::new();
        loop {
            values.push(literal(field, self.next(), Op::Eq)?);
            match self.next() {
                Some(Tok::Comma) => continue,
                Some(Tok::Close) => break,
                other => {
                    return Err(malformed(format!(
                        "unexpected token: '{}'",
                        describe(other.as_ref())
                    )))
                }
            }
        }
        let case_sensitive = matches!(field.ty, FieldType::Id | FieldType::Reference(_));
        let keys = values
            .iter()
            .filter_map(|v| match v {
                Scalar::Text(t) if case_sensitive => Some(t.clone()),
                Scalar::Text(t) => Some(t.to_lowercase()),
                _ => None,
            })
            .collect();
        Ok(Cond::In(InList {
            field,
            negated,
            values,
            keys,
        }))
    }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "EOF".into(),
        Some(Tok::Word(w)) | Some(Tok::Lit(w)) => w.clone(),
        Some(Tok::Str(s)) => format!("'{s}'"),
        Some(Tok::Comma) => ",".into(),
        Some(Tok::Open) => "(".into(),
        Some(Tok::Close) => ")".into(),
        Some(Tok::Op(op)) => format!("{op:?}"),
    }
}

fn field_of(object: SObjectKind, name: &str) -> Result<&'static FieldSpec, SfError> {
    object.field(name).ok_or_else(|| {
        SfError::new(
            "INVALID_FIELD",
            format!(
                "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                object.name()
            ),
            &[],
        )
    })
}

/// The literal compared with `field`, typed as Salesforce types it.
fn literal(field: &FieldSpec, tok: Option<Tok>, op: Op) -> Result<Scalar, SfError> {
    let wrong = |kind: &str, quotes: bool| {
        SfError::new(
            "INVALID_FIELD",
            format!(
                "value of filter criterion for field '{}' must be of type {kind} and should {}be enclosed in quotes",
                field.name,
                if quotes { "" } else { "not " }
            ),
            &[],
        )
    };
    if is_kw(tok.as_ref(), "null") {
        if !matches!(op, Op::Eq | Op::Ne) {
            return Err(malformed("null can only be compared with = or !="));
        }
        return Ok(Scalar::Null);
    }
    match (field.ty, tok) {
        (FieldType::DateTime, Some(Tok::Lit(s))) => parse_datetime_literal(&s)
            .map(Scalar::Time)
            .ok_or_else(|| malformed(format!("line 1:0 no viable alternative at character '{s}'"))),
        (FieldType::DateTime, _) => Err(wrong("dateTime", false)),
        (FieldType::Date, Some(Tok::Lit(s)))
            if chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").is_ok() =>
        {
            Ok(Scalar::Text(s))
        }
        (FieldType::Date, _) => Err(wrong("date", false)),
        (FieldType::Number, Some(Tok::Lit(s))) => s
            .parse::<f64>()
            .map(Scalar::Number)
            .map_err(|_| wrong("number", false)),
        (FieldType::Number, _) => Err(wrong("number", false)),
        (FieldType::Boolean, Some(Tok::Word(w))) if w.eq_ignore_ascii_case("true") => {
            Ok(Scalar::Bool(true))
        }
        (FieldType::Boolean, Some(Tok::Word(w))) if w.eq_ignore_ascii_case("false") => {
            Ok(Scalar::Bool(false))
        }
        (FieldType::Boolean, _) => Err(wrong("boolean", false)),
        (FieldType::Id | FieldType::Reference(_), Some(Tok::Str(s))) => {
            if s.is_empty() {
                return Ok(Scalar::Text(s));
            }
            to18(&s).map(Scalar::Text).ok_or_else(|| {
                SfError::new(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    format!("invalid ID field: {s}"),
                    &[],
                )
            })
        }
        (_, Some(Tok::Str(s))) => Ok(Scalar::Text(s)),
        (_, _) => Err(wrong("string", true)),
    }
}

/// Parses and schema-checks a query.
pub fn parse(q: &str) -> Result<Soql, SfError> {
    if q.chars().count() > MAX_SOQL_LEN {
        return Err(malformed(format!(
            "SOQL statements cannot be longer than {MAX_SOQL_LEN} characters"
        )));
    }
    let toks = tokenize(q)?;
    let from = toks
        .iter()
        .position(|t| is_kw(Some(t), "FROM"))
        .ok_or_else(|| malformed("unexpected token: expecting 'FROM'"))?;
    let object = match toks.get(from + 1) {
        Some(Tok::Word(w)) => SObjectKind::parse(w)
            .filter(|k| k.name().eq_ignore_ascii_case(w))
            .ok_or_else(|| {
                SfError::new(
                    "INVALID_TYPE",
                    format!("sObject type '{w}' is not supported."),
                    &[],
                )
            })?,
        _ => return Err(malformed("unexpected token: expecting an object name")),
    };
    let mut p = Parser {
        toks: &toks,
        pos: 0,
        object,
    };
    p.expect_kw("SELECT")?;
    let mut fields: Vec<&'static FieldSpec> = Vec::new();
    loop {
        let f = p.field()?;
        if fields.iter().any(|x| x.name == f.name) {
            return Err(SfError::new(
                "MALFORMED_QUERY",
                format!("duplicate field selected: {}", f.name),
                &[],
            ));
        }
        fields.push(f);
        if p.peek() == Some(&Tok::Comma) {
            p.pos += 1;
        } else {
            break;
        }
    }
    p.expect_kw("FROM")?;
    p.pos += 1;
    let filter = if p.eat_kw("WHERE") {
        Some(p.cond()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.eat_kw("ORDER") {
        p.expect_kw("BY")?;
        loop {
            let field = p.field()?;
            let desc = if p.eat_kw("DESC") {
                true
            } else {
                p.eat_kw("ASC");
                false
            };
            let mut nulls_first = !desc;
            if p.eat_kw("NULLS") {
                nulls_first = if p.eat_kw("FIRST") {
                    true
                } else {
                    p.expect_kw("LAST")?;
                    false
                };
            }
            order.push(OrderKey {
                field,
                desc,
                nulls_first,
            });
            if p.peek() == Some(&Tok::Comma) {
                p.pos += 1;
            } else {
                break;
            }
        }
    }
    let number = |p: &mut Parser<'_>, kw: &str| -> Result<Option<usize>, SfError> {
        if !p.eat_kw(kw) {
            return Ok(None);
        }
        match p.next() {
            Some(Tok::Lit(s)) => s
                .parse()
                .map(Some)
                .map_err(|_| malformed(format!("{kw} must be a non-negative integer"))),
            other => Err(malformed(format!(
                "unexpected token: '{}'",
                describe(other.as_ref())
            ))),
        }
    };
    let limit = number(&mut p, "LIMIT")?;
    let offset = number(&mut p, "OFFSET")?.unwrap_or(0);
    if let Some(t) = p.peek() {
        return Err(malformed(format!(
            "unexpected token: '{}'",
            describe(Some(t))
        )));
    }
    Ok(Soql {
        object,
        fields,
        filter,
        order,
        limit,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_adapters_compound_cursor_query() {
        let q = parse(
            "SELECT Id, LastName, SystemModstamp FROM Contact WHERE SystemModstamp > 2026-01-01T00:00:00Z \
             OR (SystemModstamp = 2026-01-01T00:00:00.000+0000 AND Id > '003000000000001') \
             ORDER BY SystemModstamp, Id LIMIT 10",
        )
        .unwrap();
        assert_eq!(q.object, SObjectKind::Contact);
        assert_eq!(q.fields.len(), 3);
        assert!(matches!(q.filter, Some(Cond::Or(ref v)) if v.len() == 2));
        assert_eq!(q.order.len(), 2);
        assert_eq!(q.limit, Some(10));
    }

    #[test]
    fn refuses_what_salesforce_refuses() {
        let code = |q: &str| parse(q).unwrap_err().code;
        assert_eq!(
            code("SELECT Id FROM Contact WHERE LastName = 'a' AND Email = 'b' OR Phone = 'c'"),
            "MALFORMED_QUERY"
        );
        assert_eq!(code("SELECT Nope FROM Contact"), "INVALID_FIELD");
        assert_eq!(code("SELECT Id FROM Lead"), "INVALID_TYPE");
        assert_eq!(
            code("SELECT Id FROM Contact WHERE SystemModstamp > '2026-01-01T00:00:00Z'"),
            "INVALID_FIELD"
        );
        assert_eq!(
            code("SELECT Id FROM Contact GROUP BY Id"),
            "MALFORMED_QUERY"
        );
        assert_eq!(code("SELECT COUNT() FROM Contact"), "MALFORMED_QUERY");
    }
}
