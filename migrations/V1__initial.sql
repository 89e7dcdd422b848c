-- FluxCascade initial schema: tenants, credentials, mappings, sync runs, record links, cursors.
-- Every table holding tenant data carries org_id and every query is scoped by it.

CREATE TABLE organizations (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE,          -- SHA-256 of the key; the key itself is shown once
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    label       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE connections (
    id                   uuid PRIMARY KEY,
    org_id               uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider             text NOT NULL CHECK (provider IN ('hubspot', 'jobber', 'pipedrive', 'salesforce')),
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'expired', 'error')),
    account_name         text NOT NULL,
    external_account_id  text NOT NULL DEFAULT '',
    key_id               text NOT NULL,          -- which master key sealed the tokens
    access_token         bytea NOT NULL,         -- AES-256-GCM: nonce || ciphertext || tag, AAD = connection id
    refresh_token        bytea,
    expires_at           timestamptz,
    instance_url         text,
    status_message       text,
    deleted_at           timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_org ON connections (org_id, created_at, id);

CREATE TABLE mappings (
    id                    uuid PRIMARY KEY,
    org_id                uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    name                  text NOT NULL,
    source_connection_id  uuid NOT NULL REFERENCES connections(id),
    target_connection_id  uuid NOT NULL REFERENCES connections(id),
    spec                  jsonb NOT NULL,         -- the MappingSpec as submitted (field pairs, match, schedule, ...)
    enabled               boolean NOT NULL DEFAULT true,
    deleted_at            timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mappings_org ON mappings (org_id, created_at, id);

-- The incremental cursor of a mapping: compound (updated_at, id), advanced only when a run finishes.
CREATE TABLE mapping_cursors (
    mapping_id         uuid PRIMARY KEY REFERENCES mappings(id) ON DELETE CASCADE,
    org_id             uuid NOT NULL,
    cursor_updated_at  timestamptz NOT NULL,
    cursor_id          text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sync_runs (
    id                  uuid PRIMARY KEY,
    org_id              uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    mapping_id          uuid NOT NULL REFERENCES mappings(id) ON DELETE CASCADE,
    status              text NOT NULL CHECK (status IN ('pending', 'running', 'completed', 'partial', 'failed')),
    trigger             text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'webhook')),
    mode                text NOT NULL CHECK (mode IN ('incremental', 'full')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    -- coordinator progress, so a redelivered sync job resumes instead of restarting
    page_token          text,
    batches_published   integer NOT NULL DEFAULT 0,
    coordinator_done    boolean NOT NULL DEFAULT false,
    -- the cursor the read started from (null: from the beginning)
    from_updated_at     timestamptz,
    from_id             text,
    error               text,
    -- final counts, written once when the run finishes (live counts are summed from sync_batches)
    read_count          bigint NOT NULL DEFAULT 0,
    created_count       bigint NOT NULL DEFAULT 0,
    updated_count       bigint NOT NULL DEFAULT 0,
    skipped_count       bigint NOT NULL DEFAULT 0,
    failed_count        bigint NOT NULL DEFAULT 0
);
-- One running sync per mapping at a time.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (mapping_id) WHERE status IN ('pending', 'running');
CREATE INDEX sync_runs_org ON sync_runs (org_id, created_at DESC, id);

-- One row per batch job of a run: makes batch jobs idempotent and carries their counts.
CREATE TABLE sync_batches (
    sync_id            uuid NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    batch_no           integer NOT NULL,
    org_id             uuid NOT NULL,
    worker             text NOT NULL,
    read_count         integer NOT NULL,
    created_count      integer NOT NULL,
    updated_count      integer NOT NULL,
    skipped_count      integer NOT NULL,
    failed_count       integer NOT NULL,
    max_updated_at     timestamptz,
    max_id             text,
    finished_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sync_id, batch_no)
);

CREATE TABLE sync_errors (
    id          bigserial PRIMARY KEY,
    sync_id     uuid NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
    org_id      uuid NOT NULL,
    record_id   text NOT NULL,
    code        text NOT NULL,
    message     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sync_errors_sync ON sync_errors (sync_id, id);

-- (mapping, source record) <-> target record. target_id NULL = a create is in flight
-- (write-ahead intent): a redelivered batch reconciles it against the target before creating again.
CREATE TABLE record_links (
    org_id             uuid NOT NULL,
    mapping_id         uuid NOT NULL REFERENCES mappings(id) ON DELETE CASCADE,
    source_id          text NOT NULL,
    target_id          text,
    source_updated_at  timestamptz,
    target_updated_at  timestamptz,
    hash               text NOT NULL,
    pending_since      timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mapping_id, source_id)
);
CREATE UNIQUE INDEX record_links_target ON record_links (mapping_id, target_id) WHERE target_id IS NOT NULL;
