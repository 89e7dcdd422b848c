//! The sObjects the Salesforce sandbox serves (Contact, Account, Opportunity), their fields, and
//! Salesforce's 15/18-character record ids.

/// The REST API version the sandbox serves (`/services/data/v60.0`).
pub const API_VERSION: &str = "v60.0";

/// The sObject types the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SObjectKind {
    Contact,
    Account,
    Opportunity,
}

/// How a field is typed, validated and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// The record id (read-only).
    Id,
    Text,
    Email,
    Phone,
    Url,
    /// A lookup to a record with this key prefix (`001` Account).
    Reference(&'static str),
    Number,
    /// `YYYY-MM-DD`
    Date,
    /// Read-only audit timestamps (CreatedDate, SystemModstamp, ...).
    DateTime,
    /// Read-only flag (IsDeleted).
    Boolean,
}

/// One field of an sObject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub ty: FieldType,
    /// Required on create (and may not be cleared).
    pub required: bool,
    /// Most characters a text value may have (0: no limit checked).
    pub max_len: usize,
}

const fn f(name: &'static str, ty: FieldType, max_len: usize) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: false,
        max_len,
    }
}

const fn req(name: &'static str, ty: FieldType, max_len: usize) -> FieldSpec {
    FieldSpec {
        name,
        ty,
        required: true,
        max_len,
    }
}

use FieldType::*;

const AUDIT: [FieldSpec; 5] = [
    f("Id", Id, 18),
    f("IsDeleted", Boolean, 0),
    f("CreatedDate", DateTime, 0),
    f("LastModifiedDate", DateTime, 0),
    f("SystemModstamp", DateTime, 0),
];

const CONTACT: &[FieldSpec] = &[
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    AUDIT[4],
    f("FirstName", Text, 40),
    req("LastName", Text, 80),
    f("Salutation", Text, 40),
    f("Title", Text, 128),
    f("Email", Email, 80),
    f("Phone", Phone, 40),
    f("MobilePhone", Phone, 40),
    f("AccountId", Reference("001"), 18),
    f("MailingStreet", Text, 255),
    f("MailingCity", Text, 40),
    f("MailingState", Text, 80),
    f("MailingPostalCode", Text, 20),
    f("MailingCountry", Text, 80),
    f("Description", Text, 32_000),
    f("LeadSource", Text, 255),
    // A custom field, as orgs add them (`__c`): outside every adapter default.
    f("Loyalty_Tier__c", Text, 255),
];

const ACCOUNT: &[FieldSpec] = &[
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    AUDIT[4],
    req("Name", Text, 255),
    f("Phone", Phone, 40),
    f("Website", Url, 255),
    f("Industry", Text, 255),
    f("Type", Text, 255),
    f("NumberOfEmployees", Number, 0),
    f("AnnualRevenue", Number, 0),
    f("BillingStreet", Text, 255),
    f("BillingCity", Text, 40),
    f("BillingState", Text, 80),
    f("BillingPostalCode", Text, 20),
    f("BillingCountry", Text, 80),
    f("Description", Text, 32_000),
];

const OPPORTUNITY: &[FieldSpec] = &[
    AUDIT[0],
    AUDIT[1],
    AUDIT[2],
    AUDIT[3],
    AUDIT[4],
    req("Name", Text, 120),
    req("StageName", Text, 255),
    req("CloseDate", Date, 0),
    f("Amount", Number, 0),
    f("Probability", Number, 0),
    f("AccountId", Reference("001"), 18),
    f("Type", Text, 255),
    f("LeadSource", Text, 255),
    f("NextStep", Text, 255),
    f("Description", Text, 32_000),
];

impl SObjectKind {
    pub const ALL: [SObjectKind; 3] = [Self::Contact, Self::Account, Self::Opportunity];

    /// `Contact`, case-insensitively, also as the plural (`contacts`, `opportunities`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "contact" | "contacts" => Some(Self::Contact),
            "account" | "accounts" => Some(Self::Account),
            "opportunity" | "opportunities" => Some(Self::Opportunity),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// The API name (`Contact`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Contact => "Contact",
            Self::Account => "Account",
            Self::Opportunity => "Opportunity",
        }
    }

    /// The first three characters of every id of this type.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Self::Contact => "003",
            Self::Account => "001",
            Self::Opportunity => "006",
        }
    }

    pub fn fields(self) -> &'static [FieldSpec] {
        match self {
            Self::Contact => CONTACT,
            Self::Account => ACCOUNT,
            Self::Opportunity => OPPORTUNITY,
        }
    }

    /// The field named `name`, case-insensitively (as Salesforce matches field names).
    pub fn field(self, name: &str) -> Option<&'static FieldSpec> {
        self.fields()
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The 18-character id of the `seq`-th record with `prefix`: prefix, pod `5g`, `0`, nine
/// base-62 digits (so ids of one type sort in creation order), then the case checksum.
pub fn make_id(prefix: &str, seq: u64) -> String {
    let mut digits = [b'0'; 9];
    let mut n = seq;
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut id = format!("{prefix}5g0{}", String::from_utf8_lossy(&digits));
    id.push_str(&checksum(&id));
    id
}

/// The three-character suffix that makes a 15-character id case-insensitively unique.
fn checksum(id15: &str) -> String {
    id15.as_bytes()
        .chunks(5)
        .take(3)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            CHECKSUM[bits] as char
        })
        .collect()
}

/// The 18-character form of a 15- or 18-character id; `None` when it is not id-shaped.
pub fn to18(id: &str) -> Option<String> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        18 => Some(id.to_owned()),
        15 => Some(format!("{id}{}", checksum(id))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_18_chars_ordered_and_checksummed() {
        let a = make_id("003", 1);
        let b = make_id("003", 62);
        assert_eq!(a.len(), 18);
        assert!(a.starts_with("003"));
        assert!(a < b);
        assert_eq!(to18(&a[..15]).as_deref(), Some(a.as_str()));
        // A known real id pair: 001A0000006Vm9r -> 001A0000006Vm9rIAC.
        assert_eq!(
            to18("001A0000006Vm9r").as_deref(),
            Some("001A0000006Vm9rIAC")
        );
        assert_eq!(to18("bad id"), None);
    }

    #[test]
    fn object_names_parse_in_any_case() {
        assert_eq!(SObjectKind::parse("contacts"), Some(SObjectKind::Contact));
        assert_eq!(
            SObjectKind::parse("Opportunity"),
            Some(SObjectKind::Opportunity)
        );
        assert_eq!(SObjectKind::parse("Lead"), None);
        assert_eq!(
            SObjectKind::Contact.field("email").map(|f| f.name),
            Some("Email")
        );
    }
}
