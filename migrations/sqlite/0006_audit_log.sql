-- The audit log: one row per attempt of anything a person does through Onwatch (actions, and
-- their refusals, sign-ins, exports, console queries). Append-only and hash-chained: each row's
-- `hash` is SHA-256 over the previous row's hash and the row's own canonical content, so a
-- changed, deleted or reordered row breaks the chain at that row (`onwatch audit verify`).
CREATE TABLE audit_log (
    -- 1, 2, 3, … with no holes: a missing number is a deleted row
    seq          BIGINT  PRIMARY KEY,
    -- the store's clock
    at_ms        BIGINT  NOT NULL,
    -- what happened: action.intent, action.outcome, action.refused, signin, signout, …
    kind         TEXT    NOT NULL,
    -- the stable identity (`github:#1234`, `oidc:sub`) and the name shown then
    actor        TEXT    NOT NULL,
    actor_name   TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    service      TEXT    NOT NULL,
    -- ties an action's intent and its outcome
    action_id    TEXT    NOT NULL,
    -- for outcomes: succeeded, failed, interrupted, refused; empty otherwise
    outcome      TEXT    NOT NULL,
    -- everything else, as canonical JSON (reason, guard verdicts, health, output excerpt, …)
    detail       TEXT    NOT NULL,
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (environment, host, service, seq);
CREATE INDEX audit_log_action ON audit_log (action_id);
CREATE INDEX audit_log_at ON audit_log (at_ms);

-- The chain's head: taking its row first serialises appends (a row lock on Postgres, across
-- replicas; the write lock on SQLite), and it remembers the last row, so that deleting rows at
-- the end is seen too.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY,
    seq   BIGINT  NOT NULL,
    hash  TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only by the database's own rule too (a person who can drop these triggers can still
-- edit rows: the chain is what shows it).
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
