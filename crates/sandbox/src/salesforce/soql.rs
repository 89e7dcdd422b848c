//! A subset of SOQL: `SELECT f, … FROM Object [WHERE …] [ORDER BY f [ASC|DESC] [NULLS
//! FIRST|LAST], …] [LIMIT n] [OFFSET n]`, where conditions compare a field with a literal
//! (`= != <> < <= > >=`), combined with AND/OR/NOT and parentheses. As in Salesforce, mixing
//! AND and OR without parentheses is a MALFORMED_QUERY, datetime literals are unquoted and text
//! literals single-quoted.

use std::cmp::Ordering;

use chrono::DateTime;

use super::schema::{to18, FieldSpec, FieldType, SObjectKind};
use super::store::{SfError, SfRecord};

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
}

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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Lit(String),
    Comma,
    Open,
    Close,
    Op(Op),
}

fn malformed(message: impl Into<String>) -> SfError {
    SfError::new("MALFORMED_QUERY", message, &[])
}

fn tokenize(q: &str) -> Result<Vec<Tok>, SfError> {
    let chars: Vec<char> = q.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                out.push(Tok::Close);
                i += 1
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(malformed("unterminated string literal")),
                        Some('\\') => {
                            let next = chars.get(i + 1).copied().unwrap_or('\\');
                            s.push(match next {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            '=' | '!' | '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('=', _) => (Op::Eq, 1),
                    ('!', Some('=')) => (Op::Ne, 2),
                    ('<', Some('>')) => (Op::Ne, 2),
                    ('<', Some('=')) => (Op::Le, 2),
                    ('>', Some('=')) => (Op::Ge, 2),
                    ('<', _) => (Op::Lt, 1),
                    ('>', _) => (Op::Gt, 1),
                    _ => return Err(malformed(format!("unexpected token: '{c}'"))),
                };
                out.push(Tok::Op(op));
                i += len;
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], ':' | '+' | '-' | '.'))
                {
                    i += 1;
                }
                out.push(Tok::Lit(chars[start..i].iter().collect()));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '_' | '.'))
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            other => return Err(malformed(format!("unexpected token: '{other}'"))),
        }
    }
    Ok(out)
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

/// A record's field as a comparable value.
pub fn scalar(rec: &SfRecord, field: &FieldSpec) -> Scalar {
    match field.name {
        "Id" => Scalar::Text(rec.id.clone()),
        "IsDeleted" => Scalar::Bool(false),
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
