//! The GraphQL documents the Jobber adapter sends, as constants. Values always travel as
//! variables; `tests/jobber_schema.rs` validates every document against Jobber's schema.

/// The client fields a `Record` carries (plus `id` and `updatedAt`, which become the
/// record's id and time). Kept lean: Jobber charges query cost per field and node.
macro_rules! client_fields {
    () => {
        "id firstName lastName companyName isCompany title isArchived createdAt updatedAt \
         emails { id address description primary } \
         phones { id number description primary smsAllowed } \
         billingAddress { street1 street2 city province postalCode country }"
    };
}

/// Full read of clients, one page.
pub const LIST_CLIENTS: &str = concat!(
    "query ListClients($first: Int!, $after: String) { ",
    "clients(first: $first, after: $after) { nodes { ",
    client_fields!(),
    " } pageInfo { endCursor hasNextPage } } }"
);

/// Incremental read of clients updated after `$since`, one page.
pub const LIST_CLIENTS_SINCE: &str = concat!(
    "query ListClientsSince($first: Int!, $after: String, $since: ISO8601DateTime!) { ",
    "clients(first: $first, after: $after, filter: { updatedAt: { after: $since } }) { nodes { ",
    client_fields!(),
    " } pageInfo { endCursor hasNextPage } } }"
);

/// Clients matching a free-text `searchTerm` (Jobber has no filter by email or name), one page.
pub const SEARCH_CLIENTS: &str = concat!(
    "query SearchClients($first: Int!, $after: String, $term: String!) { ",
    "clients(first: $first, after: $after, searchTerm: $term) { nodes { ",
    client_fields!(),
    " } pageInfo { endCursor hasNextPage } } }"
);

/// One client by id.
pub const GET_CLIENT: &str = concat!(
    "query GetClient($id: EncodedId!) { client(id: $id) { ",
    client_fields!(),
    " } }"
);

/// Create one client.
pub const CREATE_CLIENT: &str = concat!(
    "mutation CreateClient($input: ClientCreateInput!) { clientCreate(input: $input) { client { ",
    client_fields!(),
    " } userErrors { message path } } }"
);

/// Edit one client.
pub const EDIT_CLIENT: &str = concat!(
    "mutation EditClient($id: EncodedId!, $input: ClientEditInput!) { ",
    "clientEdit(clientId: $id, input: $input) { client { ",
    client_fields!(),
    " } userErrors { message path } } }"
);

/// The job fields a `Record` carries; the client and property by id.
macro_rules! job_fields {
    () => {
        "id jobNumber title instructions jobStatus jobType startAt endAt completedAt total \
         createdAt updatedAt client { id } property { id }"
    };
}

/// Jobs, most recently updated first (Jobber has no `updatedAt` filter on jobs: an
/// incremental read stops at the first job older than its cursor).
pub const LIST_JOBS: &str = concat!(
    "query ListJobs($first: Int!, $after: String) { ",
    "jobs(first: $first, after: $after, sort: [{ key: UPDATED_AT, direction: DESCENDING }]) { nodes { ",
    job_fields!(),
    " } pageInfo { endCursor hasNextPage } } }"
);

/// One job by id.
pub const GET_JOB: &str = concat!(
    "query GetJob($id: EncodedId!) { job(id: $id) { ",
    job_fields!(),
    " } }"
);

/// A client's first property (jobs are created on a property), with its billing address for
/// a new property when it has none. `clientProperties` replaces the deprecated `properties`.
pub const CLIENT_PROPERTIES: &str = "query ClientProperties($id: EncodedId!) { \
    client(id: $id) { id \
    billingAddress { street1 street2 city province postalCode country } \
    clientProperties(first: 1) { nodes { id } } } }";

/// Create properties for a client (`input.properties` is a list of `{address}`).
pub const CREATE_PROPERTY: &str = "mutation CreateProperty($clientId: EncodedId!, \
    $input: PropertyCreateInput!) { propertyCreate(clientId: $clientId, input: $input) { \
    properties { id } userErrors { message path } } }";

/// Create one job on a property.
pub const CREATE_JOB: &str = concat!(
    "mutation CreateJob($input: JobCreateAttributes!) { jobCreate(input: $input) { job { ",
    job_fields!(),
    " } userErrors { message path } } }"
);

/// Edit one job.
pub const EDIT_JOB: &str = concat!(
    "mutation EditJob($id: EncodedId!, $input: JobEditInput!) { ",
    "jobEdit(jobId: $id, input: $input) { job { ",
    job_fields!(),
    " } userErrors { message path } } }"
);

/// Every document above, by name, for the schema test.
/// Archive one client (Jobber's deletion that keeps the record: `isArchived` becomes true).
pub const ARCHIVE_CLIENT: &str = concat!(
    "mutation ArchiveClient($id: EncodedId!) { clientArchive(clientId: $id) { client { ",
    client_fields!(),
    " } userErrors { message path } } }"
);

pub const ALL_DOCUMENTS: &[(&str, &str)] = &[
    ("LIST_CLIENTS", LIST_CLIENTS),
    ("LIST_CLIENTS_SINCE", LIST_CLIENTS_SINCE),
    ("SEARCH_CLIENTS", SEARCH_CLIENTS),
    ("GET_CLIENT", GET_CLIENT),
    ("CREATE_CLIENT", CREATE_CLIENT),
    ("EDIT_CLIENT", EDIT_CLIENT),
    ("ARCHIVE_CLIENT", ARCHIVE_CLIENT),
    ("LIST_JOBS", LIST_JOBS),
    ("GET_JOB", GET_JOB),
    ("CLIENT_PROPERTIES", CLIENT_PROPERTIES),
    ("CREATE_PROPERTY", CREATE_PROPERTY),
    ("CREATE_JOB", CREATE_JOB),
    ("EDIT_JOB", EDIT_JOB),
];

/// The property fields a `Record` carries (`Property` has no timestamp: see
/// [`super::properties`]); the client by id.
macro_rules! property_fields {
    () => {
        "id address { street1 street2 city province postalCode country } client { id }"
    };
}

/// Every property of the account, one page (the schema offers no time filter or sort).
pub const LIST_PROPERTIES: &str = concat!(
    "query ListProperties($first: Int!, $after: String) { ",
    "properties(first: $first, after: $after) { nodes { ",
    property_fields!(),
    " } pageInfo { endCursor hasNextPage } } }"
);

/// One property by id.
pub const GET_PROPERTY: &str = concat!(
    "query GetProperty($id: EncodedId!) { property(id: $id) { ",
    property_fields!(),
    " } }"
);

/// The selection of one property, for the aliased batch read built by
/// [`super::properties::get_properties_document`].
pub const PROPERTY_SELECTION: &str = property_fields!();

/// Create one property for a client, answering with its fields.
pub const CREATE_PROPERTY_RECORD: &str = concat!(
    "mutation CreatePropertyRecord($clientId: EncodedId!, $input: PropertyCreateInput!) { ",
    "propertyCreate(clientId: $clientId, input: $input) { properties { ",
    property_fields!(),
    " } userErrors { message path } } }"
);

/// Edit one property's address.
pub const EDIT_PROPERTY: &str = concat!(
    "mutation EditProperty($id: EncodedId!, $input: PropertyEditInput!) { ",
    "propertyEdit(propertyId: $id, input: $input) { property { ",
    property_fields!(),
    " } userErrors { message path } } }"
);

/// The property documents above, by name, for the schema test (the aliased batch read is
/// checked there too, built for a full batch).
pub const PROPERTY_DOCUMENTS: &[(&str, &str)] = &[
    ("LIST_PROPERTIES", LIST_PROPERTIES),
    ("GET_PROPERTY", GET_PROPERTY),
    ("CREATE_PROPERTY_RECORD", CREATE_PROPERTY_RECORD),
    ("EDIT_PROPERTY", EDIT_PROPERTY),
];
