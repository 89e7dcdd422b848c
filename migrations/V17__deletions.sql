-- Deletions synced by a mapping's onDelete: per batch and per finished run, how many tombstones
-- were applied (twin archived or link removed). Old rows count none.
ALTER TABLE sync_batches ADD COLUMN deleted_count integer NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN deleted_count bigint NOT NULL DEFAULT 0;
