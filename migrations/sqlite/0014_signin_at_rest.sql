-- Sign-in state and sessions at rest (issue #27, points 5 and 12).
--
-- Sign-ins in progress no longer live in the store: they travel sealed in the browser's cookie,
-- so that anonymous sign-in starts write nothing here (the old table's cap let a flood of them
-- push out every real one).
DROP TABLE pending_signins;

-- What the store keeps of a sign-in in progress is that its callback was used: the SHA-256 of
-- its state, until its cookie could no longer be taken anyway. A callback is used once, on every
-- replica, also when that one attempt failed. Written only by a callback that brings a cookie
-- Onwatch sealed, and a row only ever refuses its own sign-in.
CREATE TABLE signins_used (
    state_hash  TEXT    NOT NULL PRIMARY KEY,
    expires_ms  BIGINT  NOT NULL
);

CREATE INDEX signins_used_expires ON signins_used (expires_ms);

-- The secret that seals the sign-in cookie and the sessions' data, when `auth.key_file` is not
-- set: drawn by the first Onwatch that needs it, shared by every replica on this store.
CREATE TABLE auth_keys (
    name        TEXT    NOT NULL PRIMARY KEY,
    secret      TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL
);

-- Sessions are now keyed by the SHA-256 of their id, with their data sealed: the rows written
-- before (the id itself as the key, the identity and the provider's tokens in clear JSON) are
-- deleted, and everyone signs in again once.
DELETE FROM sessions;
