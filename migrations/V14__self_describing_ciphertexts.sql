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
