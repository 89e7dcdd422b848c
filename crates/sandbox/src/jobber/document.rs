//! Turns a GraphQL request (parsed with apollo-parser) into resolved fields with JSON arguments.

use std::collections::HashMap;

use apollo_parser::cst;
use apollo_parser::Parser;
use serde_json::{json, Map, Value};

/// Query or mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
}

/// One selected field, with variables already substituted into its arguments.
#[derive(Debug, Clone, Default)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub args: Map<String, Value>,
    pub selection: Vec<Field>,
    pub has_selection_set: bool,
}

impl Field {
    /// The response key (alias or name).
    pub fn key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }

    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.get(name).filter(|v| !v.is_null())
    }
}

/// An executable operation.
#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OperationKind,
    pub fields: Vec<Field>,
}

/// A GraphQL error entry.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlError {
    pub message: String,
    pub code: Option<String>,
}

impl GraphqlError {
    pub fn new(message: impl Into<String>) -> Self {
        GraphqlError {
            message: message.into(),
            code: None,
        }
    }

    pub fn with_code(message: impl Into<String>, code: &str) -> Self {
        GraphqlError {
            message: message.into(),
            code: Some(code.to_owned()),
        }
    }

    pub fn to_json(&self) -> Value {
        match &self.code {
            Some(c) => json!({"message": self.message, "extensions": {"code": c}}),
            None => json!({"message": self.message}),
        }
    }
}

const MAX_FRAGMENT_DEPTH: usize = 16;

struct Ctx<'a> {
    variables: &'a Map<String, Value>,
    defaults: HashMap<String, Value>,
    fragments: HashMap<String, cst::FragmentDefinition>,
}

/// Parses `query` and picks the operation (by `operation_name` when several exist).
pub fn parse_operation(
    query: &str,
    variables: &Map<String, Value>,
    operation_name: Option<&str>,
) -> Result<Operation, Vec<GraphqlError>> {
    let tree = Parser::new(query)
        .recursion_limit(64)
        .token_limit(50_000)
        .parse();
    let errs: Vec<GraphqlError> = tree
        .errors()
        .map(|e| GraphqlError::with_code(format!("Parse error: {}", e.message()), "parseError"))
        .collect();
    if !errs.is_empty() {
        return Err(errs);
    }
    let doc = tree.document();
    let mut ops = Vec::new();
    let mut fragments = HashMap::new();
    for def in doc.definitions() {
        match def {
            cst::Definition::OperationDefinition(op) => ops.push(op),
            cst::Definition::FragmentDefinition(f) => {
                if let Some(name) = f
                    .fragment_name()
                    .and_then(|n| n.name())
                    .map(|n| n.text().to_string())
                {
                    fragments.insert(name, f);
                }
            }
            _ => {
                return Err(vec![GraphqlError::new(
                    "Only executable definitions are allowed in a request document",
                )])
            }
        }
    }
    let op = match operation_name {
        Some(name) => ops
            .into_iter()
            .find(|o| o.name().is_some_and(|n| n.text() == name))
            .ok_or_else(|| vec![GraphqlError::new(format!("No operation named \"{name}\""))])?,
        None => {
            if ops.len() > 1 {
                return Err(vec![GraphqlError::new(
                    "An operation name is required when sending multiple operations.",
                )]);
            }
            ops.into_iter()
                .next()
                .ok_or_else(|| vec![GraphqlError::new("No operations in query document")])?
        }
    };
    let kind = match op.operation_type() {
        None => OperationKind::Query,
        Some(t) if t.query_token().is_some() => OperationKind::Query,
        Some(t) if t.mutation_token().is_some() => OperationKind::Mutation,
        Some(_) => return Err(vec![GraphqlError::new("Subscriptions are not supported")]),
    };
    let mut defaults = HashMap::new();
    if let Some(defs) = op.variable_definitions() {
        for d in defs.variable_definitions() {
            let name = d
                .variable()
                .and_then(|v| v.name())
                .map(|n| n.text().to_string());
            let default = d.default_value().and_then(|dv| dv.value());
            if let (Some(name), Some(v)) = (name, default) {
                let empty = Map::new();
                let ctx = Ctx {
                    variables: &empty,
                    defaults: HashMap::new(),
                    fragments: HashMap::new(),
                };
                defaults.insert(name, value_to_json(&ctx, v));
            }
        }
    }
    let ctx = Ctx {
        variables,
        defaults,
        fragments,
    };
    let fields = match op.selection_set() {
        Some(s) => selection(&ctx, s, 0).map_err(|e| vec![e])?,
        None => Vec::new(),
    };
    Ok(Operation { kind, fields })
}

fn selection(
    ctx: &Ctx<'_>,
    set: cst::SelectionSet,
    depth: usize,
) -> Result<Vec<Field>, GraphqlError> {
    if depth > MAX_FRAGMENT_DEPTH {
        return Err(GraphqlError::new(
            "Fragments are nested too deeply (or form a cycle)",
        ));
    }
    let mut out = Vec::new();
    for sel in set.selections() {
        match sel {
            cst::Selection::Field(f) => {
                let name = f
                    .name()
                    .map(|n| n.text().to_string())
                    .ok_or_else(|| GraphqlError::new("Field without a name"))?;
                let alias = f
                    .alias()
                    .and_then(|a| a.name())
                    .map(|n| n.text().to_string());
                let mut args = Map::new();
                if let Some(a) = f.arguments() {
                    for arg in a.arguments() {
                        if let (Some(n), Some(v)) = (arg.name(), arg.value()) {
                            args.insert(n.text().to_string(), value_to_json(ctx, v));
                        }
                    }
                }
                let (selection_fields, has_set) = match f.selection_set() {
                    Some(s) => (selection(ctx, s, depth)?, true),
                    None => (Vec::new(), false),
                };
                out.push(Field {
                    alias,
                    name,
                    args,
                    selection: selection_fields,
                    has_selection_set: has_set,
                });
            }
            cst::Selection::InlineFragment(f) => {
                if let Some(s) = f.selection_set() {
                    out.extend(selection(ctx, s, depth + 1)?);
                }
            }
            cst::Selection::FragmentSpread(s) => {
                let name = s
                    .fragment_name()
                    .and_then(|n| n.name())
                    .map(|n| n.text().to_string())
                    .unwrap_or_default();
                let frag = ctx.fragments.get(&name).ok_or_else(|| {
                    GraphqlError::new(format!("Fragment {name} was used, but not defined"))
                })?;
                if let Some(set) = frag.selection_set() {
                    out.extend(selection(ctx, set, depth + 1)?);
                }
            }
        }
    }
    Ok(out)
}

fn value_to_json(ctx: &Ctx<'_>, v: cst::Value) -> Value {
    match v {
        cst::Value::Variable(var) => {
            let name = var.name().map(|n| n.text().to_string()).unwrap_or_default();
            ctx.variables
                .get(&name)
                .or_else(|| ctx.defaults.get(&name))
                .cloned()
                .unwrap_or(Value::Null)
        }
        cst::Value::StringValue(s) => Value::String(String::from(&s)),
        cst::Value::IntValue(i) => match i32::try_from(&i) {
            Ok(n) => json!(n),
            Err(_) => f64::try_from(&i).map_or(Value::Null, |f| json!(f)),
        },
        cst::Value::FloatValue(f) => f64::try_from(&f).map_or(Value::Null, |f| json!(f)),
        cst::Value::BooleanValue(b) => bool::try_from(&b).map_or(Value::Null, Value::Bool),
        cst::Value::NullValue(_) => Value::Null,
        cst::Value::EnumValue(e) => e
            .name()
            .map_or(Value::Null, |n| Value::String(n.text().to_string())),
        cst::Value::ListValue(l) => {
            Value::Array(l.values().map(|v| value_to_json(ctx, v)).collect())
        }
        cst::Value::ObjectValue(o) => Value::Object(
            o.object_fields()
                .filter_map(|f| {
                    let name = f.name()?.text().to_string();
                    Some((
                        name,
                        f.value().map_or(Value::Null, |v| value_to_json(ctx, v)),
                    ))
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_variables_aliases_and_fragments() {
        let vars = json!({"n": 5, "f": {"updatedAt": {"after": "2024-01-01T00:00:00Z"}}});
        let op = parse_operation(
            r#"query Q($n: Int, $f: ClientFilterAttributes) {
                 list: clients(first: $n, filter: $f) { nodes { ...C } totalCount }
               }
               fragment C on Client { id firstName }"#,
            vars.as_object().unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(op.kind, OperationKind::Query);
        let f = &op.fields[0];
        assert_eq!(f.key(), "list");
        assert_eq!(f.name, "clients");
        assert_eq!(f.arg("first"), Some(&json!(5)));
        assert_eq!(
            f.arg("filter").unwrap()["updatedAt"]["after"],
            "2024-01-01T00:00:00Z"
        );
        let nodes: Vec<&str> = f.selection[0]
            .selection
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(nodes, vec!["id", "firstName"]);
    }

    #[test]
    fn reports_syntax_errors() {
        assert!(parse_operation("{ clients( }", &Map::new(), None).is_err());
    }
}
