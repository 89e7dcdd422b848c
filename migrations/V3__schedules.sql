-- Schedule fires: one row per (mapping, fire time), whichever scheduler replica claims it first.
-- `claimed` is transient (between the claim and the outcome); `fired` carries the run, `skipped`
-- the reason (e.g. the previous run of the mapping is still pending or running).
CREATE TABLE schedule_fires (
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    mapping_id  uuid NOT NULL REFERENCES mappings(id) ON DELETE CASCADE,
    fire_at     timestamptz NOT NULL,
    status      text NOT NULL CHECK (status IN ('claimed', 'fired', 'skipped')),
    sync_id     uuid,
    reason      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mapping_id, fire_at)
);
CREATE INDEX schedule_fires_org ON schedule_fires (org_id, mapping_id, fire_at);
