-- Issue 5: outbound webhooks. Subscriptions (a URL and the events it wants, with a signing secret
-- sealed like connection tokens), the outbox of deliveries written in the transaction that
-- produced the event, and the log of every delivery attempt.

CREATE TABLE webhooks (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    url         text NOT NULL,
    events      text[] NOT NULL,
    key_id      text NOT NULL,          -- which master key sealed the secret
    secret      bytea NOT NULL,         -- AES-256-GCM: nonce || ciphertext || tag, AAD = "<id>:webhook"
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

-- One row per (event, subscription). `body` is the exact JSON that is signed and POSTed.
CREATE TABLE webhook_deliveries (
    id            uuid PRIMARY KEY,     -- UUIDv7: newest first is id order
    org_id        uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    webhook_id    uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id      uuid NOT NULL,        -- shared by every subscription's copy of one event
    event_type    text NOT NULL,
    subject_id    uuid NOT NULL,        -- the sync run or connection the event is about
    body          text NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    published_at  timestamptz,          -- when the broker confirmed its delivery job
    claimed_until timestamptz,          -- a publisher is publishing it; others leave it until then
    attempting_until timestamptz,       -- a worker is POSTing it (a lease, not a lock held over HTTP)
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (org_id, webhook_id, id);
CREATE INDEX webhook_deliveries_unpublished ON webhook_deliveries (created_at)
    WHERE published_at IS NULL AND status = 'pending';
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (subject_id)
    WHERE published_at IS NULL;

CREATE TABLE webhook_attempts (
    delivery_id     uuid NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT now(),
    response_status integer,            -- the receiver's HTTP status, when it answered
    error           text,               -- why there was no answer (timeout, connection refused)
    duration_ms     integer NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
