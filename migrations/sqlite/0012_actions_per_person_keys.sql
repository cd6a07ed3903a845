-- An idempotency key is the person's own: the same key from two people is two requests (a
-- global key let one person's request answer "already done" for another's). And `holder`:
-- which Onwatch process runs the action (its instance id), compared in every update the
-- runner makes, so that a process paused past its lease and replaced cannot write over the
-- outcome the sweeper recorded (a fencing token). SQLite cannot drop a column's UNIQUE: the
-- table is rebuilt.
CREATE TABLE actions_new (
    id               TEXT    PRIMARY KEY,
    idempotency_key  TEXT    NOT NULL,
    kind             TEXT    NOT NULL,
    environment      TEXT    NOT NULL,
    host             TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    actor_name       TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    requested_ms     BIGINT  NOT NULL,
    lease_ms         BIGINT  NOT NULL,
    finished_ms      BIGINT,
    summary          TEXT    NOT NULL,
    output           TEXT    NOT NULL,
    holder           TEXT    NOT NULL DEFAULT ''
);
INSERT INTO actions_new (id, idempotency_key, kind, environment, host, service, actor,
    actor_name, reason, state, requested_ms, lease_ms, finished_ms, summary, output)
SELECT id, idempotency_key, kind, environment, host, service, actor, actor_name, reason, state,
    requested_ms, lease_ms, finished_ms, summary, output FROM actions;
DROP TABLE actions;
ALTER TABLE actions_new RENAME TO actions;
CREATE INDEX actions_target ON actions (environment, host, finished_ms);
CREATE INDEX actions_state ON actions (state);
CREATE UNIQUE INDEX actions_actor_key ON actions (actor, idempotency_key);
