-- Sign-in sessions (tower-sessions records), kept in the store so that they survive a restart and
-- so that several Onwatch replicas on one Postgres store share them: revoking a session on the
-- admin page ends it on every replica at once.
CREATE TABLE sessions (
    -- the session id from the cookie: a bearer credential, never shown anywhere
    id           TEXT    NOT NULL PRIMARY KEY,
    -- a separate random name for the session, used by the admin page to revoke it
    handle       TEXT    NOT NULL UNIQUE,
    -- the session's key-value data as JSON (the identity, a pending sign-in, the CSRF token)
    data         TEXT    NOT NULL,
    -- idle expiry (epoch ms): moves forward with activity; absolute expiry is checked from
    -- signed_in_ms by the server
    expires_ms   BIGINT  NOT NULL,
    created_ms   BIGINT  NOT NULL,
    updated_ms   BIGINT  NOT NULL,
    -- who signed in, copied out of `data` for the admin page; NULL until sign-in
    login        TEXT,
    name         TEXT,
    provider     TEXT,
    role         TEXT,
    signed_in_ms BIGINT,
    user_agent   TEXT,
    address      TEXT
);

-- Expired-session clean-up, and the admin page's list of live sessions.
CREATE INDEX sessions_expires ON sessions (expires_ms);
