//! Helpers on the sandbox state that turn record writes into queued webhook events.

use crate::state::SandboxState;
use crate::webhook::{ChangeSource, HubspotChange, WebhookEvent};

impl SandboxState {
    /// Whether changes should be announced (a webhook URL is configured).
    pub fn webhooks_on(&self) -> bool {
        self.config().webhook_url.is_some()
    }

    /// Announces HubSpot record creations.
    pub fn hubspot_created(
        &self,
        portal_id: u64,
        object: &'static str,
        ids: &[u64],
        source: ChangeSource,
    ) {
        if !self.webhooks_on() {
            return;
        }
        self.webhooks.emit(
            self,
            ids.iter().map(|&object_id| WebhookEvent::Hubspot {
                portal_id,
                object,
                object_id,
                change: HubspotChange::Creation,
                source,
            }),
        );
    }

    /// Announces HubSpot property changes, one event per property.
    pub fn hubspot_updated(
        &self,
        portal_id: u64,
        object: &'static str,
        object_id: u64,
        props: &std::collections::HashMap<String, String>,
        source: ChangeSource,
    ) {
        if !self.webhooks_on() {
            return;
        }
        self.webhooks.emit(
            self,
            props.iter().map(|(k, v)| WebhookEvent::Hubspot {
                portal_id,
                object,
                object_id,
                change: HubspotChange::Property(k.clone(), v.clone()),
                source,
            }),
        );
    }

    /// Announces HubSpot archivals (`{object}.deletion`).
    pub fn hubspot_deleted(
        &self,
        portal_id: u64,
        object: &'static str,
        ids: &[u64],
        source: ChangeSource,
    ) {
        if !self.webhooks_on() {
            return;
        }
        self.webhooks.emit(
            self,
            ids.iter().map(|&object_id| WebhookEvent::Hubspot {
                portal_id,
                object,
                object_id,
                change: HubspotChange::Deletion,
                source,
            }),
        );
    }

    /// Announces a deleted Jobber item (`CLIENT_DESTROY`, `JOB_DESTROY`).
    pub fn jobber_destroyed(&self, account_id: u64, item_kind: &'static str, item_id: u64) {
        let topic = match item_kind {
            "Job" => "JOB_DESTROY",
            _ => "CLIENT_DESTROY",
        };
        self.webhooks.emit(
            self,
            [WebhookEvent::Jobber {
                account_id,
                topic,
                item_kind,
                item_id,
            }],
        );
    }

    /// Announces a Jobber item (`Client` or `Job`) creation or update.
    pub fn jobber_changed(
        &self,
        account_id: u64,
        item_kind: &'static str,
        item_id: u64,
        created: bool,
    ) {
        let topic = match (item_kind, created) {
            ("Job", true) => "JOB_CREATE",
            ("Job", false) => "JOB_UPDATE",
            (_, true) => "CLIENT_CREATE",
            (_, false) => "CLIENT_UPDATE",
        };
        self.webhooks.emit(
            self,
            [WebhookEvent::Jobber {
                account_id,
                topic,
                item_kind,
                item_id,
            }],
        );
    }
}
