-- Issue 5, provider webhooks: a per-connection webhook secret (Pipedrive Basic auth, Salesforce
-- outbound-message URL; only its SHA-256 is kept), the dedupe log of provider events, the record
-- ids a webhook-triggered run syncs, and the ids that arrived while their mapping had a run going.

ALTER TABLE connections ADD COLUMN webhook_secret_hash bytea;
-- HubSpot and Jobber webhooks are routed by portal / account id.
CREATE INDEX connections_external_account ON connections (provider, external_account_id)
    WHERE deleted_at IS NULL;

-- One row per (connection, provider event id): a redelivered event finds its row and changes nothing.
CREATE TABLE webhook_events (
    connection_id  uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    event_id       text NOT NULL,
    org_id         uuid NOT NULL,
    job_id         text NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, event_id)
);
CREATE INDEX webhook_events_org ON webhook_events (org_id, received_at);

-- A webhook run syncs just these ids (source side: forward leg; target side: reverse leg) and never
-- moves the mapping's cursor. webhook_job_id: the webhook job that created it (its retry republishes it).
ALTER TABLE sync_runs ADD COLUMN webhook_source_ids text[];
ALTER TABLE sync_runs ADD COLUMN webhook_target_ids text[];
ALTER TABLE sync_runs ADD COLUMN webhook_job_id text;
CREATE INDEX sync_runs_webhook_job ON sync_runs (webhook_job_id) WHERE webhook_job_id IS NOT NULL;

-- Changed ids whose mapping had a run going: the next webhook run of the mapping takes them (started
-- when that run finishes).
CREATE TABLE webhook_deferred (
    org_id      uuid NOT NULL,
    mapping_id  uuid NOT NULL REFERENCES mappings(id) ON DELETE CASCADE,
    side        text NOT NULL CHECK (side IN ('source', 'target')),
    record_id   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mapping_id, side, record_id)
);
