-- Issue 12 item 4, master-key rotation: every sealed value carries the id of the key that sealed it,
-- as a `v1:<key id>:` prefix of its bytes (see crates/store/src/crypto.rs). Existing values get the id
-- from the `key_id` column they were stored with; the column goes, so no statement can pair a
-- ciphertext with another ciphertext's key id again. A soft-deleted connection's empty token stays
-- empty.

UPDATE connections
   SET access_token = convert_to('v1:' || key_id || ':', 'UTF8') || access_token,
       refresh_token = CASE WHEN refresh_token IS NULL THEN NULL
                            ELSE convert_to('v1:' || key_id || ':', 'UTF8') || refresh_token END
 WHERE length(access_token) > 0;
ALTER TABLE connections DROP COLUMN key_id;

UPDATE webhooks SET secret = convert_to('v1:' || key_id || ':', 'UTF8') || secret;
ALTER TABLE webhooks DROP COLUMN key_id;

-- Issue 12 item 7, retention: the scheduler deletes old history in small batches
-- (crates/store/src/retention.rs); these indexes let each batch find its rows without a scan.
CREATE INDEX sync_runs_finished ON sync_runs (COALESCE(finished_at, created_at))
    WHERE status IN ('completed', 'partial', 'failed');
CREATE INDEX sync_runs_mapping ON sync_runs (mapping_id, created_at, id);
CREATE INDEX dead_letters_sync ON dead_letters (sync_id) WHERE replayed_at IS NULL;
CREATE INDEX webhook_events_received ON webhook_events (received_at);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (created_at)
    WHERE status IN ('delivered', 'failed');
