-- Who started an OAuth authorization (the member and the key of `GET /v1/oauth/{provider}/authorize`),
-- so the audit entry of the callback that creates or reconnects a connection names them.
ALTER TABLE oauth_states ADD COLUMN started_by_member uuid;
ALTER TABLE oauth_states ADD COLUMN started_by_key uuid;
