-- Create intents of the reverse leg (target records created on the source). The source id is
-- unknown until the provider creates the record, so the intent is keyed by the target id; the
-- batch that settles it (links the created record, or records its failure) deletes it.
CREATE TABLE reverse_create_intents (
    org_id         uuid NOT NULL,
    mapping_id     uuid NOT NULL REFERENCES mappings(id) ON DELETE CASCADE,
    target_id      text NOT NULL,
    -- Hash of the values the created source record will show, in the link's (target-side) projection.
    match_hash     text NOT NULL,
    pending_since  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mapping_id, target_id)
);
CREATE INDEX reverse_create_intents_org ON reverse_create_intents (org_id);
