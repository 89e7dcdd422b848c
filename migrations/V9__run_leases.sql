-- Issue 11, no run is ever stuck: whoever works on a run renews its lease (the coordinator at every
-- checkpoint, a batch when it starts); the scheduler's reaper resumes a run whose lease expired by
-- re-publishing its coordinator under a new epoch (an older coordinator is fenced off at its next
-- checkpoint), and fails it once it has made no progress for the retry window.
ALTER TABLE sync_runs ADD COLUMN lease_until timestamptz;
ALTER TABLE sync_runs ADD COLUMN progress_at timestamptz;
ALTER TABLE sync_runs ADD COLUMN coordinator_epoch integer NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN resumed_count integer NOT NULL DEFAULT 0;
-- The reaper looks only at unfinished runs (few at any time).
CREATE INDEX sync_runs_unfinished ON sync_runs (created_at) WHERE status IN ('pending', 'running');
