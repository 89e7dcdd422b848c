//! The API-facing domain shapes of DESIGN.md §3: providers, connections, mappings, field pairs, syncs.

use serde::{Deserialize, Serialize};

/// A CRM provider FluxCascade speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProviderKind {
    Hubspot,
    Jobber,
    Pipedrive,
    Salesforce,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Hubspot,
        ProviderKind::Jobber,
        ProviderKind::Pipedrive,
        ProviderKind::Salesforce,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Hubspot => "hubspot",
            ProviderKind::Jobber => "jobber",
            ProviderKind::Pipedrive => "pipedrive",
            ProviderKind::Salesforce => "salesforce",
        }
    }

    pub fn parse(s: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The objects FluxCascade can sync for this provider.
    pub fn objects(self) -> &'static [&'static str] {
        match self {
            ProviderKind::Hubspot => &["contacts", "companies", "deals"],
            ProviderKind::Jobber => &["clients", "jobs", "properties"],
            ProviderKind::Pipedrive => &["persons", "organizations", "deals"],
            ProviderKind::Salesforce => &["Contact", "Account", "Opportunity"],
        }
    }
}

impl std::fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Direction {
    #[default]
    SourceToTarget,
    TargetToSource,
    Bidirectional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConflictResolution {
    #[default]
    NewestWins,
    SourceWins,
    TargetWins,
}

/// One side of a mapping: a connection and an object of its provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Endpoint {
    pub connection_id: String,
    pub object: String,
}

/// How an unlinked record finds its existing twin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MatchRule {
    pub source_field: String,
    pub target_field: String,
}

/// One field pair: source path(s), target path, optional transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldPair {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_fields: Option<Vec<String>>,
    pub target_field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_options: Option<serde_json::Value>,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub cron: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

/// What a user submits to create a mapping (the stored mapping adds id and createdAt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MappingSpec {
    pub name: String,
    pub source: Endpoint,
    pub target: Endpoint,
    #[serde(default)]
    pub direction: Direction,
    pub field_pairs: Vec<FieldPair>,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_rule: Option<MatchRule>,
    #[serde(default)]
    pub conflict_resolution: ConflictResolution,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Associations resolved through another mapping's links (guide "Deals to Jobs").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub associations: Vec<AssociationRule>,
    /// What a deletion on one side does to its linked twin (default `ignore`).
    #[serde(default)]
    pub on_delete: OnDelete,
}

/// What a record deleted (or archived) on one side does to its linked twin on the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OnDelete {
    /// Nothing happens; the link stays (the twin is kept and still linked).
    #[default]
    Ignore,
    /// The twin is archived (or deleted where the provider has no archive) and the link removed.
    Archive,
    /// The twin is kept and the link removed, so the pair is no longer synced.
    Unlink,
}

impl OnDelete {
    pub const ALL: [OnDelete; 3] = [OnDelete::Ignore, OnDelete::Archive, OnDelete::Unlink];

    pub fn as_str(self) -> &'static str {
        match self {
            OnDelete::Ignore => "ignore",
            OnDelete::Archive => "archive",
            OnDelete::Unlink => "unlink",
        }
    }

    pub fn parse(s: &str) -> Option<OnDelete> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// A target field filled from an associated record's twin: the source record's associated ids
/// (`associations.<source>` in its fields, e.g. a deal's contacts) are looked up in the record
/// links of `mappingId` (e.g. contacts → clients), and the linked target id goes to `targetField`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssociationRule {
    pub source: String,
    pub mapping_id: String,
    pub target_field: String,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SyncStatus {
    Pending,
    Running,
    Completed,
    Partial,
    Failed,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Pending => "pending",
            SyncStatus::Running => "running",
            SyncStatus::Completed => "completed",
            SyncStatus::Partial => "partial",
            SyncStatus::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<SyncStatus> {
        [
            Self::Pending,
            Self::Running,
            Self::Completed,
            Self::Partial,
            Self::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SyncTrigger {
    Manual,
    Schedule,
    Webhook,
}

impl SyncTrigger {
    pub const ALL: [SyncTrigger; 3] = [Self::Manual, Self::Schedule, Self::Webhook];

    /// The stored form (`sync_runs.trigger`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Schedule => "schedule",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<SyncTrigger> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SyncMode {
    #[default]
    Incremental,
    Full,
}

/// Per-run record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Counts {
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    pub skipped: u64,
    pub failed: u64,
    /// Records whose deletion was applied (twin archived or link removed); absent in rows and
    /// jobs written before deletions were synced, hence the default.
    #[serde(default)]
    pub deleted: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.read += other.read;
        self.created += other.created;
        self.updated += other.updated;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.deleted += other.deleted;
    }
}

/// A record that could not be synced, with a machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordError {
    pub record_id: String,
    pub code: String,
    pub message: String,
}

/// The final status of a run from its counts (DESIGN.md §3 status rules).
/// `aborted` is set when the run could not proceed at all.
pub fn final_status(counts: &Counts, aborted: bool) -> SyncStatus {
    if aborted {
        return SyncStatus::Failed;
    }
    let succeeded = counts.created + counts.updated + counts.skipped + counts.deleted;
    if counts.failed == 0 {
        SyncStatus::Completed
    } else if succeeded == 0 {
        SyncStatus::Failed
    } else {
        SyncStatus::Partial
    }
}
