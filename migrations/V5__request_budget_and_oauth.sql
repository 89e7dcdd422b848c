-- Issue 4: a connection's request budget shared by every worker replica, and OAuth
-- authorization attempts (the `state` of GET /v1/oauth/{provider}/authorize).

-- One row per request the provider allows in its window: a request takes the slot whose last
-- use is oldest and at least a window ago (a sliding window, as HubSpot and Pipedrive count).
CREATE TABLE request_slots (
    connection_id  uuid NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    class          text NOT NULL,           -- 'general' | 'search'
    slot           integer NOT NULL,
    used_at        timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (connection_id, class, slot)
);

-- A started authorization: `state` is random, single use, and expires.
CREATE TABLE oauth_states (
    state         text PRIMARY KEY,
    org_id        uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    provider      text NOT NULL,
    account_name  text,
    redirect_uri  text NOT NULL,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
