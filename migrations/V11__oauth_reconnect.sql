-- An OAuth authorization started to reconnect an existing connection (`connectionId` on
-- /v1/oauth/{provider}/authorize): the callback updates that connection's tokens instead of
-- creating one. NULL for a new connection.
ALTER TABLE oauth_states ADD COLUMN connection_id uuid;
