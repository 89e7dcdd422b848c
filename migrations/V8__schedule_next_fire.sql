-- The scheduler's wake-up time per mapping: when its schedule must next be looked at (its next
-- fire time, or the moment the schedule was set, changed or enabled). NULL: nothing to fire (no
-- schedule, disabled, deleted, or a stored schedule that does not parse). Each tick claims the rows
-- with next_fire_at <= now through this index (FOR UPDATE SKIP LOCKED, a limited batch) and moves
-- next_fire_at past the fire time it claimed, in the claim's transaction.
ALTER TABLE mappings ADD COLUMN next_fire_at timestamptz;
CREATE INDEX mappings_next_fire ON mappings (next_fire_at) WHERE next_fire_at IS NOT NULL;

-- Backfill: every enabled scheduled mapping is looked at on the first tick, which computes its
-- next fire time (and fires at most one catch-up, as after any downtime).
UPDATE mappings SET next_fire_at = now()
WHERE enabled AND deleted_at IS NULL AND jsonb_typeof(spec->'schedule') = 'object';

-- When a fire's outcome was recorded: the job published and confirmed (`fired`) or the fire
-- `skipped`. recorded_at - fire_at is the fire's lag.
ALTER TABLE schedule_fires ADD COLUMN recorded_at timestamptz;
