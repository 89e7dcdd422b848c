//! The job envelope on the wire: types generated from `proto/fluxcascade/v1/jobs.proto`
//! plus small helpers to build, encode and decode them.

use std::time::{SystemTime, UNIX_EPOCH};

/// Generated protobuf types of package `fluxcascade.v1`.
pub mod v1 {
    include!(concat!(env!("OUT_DIR"), "/fluxcascade.v1.rs"));
}

pub use prost::{DecodeError, Message};
pub use v1::{BatchJob, HookAction, HookEvent, JobEnvelope, JobKind, SyncJob};

impl JobKind {
    /// Every kind a job can have (all but `Unspecified`).
    pub const ALL: [JobKind; 4] = [
        JobKind::Sync,
        JobKind::Batch,
        JobKind::Webhook,
        JobKind::Delivery,
    ];

    /// Short lower-case name, used as the AMQP routing key and queue suffix.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Unspecified => "unspecified",
            JobKind::Sync => "sync",
            JobKind::Batch => "batch",
            JobKind::Webhook => "webhook",
            JobKind::Delivery => "delivery",
        }
    }

    /// Parses a short name produced by [`JobKind::name`]; `None` for anything else.
    pub fn from_name(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

impl v1::HookAction {
    /// Every action an event can carry (all but `Unspecified`).
    pub const ALL: [v1::HookAction; 3] = [
        v1::HookAction::Create,
        v1::HookAction::Update,
        v1::HookAction::Delete,
    ];

    /// `create`, `update`, `delete` (`unspecified` for an event that names none).
    pub fn name(self) -> &'static str {
        match self {
            v1::HookAction::Unspecified => "unspecified",
            v1::HookAction::Create => "create",
            v1::HookAction::Update => "update",
            v1::HookAction::Delete => "delete",
        }
    }

    /// Parses a name produced by [`v1::HookAction::name`]; `None` for anything else.
    pub fn from_name(name: &str) -> Option<v1::HookAction> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl v1::HookEvent {
    pub fn new(
        id: String,
        account: String,
        object: String,
        record_id: String,
        action: v1::HookAction,
    ) -> v1::HookEvent {
        v1::HookEvent {
            id,
            account,
            object,
            record_id,
            action: action as i32,
        }
    }

    /// The record is gone at the provider (HubSpot `*.deletion`, Jobber `*_DESTROY`, Pipedrive
    /// `delete`).
    pub fn is_deletion(&self) -> bool {
        self.action() == v1::HookAction::Delete
    }
}

impl JobEnvelope {
    /// A first-attempt job with a fresh UUID v7 id, created now.
    pub fn new(kind: JobKind, org_id: impl Into<String>, payload: Vec<u8>) -> JobEnvelope {
        JobEnvelope {
            job_id: uuid::Uuid::now_v7().to_string(),
            org_id: org_id.into(),
            kind: kind as i32,
            attempt: 1,
            created_at_unix_ms: now_unix_ms(),
            payload,
            reason: String::new(),
            first_failed_at_unix_ms: 0,
        }
    }

    /// A first-attempt job whose payload is the encoding of `payload`.
    pub fn with_message<M: Message>(
        kind: JobKind,
        org_id: impl Into<String>,
        payload: &M,
    ) -> JobEnvelope {
        JobEnvelope::new(kind, org_id, payload.encode_to_vec())
    }

    /// Decodes the envelope from bytes received on the wire.
    pub fn from_bytes(bytes: &[u8]) -> Result<JobEnvelope, DecodeError> {
        JobEnvelope::decode(bytes)
    }

    /// Decodes the payload as message type `M` (e.g. [`SyncJob`], [`BatchJob`]).
    pub fn decode_payload<M: Message + Default>(&self) -> Result<M, DecodeError> {
        M::decode(self.payload.as_slice())
    }
}

fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_job_carries_its_hook_events_as_messages() {
        let job = v1::WebhookJob {
            provider: "hubspot".into(),
            connection_id: String::new(),
            events_json: Vec::new(),
            received_at_unix_ms: 1,
            events: vec![
                HookEvent::new(
                    "1".into(),
                    "62515".into(),
                    "contacts".into(),
                    "101".into(),
                    HookAction::Update,
                ),
                HookEvent::new(
                    "2".into(),
                    "62515".into(),
                    "contacts".into(),
                    "102".into(),
                    HookAction::Delete,
                ),
            ],
        };
        let back = v1::WebhookJob::decode(job.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back, job);
        assert!(!back.events[0].is_deletion());
        assert!(back.events[1].is_deletion());
        for action in HookAction::ALL {
            assert_eq!(HookAction::from_name(action.name()), Some(action));
        }
        assert_eq!(HookAction::from_name("destroy"), None);
    }

    #[test]
    fn envelope_roundtrips_through_bytes() {
        let sync = SyncJob {
            sync_id: "s-1".into(),
            mapping_id: "m-1".into(),
            epoch: 0,
        };
        let job = JobEnvelope::with_message(JobKind::Sync, "org-1", &sync);
        assert_eq!(job.attempt, 1);
        assert!(job.created_at_unix_ms > 1_600_000_000_000);
        assert_eq!(
            uuid::Uuid::parse_str(&job.job_id)
                .unwrap()
                .get_version_num(),
            7
        );

        let bytes = job.encode_to_vec();
        let back = JobEnvelope::from_bytes(&bytes).unwrap();
        assert_eq!(back, job);
        assert_eq!(back.kind(), JobKind::Sync);
        assert_eq!(back.decode_payload::<SyncJob>().unwrap(), sync);
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let job = JobEnvelope::new(JobKind::Batch, "org-2", b"payload".to_vec());
        let mut bytes = job.encode_to_vec();
        // Field 99, wire type 2 (length-delimited): a field a newer version might add.
        bytes.extend_from_slice(&[0x9a, 0x06, 3, b'n', b'e', b'w']);
        // Field 100, wire type 0 (varint).
        bytes.extend_from_slice(&[0xa0, 0x06, 42]);
        let back = JobEnvelope::from_bytes(&bytes).unwrap();
        assert_eq!(back, job);
    }

    #[test]
    fn unknown_kind_value_reads_as_unspecified() {
        let mut job = JobEnvelope::new(JobKind::Sync, "org", Vec::new());
        job.kind = 77;
        let back = JobEnvelope::from_bytes(&job.encode_to_vec()).unwrap();
        assert_eq!(back.kind(), JobKind::Unspecified);
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        assert!(JobEnvelope::from_bytes(&[0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn kind_names_roundtrip() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(JobKind::Webhook.name(), "webhook");
        assert_eq!(JobKind::from_name("unspecified"), None);
    }
}
