-- Console sessions (an API key exchanged for an HttpOnly cookie) and OAuth states bound to the
-- browser that started them.

-- A session's id is a random 256-bit token held only by the browser's cookie; the row keeps its
-- SHA-256. The session acts for the key it was created from: revoking the key (or removing its
-- member) ends the session, and its role is the key's member's role at each request.
CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key_id       uuid NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    member_id    uuid NOT NULL,
    -- The role when the session was created (the live role is read through the key each time).
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_expires_at ON console_sessions (expires_at);
CREATE INDEX console_sessions_key_id ON console_sessions (key_id);

-- An authorization the console started: SHA-256 of the short-lived binding cookie set in the
-- browser that started it. NULL: an API (JSON) flow, not bound to a browser.
ALTER TABLE oauth_states ADD COLUMN session_hash bytea;

-- An API flow may name where the callback sends the browser afterwards (an allowed origin only).
ALTER TABLE oauth_states ADD COLUMN redirect_to text;
