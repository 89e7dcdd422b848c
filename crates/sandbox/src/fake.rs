//! Deterministic fake people, companies and deals for seeding.

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FIRST: [&str; 32] = [
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo", "Amelia",
    "Levi", "Harper", "Ezra", "Evelyn", "Asher", "Aria", "Leo", "Luna", "James", "Chloe", "Hudson",
    "Layla", "Ethan", "Nora", "Kai", "Zoe", "Owen", "Priya", "Hiro", "Fatima", "Diego",
];
const LAST: [&str; 32] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Lewis",
    "Robinson",
    "Walker",
    "Nakamura",
    "Okafor",
];
const COMPANY_A: [&str; 16] = [
    "Acme",
    "Blue Ridge",
    "Cedar",
    "Summit",
    "Harbor",
    "Granite",
    "Evergreen",
    "Lakeside",
    "Pioneer",
    "Redwood",
    "Silverline",
    "Northwind",
    "Brightway",
    "Oakmont",
    "Riverbend",
    "Keystone",
];
const COMPANY_B: [&str; 8] = [
    "Landscaping",
    "Plumbing",
    "HVAC",
    "Cleaning",
    "Roofing",
    "Electric",
    "Pool Service",
    "Painting",
];
const STREETS: [&str; 16] = [
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Pine St",
    "Elm St",
    "Washington Blvd",
    "Park Ave",
    "Lake Rd",
    "Hill St",
    "Sunset Blvd",
    "River Rd",
    "Church St",
    "Highland Ave",
    "Forest Dr",
    "Mill Rd",
];
/// (city, state/province, zip prefix, area code)
const CITIES: [(&str, &str, &str, &str); 12] = [
    ("Boston", "MA", "021", "617"),
    ("Austin", "TX", "787", "512"),
    ("Denver", "CO", "802", "303"),
    ("Seattle", "WA", "981", "206"),
    ("Chicago", "IL", "606", "312"),
    ("Miami", "FL", "331", "305"),
    ("Phoenix", "AZ", "850", "602"),
    ("Portland", "OR", "972", "503"),
    ("Atlanta", "GA", "303", "404"),
    ("Nashville", "TN", "372", "615"),
    ("San Diego", "CA", "921", "619"),
    ("Newark", "NJ", "071", "201"),
];
const DOMAINS: [&str; 4] = [
    "example.com",
    "example.org",
    "example.net",
    "mail.example.com",
];
const DEAL_STAGES: [&str; 6] = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "closedwon",
    "closedlost",
];

/// One fake person with an address, stable for a (seed, index) pair.
#[derive(Debug, Clone)]
pub struct FakePerson {
    pub first: String,
    pub last: String,
    pub email: String,
    pub phone_digits: (String, String, String),
    pub company: String,
    pub street: String,
    pub city: String,
    pub state: String,
    pub zip: String,
}

impl FakePerson {
    /// `(617) 555-0142`
    pub fn phone_us(&self) -> String {
        let (a, b, c) = &self.phone_digits;
        format!("({a}) {b}-{c}")
    }

    /// `617-555-0142`
    pub fn phone_dashed(&self) -> String {
        let (a, b, c) = &self.phone_digits;
        format!("{a}-{b}-{c}")
    }
}

/// A seeded generator; `index` makes emails unique across calls.
pub struct FakeData {
    rng: StdRng,
}

impl FakeData {
    pub fn new(seed: u64) -> Self {
        FakeData {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.gen_range(0..items.len())]
    }

    pub fn person(&mut self, index: u64) -> FakePerson {
        let first = self.pick(&FIRST);
        let last = self.pick(&LAST);
        let domain = self.pick(&DOMAINS);
        let (city, state, zip, area) = CITIES[self.rng.gen_range(0..CITIES.len())];
        let company = format!("{} {}", self.pick(&COMPANY_A), self.pick(&COMPANY_B));
        let street = format!("{} {}", self.rng.gen_range(1..9999), self.pick(&STREETS));
        FakePerson {
            email: format!(
                "{}.{}.{index}@{domain}",
                first.to_lowercase(),
                last.to_lowercase()
            ),
            first: first.to_owned(),
            last: last.to_owned(),
            phone_digits: (
                area.to_owned(),
                "555".to_owned(),
                format!("01{:02}", self.rng.gen_range(0..100)),
            ),
            company,
            street,
            city: city.to_owned(),
            state: state.to_owned(),
            zip: format!("{zip}{:02}", self.rng.gen_range(0..100)),
        }
    }

    /// HubSpot contact properties.
    pub fn contact(&mut self, index: u64) -> HashMap<String, String> {
        let p = self.person(index);
        HashMap::from([
            ("firstname".into(), p.first.clone()),
            ("lastname".into(), p.last.clone()),
            ("email".into(), p.email.clone()),
            ("phone".into(), p.phone_us()),
            ("company".into(), p.company.clone()),
            ("address".into(), p.street.clone()),
            ("city".into(), p.city.clone()),
            ("state".into(), p.state.clone()),
            ("zip".into(), p.zip.clone()),
        ])
    }

    /// HubSpot company properties.
    pub fn company(&mut self, index: u64) -> HashMap<String, String> {
        let p = self.person(index);
        let domain = format!(
            "{}-{index}.example.com",
            p.company.to_lowercase().replace(' ', "-")
        );
        HashMap::from([
            ("name".into(), p.company.clone()),
            ("domain".into(), domain),
            ("phone".into(), p.phone_us()),
            ("city".into(), p.city.clone()),
            ("state".into(), p.state.clone()),
            ("zip".into(), p.zip.clone()),
            ("address".into(), p.street.clone()),
        ])
    }

    /// HubSpot deal properties.
    pub fn deal(&mut self, index: u64) -> HashMap<String, String> {
        let p = self.person(index);
        let amount = self.rng.gen_range(100..50_000);
        let stage = self.pick(&DEAL_STAGES);
        HashMap::from([
            ("dealname".into(), format!("{} - job {index}", p.company)),
            ("amount".into(), amount.to_string()),
            ("dealstage".into(), stage.to_owned()),
            ("pipeline".into(), "default".to_owned()),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data() {
        let a = FakeData::new(7).contact(1);
        let b = FakeData::new(7).contact(1);
        assert_eq!(a, b);
        assert!(a["email"].ends_with(".1@example.com") || a["email"].contains(".1@"));
        assert_ne!(FakeData::new(8).contact(1), a);
    }
}
