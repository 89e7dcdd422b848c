-- Dead letters: every job the queue gave up on ({prefix}.dead), recorded by the workers' dead-letter
-- recorder so an operator can see it and replay it. org_id is NULL for a job naming no (existing)
-- organization; such rows are visible to the admin CLI only.
CREATE TABLE dead_letters (
    id                    uuid PRIMARY KEY,                  -- UUIDv7, assigned when recorded
    org_id                uuid REFERENCES organizations(id) ON DELETE CASCADE,
    job_id                text NOT NULL UNIQUE,              -- the envelope's job id (AMQP message id for a raw message)
    kind                  text NOT NULL CHECK (kind IN ('sync', 'batch', 'webhook', 'delivery', 'unknown')),
    mapping_id            uuid,
    sync_id               uuid,
    reason                text NOT NULL,
    attempts              integer NOT NULL,
    first_failed_at       timestamptz,
    last_failed_at        timestamptz NOT NULL,
    -- The exact bytes that were dead-lettered; NULL when they exceeded the stored cap (16 MiB).
    message               bytea,
    message_size          integer NOT NULL,
    replayed_at           timestamptz,
    replay_job_id         text,
    -- A replay in progress holds this lease (publish, then mark), so two replays never both publish.
    replay_claimed_until  timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now()
);
-- Lists page newest first by id: a UUIDv7 taken when the row is recorded, so id order is
-- created_at order and the id alone is the page cursor (as for sync runs).
CREATE INDEX dead_letters_org ON dead_letters (org_id, id DESC);
