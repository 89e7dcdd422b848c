//! Applies `ClientCreateInput` / `ClientEditInput` JSON to stored clients, collecting userErrors.

use serde_json::Value;

use super::store::{
    decode_id, ClientRecord, JobberAddress, JobberClientStore, JobberEmail, JobberPhone,
};

/// A `MutationErrors` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserError {
    pub message: String,
    pub path: Vec<String>,
}

impl UserError {
    fn new(message: impl Into<String>, path: &[&str]) -> Self {
        UserError {
            message: message.into(),
            path: path.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

const EMAIL_DESCRIPTIONS: [&str; 4] = ["MAIN", "WORK", "PERSONAL", "OTHER"];
const PHONE_DESCRIPTIONS: [&str; 6] = ["MAIN", "WORK", "MOBILE", "HOME", "FAX", "OTHER"];

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn description(
    v: &Value,
    allowed: &[&str],
    path: &[&str],
    errors: &mut Vec<UserError>,
) -> Option<String> {
    let d = str_field(v, "description")?;
    if allowed.contains(&d.as_str()) {
        Some(d)
    } else {
        errors.push(UserError::new(
            format!("Description {d} is not valid"),
            path,
        ));
        None
    }
}

fn list<'a>(input: &'a Value, key: &str) -> &'a [Value] {
    input
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn new_email(
    store: &mut JobberClientStore,
    v: &Value,
    errors: &mut Vec<UserError>,
    path: &[&str],
) -> Option<JobberEmail> {
    let address = str_field(v, "address").unwrap_or_default();
    if !address.contains('@') {
        errors.push(UserError::new(
            format!("Email {address} is not a valid email address"),
            path,
        ));
        return None;
    }
    Some(JobberEmail {
        id: store.next_sub_id(),
        address,
        description: description(v, &EMAIL_DESCRIPTIONS, path, errors)
            .unwrap_or_else(|| "MAIN".into()),
        primary: v.get("primary").and_then(Value::as_bool).unwrap_or(false),
    })
}

fn new_phone(
    store: &mut JobberClientStore,
    v: &Value,
    errors: &mut Vec<UserError>,
    path: &[&str],
) -> Option<JobberPhone> {
    let number = str_field(v, "number").unwrap_or_default();
    if number.trim().is_empty() {
        errors.push(UserError::new("Phone number can't be blank", path));
        return None;
    }
    Some(JobberPhone {
        id: store.next_sub_id(),
        number,
        description: description(v, &PHONE_DESCRIPTIONS, path, errors)
            .unwrap_or_else(|| "MAIN".into()),
        primary: v.get("primary").and_then(Value::as_bool).unwrap_or(false),
        sms_allowed: v
            .get("smsAllowed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

fn apply_address(target: &mut Option<JobberAddress>, v: &Value) {
    if !v.is_object() {
        return;
    }
    let a = target.get_or_insert_with(JobberAddress::default);
    let set = |field: &mut String, key: &str| {
        if let Some(s) = v.get(key).and_then(Value::as_str) {
            *field = s.to_owned();
        }
    };
    set(&mut a.street1, "street1");
    set(&mut a.street2, "street2");
    set(&mut a.city, "city");
    set(&mut a.province, "province");
    set(&mut a.postal_code, "postalCode");
    set(&mut a.country, "country");
}

fn apply_names(c: &mut ClientRecord, input: &Value) {
    if let Some(s) = str_field(input, "firstName") {
        c.first_name = s;
    }
    if let Some(s) = str_field(input, "lastName") {
        c.last_name = s;
    }
    if let Some(s) = str_field(input, "title") {
        c.title = Some(s);
    }
    if let Some(v) = input.get("companyName") {
        c.company_name = v.as_str().map(str::to_owned).filter(|s| !s.is_empty());
    }
    if let Some(b) = input.get("isCompany").and_then(Value::as_bool) {
        c.is_company = b;
    } else if input.get("companyName").is_some()
        && c.first_name.is_empty()
        && c.last_name.is_empty()
    {
        c.is_company = c.company_name.is_some();
    }
}

fn ensure_primary<T>(items: &mut [T], primary: impl Fn(&mut T) -> &mut bool) {
    let first_primary = items.iter_mut().position(|i| *primary(i));
    match first_primary {
        None => {
            if let Some(first) = items.first_mut() {
                *primary(first) = true;
            }
        }
        Some(p) => {
            for (i, item) in items.iter_mut().enumerate() {
                if i != p {
                    *primary(item) = false;
                }
            }
        }
    }
}

fn check_name(c: &ClientRecord) -> Result<(), Vec<UserError>> {
    let has_company = c
        .company_name
        .as_deref()
        .is_some_and(|s| !s.trim().is_empty());
    if c.first_name.trim().is_empty() && c.last_name.trim().is_empty() && !has_company {
        return Err(vec![UserError::new(
            "A client requires a first name, last name or company name",
            &["input"],
        )]);
    }
    Ok(())
}

/// Builds a client from `ClientCreateInput` (not stored).
pub fn client_from_create(
    store: &mut JobberClientStore,
    input: &Value,
) -> Result<ClientRecord, Vec<UserError>> {
    let mut c = ClientRecord::default();
    let mut errors = Vec::new();
    apply_names(&mut c, input);
    for e in list(input, "emails") {
        if let Some(e) = new_email(store, e, &mut errors, &["input", "emails"]) {
            c.emails.push(e);
        }
    }
    for p in list(input, "phones") {
        if let Some(p) = new_phone(store, p, &mut errors, &["input", "phones"]) {
            c.phones.push(p);
        }
    }
    ensure_primary(&mut c.emails, |e| &mut e.primary);
    ensure_primary(&mut c.phones, |p| &mut p.primary);
    if let Some(a) = input.get("billingAddress") {
        apply_address(&mut c.billing_address, a);
    }
    check_name(&c)?;
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

/// Applies `ClientEditInput` to a copy of `current`.
pub fn client_from_edit(
    store: &mut JobberClientStore,
    current: &ClientRecord,
    input: &Value,
) -> Result<ClientRecord, Vec<UserError>> {
    let mut c = current.clone();
    let mut errors = Vec::new();
    apply_names(&mut c, input);
    for id in list(input, "emailsToDelete")
        .iter()
        .filter_map(Value::as_str)
    {
        match decode_id("Email", id) {
            Some(n) if c.emails.iter().any(|e| e.id == n) => c.emails.retain(|e| e.id != n),
            _ => errors.push(UserError::new(
                format!("Email {id} not found"),
                &["input", "emailsToDelete"],
            )),
        }
    }
    for v in list(input, "emailsToEdit") {
        let path = ["input", "emailsToEdit"];
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| decode_id("Email", s));
        let desc = description(v, &EMAIL_DESCRIPTIONS, &path, &mut errors);
        match id.and_then(|n| c.emails.iter_mut().find(|e| e.id == n)) {
            Some(e) => {
                if let Some(a) = str_field(v, "address") {
                    e.address = a;
                }
                if let Some(d) = desc {
                    e.description = d;
                }
                if let Some(p) = v.get("primary").and_then(Value::as_bool) {
                    e.primary = p;
                }
            }
            None => errors.push(UserError::new("Email not found", &path)),
        }
    }
    for v in list(input, "emailsToAdd") {
        if let Some(e) = new_email(store, v, &mut errors, &["input", "emailsToAdd"]) {
            c.emails.push(e);
        }
    }
    for id in list(input, "phonesToDelete")
        .iter()
        .filter_map(Value::as_str)
    {
        match decode_id("PhoneNumber", id) {
            Some(n) if c.phones.iter().any(|p| p.id == n) => c.phones.retain(|p| p.id != n),
            _ => errors.push(UserError::new(
                format!("Phone number {id} not found"),
                &["input", "phonesToDelete"],
            )),
        }
    }
    for v in list(input, "phonesToEdit") {
        let path = ["input", "phonesToEdit"];
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| decode_id("PhoneNumber", s));
        let desc = description(v, &PHONE_DESCRIPTIONS, &path, &mut errors);
        match id.and_then(|n| c.phones.iter_mut().find(|p| p.id == n)) {
            Some(p) => {
                if let Some(n) = str_field(v, "number") {
                    p.number = n;
                }
                if let Some(d) = desc {
                    p.description = d;
                }
                if let Some(b) = v.get("primary").and_then(Value::as_bool) {
                    p.primary = b;
                }
                if let Some(b) = v.get("smsAllowed").and_then(Value::as_bool) {
                    p.sms_allowed = b;
                }
            }
            None => errors.push(UserError::new("Phone number not found", &path)),
        }
    }
    for v in list(input, "phonesToAdd") {
        if let Some(p) = new_phone(store, v, &mut errors, &["input", "phonesToAdd"]) {
            c.phones.push(p);
        }
    }
    // Control-plane convenience: full replacement lists.
    if input.get("emails").is_some() {
        c.emails.clear();
        for v in list(input, "emails") {
            if let Some(e) = new_email(store, v, &mut errors, &["input", "emails"]) {
                c.emails.push(e);
            }
        }
    }
    if input.get("phones").is_some() {
        c.phones.clear();
        for v in list(input, "phones") {
            if let Some(p) = new_phone(store, v, &mut errors, &["input", "phones"]) {
                c.phones.push(p);
            }
        }
    }
    ensure_primary(&mut c.emails, |e| &mut e.primary);
    ensure_primary(&mut c.phones, |p| &mut p.primary);
    if let Some(a) = input.get("billingAddress") {
        apply_address(&mut c.billing_address, a);
    }
    check_name(&c)?;
    if errors.is_empty() {
        Ok(c)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_requires_a_name_and_edit_adds_and_deletes_emails() {
        let mut s = JobberClientStore::default();
        assert!(client_from_create(&mut s, &json!({"emails": [{"address": "a@b.c"}]})).is_err());
        let c = client_from_create(
            &mut s,
            &json!({"firstName": "Ann", "emails": [{"address": "a@b.c", "description": "WORK"}]}),
        )
        .unwrap();
        assert!(c.emails[0].primary);
        let del = super::super::store::encode_id("Email", c.emails[0].id);
        let edited = client_from_edit(
            &mut s,
            &c,
            &json!({"emailsToDelete": [del], "emailsToAdd": [{"address": "n@b.c"}], "lastName": "Lee"}),
        )
        .unwrap();
        assert_eq!(edited.emails.len(), 1);
        assert_eq!(edited.emails[0].address, "n@b.c");
        assert_eq!(edited.last_name, "Lee");
    }
}
