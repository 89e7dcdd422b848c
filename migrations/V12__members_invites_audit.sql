-- Organizations for real: members with roles, API keys that act for a member (with the member's
-- role at the time of each request), single-use invites, and the audit log.

CREATE TABLE members (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX members_org_email ON members (org_id, lower(email));

-- Every existing key becomes a member: one per (org, label), with the highest role of its keys.
INSERT INTO members (id, org_id, email, role, created_at)
SELECT gen_random_uuid(), org_id, min(label),
       (array_agg(role ORDER BY CASE role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END))[1],
       min(created_at)
FROM api_keys
GROUP BY org_id, lower(label);

ALTER TABLE api_keys ADD COLUMN member_id uuid REFERENCES members(id) ON DELETE CASCADE;
UPDATE api_keys k SET member_id = m.id
FROM members m WHERE m.org_id = k.org_id AND lower(m.email) = lower(k.label);
ALTER TABLE api_keys ALTER COLUMN member_id SET NOT NULL;
-- A key's rights are its member's role, read at each request (demoting a member cuts its keys).
ALTER TABLE api_keys DROP COLUMN role;
ALTER TABLE api_keys RENAME COLUMN label TO name;
-- The first characters of the key (`fc_` + 8): enough to recognise it in a list, useless to guess it.
ALTER TABLE api_keys ADD COLUMN prefix text NOT NULL DEFAULT 'fc_';
ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
CREATE INDEX api_keys_member ON api_keys (member_id);

CREATE TABLE invites (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    email        text NOT NULL,
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_hash   bytea NOT NULL UNIQUE,     -- SHA-256 of the token; the token is shown once
    invited_by   uuid REFERENCES members(id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX invites_org ON invites (org_id, created_at);

-- Who changed what: never secret values, only the names of the fields an update changed.
CREATE TABLE audit_entries (
    id              uuid PRIMARY KEY,          -- v7: time-ordered, the paging cursor
    org_id          uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT now(),
    actor_member_id uuid,                      -- kept when the member is removed: history stays
    actor_key_id    uuid,
    action          text NOT NULL,             -- `mapping.updated`, `member.removed`, ...
    target_type     text NOT NULL,
    target_id       uuid,
    changed_fields  text[] NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_entries_org ON audit_entries (org_id, id);
CREATE INDEX audit_entries_at ON audit_entries (at);
