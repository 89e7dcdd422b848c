-- A bidirectional run reads its reverse leg only after every forward batch is committed, so the
-- reverse leg never works from a snapshot the forward leg is about to overwrite.
ALTER TABLE sync_runs DROP CONSTRAINT sync_runs_leg_check;
ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_leg_check CHECK (leg IN ('forward', 'forward_done', 'reverse'));
-- Batches published by the forward leg (set when it has been read).
ALTER TABLE sync_runs ADD COLUMN forward_batches integer;
