//! Renders Jobber objects for a selection set: only the asked fields, aliases and `__typename`.

use serde_json::{Map, Value};

use super::document::{Field, GraphqlError};
use super::input::UserError;
use super::store::{encode_id, ClientRecord, JobberAddress, JobberEmail, JobberPhone};
use crate::clock::iso_seconds;

/// Builds an object from `fields`, resolving each with `resolve`.
pub fn object(
    fields: &[Field],
    typename: &str,
    mut resolve: impl FnMut(&Field) -> Result<Value, GraphqlError>,
) -> Result<Value, GraphqlError> {
    let mut map = Map::with_capacity(fields.len());
    for f in fields {
        let v = if f.name == "__typename" {
            Value::String(typename.to_owned())
        } else {
            resolve(f)?
        };
        map.insert(f.key().to_owned(), v);
    }
    Ok(Value::Object(map))
}

/// graphql-ruby's message for a field the type does not have.
pub fn undefined_field(typename: &str, f: &Field) -> GraphqlError {
    GraphqlError::with_code(
        format!("Field '{}' doesn't exist on type '{typename}'", f.name),
        "undefinedField",
    )
}

/// A scalar field: selections on it are an error.
pub fn leaf(f: &Field, v: Value) -> Result<Value, GraphqlError> {
    if f.has_selection_set {
        return Err(GraphqlError::with_code(
            format!("Selections can't be made on scalars (field '{}')", f.name),
            "selectionMismatch",
        ));
    }
    Ok(v)
}

/// An object field: it needs a selection set.
pub fn needs_selection(f: &Field, type_name: &str) -> Result<(), GraphqlError> {
    if f.selection.is_empty() {
        return Err(GraphqlError::with_code(
            format!(
                "Field must have selections (field '{}' returns {type_name} but has no selections. Did you mean '{} {{ ... }}'?)",
                f.name, f.name
            ),
            "selectionMismatch",
        ));
    }
    Ok(())
}

/// Renders a list; an empty list still validates the selection (as a schema would).
fn list<T: Default>(
    f: &Field,
    type_name: &str,
    items: &[T],
    render: impl Fn(&T, &[Field]) -> Result<Value, GraphqlError>,
) -> Result<Value, GraphqlError> {
    needs_selection(f, type_name)?;
    if items.is_empty() {
        render(&T::default(), &f.selection)?;
    }
    items
        .iter()
        .map(|i| render(i, &f.selection))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

pub fn client(c: &ClientRecord, fields: &[Field]) -> Result<Value, GraphqlError> {
    object(fields, "Client", |f| match f.name.as_str() {
        "id" => leaf(f, encode_id("Client", c.id).into()),
        "firstName" => leaf(f, c.first_name.clone().into()),
        "lastName" => leaf(f, c.last_name.clone().into()),
        "companyName" => leaf(f, c.company_name.clone().into()),
        "isCompany" => leaf(f, c.is_company.into()),
        "name" => leaf(f, c.name().into()),
        "title" => leaf(f, c.title.clone().into()),
        "secondaryName" => leaf(f, Value::Null),
        "isArchived" => leaf(f, c.is_archived.into()),
        "isArchivable" => leaf(f, true.into()),
        "isLead" => leaf(f, false.into()),
        "balance" => leaf(f, 0.0.into()),
        "createdAt" => leaf(f, iso_seconds(c.created_ms).into()),
        "updatedAt" => leaf(f, iso_seconds(c.updated_ms).into()),
        "jobberWebUri" => leaf(
            f,
            format!("https://secure.getjobber.com/clients/{}", c.id).into(),
        ),
        "defaultEmails" => leaf(
            f,
            c.emails
                .iter()
                .filter(|e| e.primary)
                .map(|e| Value::String(e.address.clone()))
                .collect(),
        ),
        "emails" => list(f, "Email", &c.emails, email),
        "phones" => list(f, "ClientPhoneNumber", &c.phones, phone),
        "billingAddress" => {
            needs_selection(f, "ClientAddress")?;
            match &c.billing_address {
                Some(a) => address(a, &f.selection),
                None => address(&JobberAddress::default(), &f.selection).map(|_| Value::Null),
            }
        }
        _ => Err(undefined_field("Client", f)),
    })
}

fn email(e: &JobberEmail, fields: &[Field]) -> Result<Value, GraphqlError> {
    object(fields, "Email", |f| match f.name.as_str() {
        "id" => leaf(f, encode_id("Email", e.id).into()),
        "address" => leaf(f, e.address.clone().into()),
        "description" => leaf(f, e.description.clone().into()),
        "primary" => leaf(f, e.primary.into()),
        _ => Err(undefined_field("Email", f)),
    })
}

fn phone(p: &JobberPhone, fields: &[Field]) -> Result<Value, GraphqlError> {
    object(fields, "ClientPhoneNumber", |f| match f.name.as_str() {
        "id" => leaf(f, encode_id("PhoneNumber", p.id).into()),
        "number" | "friendly" => leaf(f, p.number.clone().into()),
        "normalizedPhoneNumber" => leaf(
            f,
            p.number
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect::<String>()
                .into(),
        ),
        "description" => leaf(f, p.description.clone().into()),
        "primary" => leaf(f, p.primary.into()),
        "smsAllowed" => leaf(f, p.sms_allowed.into()),
        _ => Err(undefined_field("ClientPhoneNumber", f)),
    })
}

fn address(a: &JobberAddress, fields: &[Field]) -> Result<Value, GraphqlError> {
    object(fields, "ClientAddress", |f| match f.name.as_str() {
        "street1" => leaf(f, a.street1.clone().into()),
        "street2" => leaf(f, a.street2.clone().into()),
        "street" => leaf(
            f,
            format!("{} {}", a.street1, a.street2)
                .trim()
                .to_owned()
                .into(),
        ),
        "city" => leaf(f, a.city.clone().into()),
        "province" => leaf(f, a.province.clone().into()),
        "postalCode" => leaf(f, a.postal_code.clone().into()),
        "country" => leaf(f, a.country.clone().into()),
        "latitude" | "longitude" => leaf(f, "".into()),
        _ => Err(undefined_field("ClientAddress", f)),
    })
}

/// `ClientCreatePayload` / `ClientEditPayload`.
pub fn client_payload(
    typename: &str,
    c: Option<&ClientRecord>,
    errors: &[UserError],
    fields: &[Field],
) -> Result<Value, GraphqlError> {
    object(fields, typename, |f| match f.name.as_str() {
        "client" => {
            needs_selection(f, "Client")?;
            match c {
                Some(c) => client(c, &f.selection),
                None => client(&ClientRecord::default(), &f.selection).map(|_| Value::Null),
            }
        }
        "userErrors" => list(f, "MutationErrors", errors, |e, sel| {
            object(sel, "MutationErrors", |g| match g.name.as_str() {
                "message" => leaf(g, e.message.clone().into()),
                "path" => leaf(g, e.path.clone().into()),
                _ => Err(undefined_field("MutationErrors", g)),
            })
        }),
        _ => Err(undefined_field(typename, f)),
    })
}
