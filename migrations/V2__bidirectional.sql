-- Bidirectional mappings: a run has a forward leg (source → target) and a reverse leg (target → source),
-- each with its own cursor; batches say which side their records came from.

ALTER TABLE mapping_cursors ADD COLUMN side text NOT NULL DEFAULT 'source' CHECK (side IN ('source', 'target'));
ALTER TABLE mapping_cursors DROP CONSTRAINT mapping_cursors_pkey;
ALTER TABLE mapping_cursors ADD PRIMARY KEY (mapping_id, side);

ALTER TABLE sync_batches ADD COLUMN side text NOT NULL DEFAULT 'source' CHECK (side IN ('source', 'target'));

ALTER TABLE sync_runs ADD COLUMN leg text NOT NULL DEFAULT 'forward' CHECK (leg IN ('forward', 'reverse'));
ALTER TABLE sync_runs ADD COLUMN reverse_from_updated_at timestamptz;
ALTER TABLE sync_runs ADD COLUMN reverse_from_id text;
