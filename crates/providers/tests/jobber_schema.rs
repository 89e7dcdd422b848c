//! Validates every GraphQL document the Jobber adapter sends against Jobber's published
//! schema (vendored with its MIT license in tests/fixtures/jobber/), so a misspelt field or argument
//! fails here.

use std::path::PathBuf;

use apollo_compiler::{ExecutableDocument, Schema};
use fluxcascade_providers::jobber::properties::get_properties_document;
use fluxcascade_providers::jobber::queries::{ALL_DOCUMENTS, PROPERTY_DOCUMENTS};
use fluxcascade_providers::jobber::MAX_BATCH;

/// The vendored schema: the repository stands alone (nothing read outside the clone).
fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jobber/schema.graphql")
}

fn schema() -> apollo_compiler::validation::Valid<Schema> {
    let path = schema_path();
    let sdl = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read the Jobber schema at {}: {e}", path.display()));
    Schema::parse_and_validate(sdl, &path)
        .unwrap_or_else(|e| panic!("the Jobber schema does not validate: {e}"))
}

#[test]
fn every_jobber_document_validates_against_the_schema() {
    let schema = schema();
    assert!(!ALL_DOCUMENTS.is_empty());
    let mut failures = Vec::new();
    for (name, doc) in ALL_DOCUMENTS {
        if let Err(e) =
            ExecutableDocument::parse_and_validate(&schema, *doc, format!("{name}.graphql"))
        {
            failures.push(format!("{name}:\n{e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "invalid Jobber documents:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_jobber_property_document_validates_against_the_schema() {
    let schema = schema();
    let batch = get_properties_document(MAX_BATCH);
    let mut docs: Vec<(&str, &str)> = PROPERTY_DOCUMENTS.to_vec();
    docs.push(("GET_PROPERTIES (full batch)", batch.as_str()));
    let mut failures = Vec::new();
    for (name, doc) in docs {
        if let Err(e) =
            ExecutableDocument::parse_and_validate(&schema, doc, format!("{name}.graphql"))
        {
            failures.push(format!("{name}:\n{e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "invalid Jobber property documents:\n{}",
        failures.join("\n")
    );
}

#[test]
fn property_has_no_timestamp_to_read_incrementally() {
    // Why property reads are full reads (see `jobber::properties`): neither the field nor a
    // time filter exists. If a newer schema adds them, this fails and the adapter can use them.
    let schema = schema();
    for doc in [
        "query A { properties(first: 1) { nodes { id updatedAt } } }",
        "query B($t: ISO8601DateTime) { properties(first: 1, filter: { updatedAt: { after: $t } }) { nodes { id } } }",
    ] {
        assert!(ExecutableDocument::parse_and_validate(&schema, doc, "p.graphql").is_err());
    }
}

#[test]
fn a_misspelt_field_is_caught() {
    // Guards the test itself: the validator must reject a field Jobber does not have.
    let schema = schema();
    let bad = "query Bad { clients(first: 1) { nodes { id firstname } } }";
    assert!(ExecutableDocument::parse_and_validate(&schema, bad, "bad.graphql").is_err());
}
