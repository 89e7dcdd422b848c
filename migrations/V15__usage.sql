-- Usage per organization (the basis of separate billing): what each org used per UTC day and
-- mapping, counted by the transactions that commit the work (a batch commit, a run's creation, an
-- inbound webhook event stored, an outbound delivery written), never recomputed from runs.
-- Retention never purges this table.
CREATE TABLE usage_daily (
    org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    day             date NOT NULL,            -- UTC
    -- The mapping the work was for; the nil uuid for counts of the org as a whole (webhook events
    -- received, deliveries). No foreign key: a deleted mapping's usage stays.
    mapping_id      uuid NOT NULL,
    -- Batch commits spread over a few rows (batch number mod 8), the org-wide counts too (the
    -- connection's backend pid mod 8), so concurrent commits do not queue on one row lock through
    -- each other's commit; reads sum them.
    shard           smallint NOT NULL DEFAULT 0,
    records_read    bigint NOT NULL DEFAULT 0,
    records_created bigint NOT NULL DEFAULT 0,
    records_updated bigint NOT NULL DEFAULT 0,
    records_deleted bigint NOT NULL DEFAULT 0,
    records_skipped bigint NOT NULL DEFAULT 0,
    records_failed  bigint NOT NULL DEFAULT 0,
    runs_manual     bigint NOT NULL DEFAULT 0,
    runs_schedule   bigint NOT NULL DEFAULT 0,
    runs_webhook    bigint NOT NULL DEFAULT 0,
    webhook_events  bigint NOT NULL DEFAULT 0,
    deliveries      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, mapping_id, shard)
);
