-- Actions as they run: the working record behind the audit log's intent and outcome rows.
-- `idempotency_key` makes a double click or a retried request run once; `lease_ms` is renewed
-- while the action runs, so that an action whose Onwatch died (crash, kill -9, a replica gone)
-- is found and marked interrupted, never re-run on its own.
CREATE TABLE actions (
    id               TEXT    PRIMARY KEY,
    idempotency_key  TEXT    NOT NULL UNIQUE,
    kind             TEXT    NOT NULL,
    environment      TEXT    NOT NULL,
    host             TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    actor            TEXT    NOT NULL,
    actor_name       TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    -- running, succeeded, failed, interrupted, refused
    state            TEXT    NOT NULL,
    requested_ms     BIGINT  NOT NULL,
    lease_ms         BIGINT  NOT NULL,
    finished_ms      BIGINT,
    -- one line for people ("healthy again after 14 s")
    summary          TEXT    NOT NULL,
    -- the output excerpt (bounded, secrets redacted), for the page after the action ended
    output           TEXT    NOT NULL
);
CREATE INDEX actions_target ON actions (environment, host, finished_ms);
CREATE INDEX actions_state ON actions (state);

-- One row per host an action is running on: the primary key is the lock, shared by every
-- replica on the same store.
CREATE TABLE action_locks (
    target     TEXT    PRIMARY KEY,
    action_id  TEXT    NOT NULL,
    taken_ms   BIGINT  NOT NULL
);
