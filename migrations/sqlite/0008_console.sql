-- The shard console's memory: each person's queries (their history) and the queries saved for
-- the team. The audit log has every query too; these tables are for finding one again.
CREATE TABLE console_history (
    id           TEXT    PRIMARY KEY,
    actor        TEXT    NOT NULL,
    actor_name   TEXT    NOT NULL,
    environment  TEXT    NOT NULL,
    database     TEXT    NOT NULL,
    shards       TEXT    NOT NULL,
    sql          TEXT    NOT NULL,
    -- complete, truncated, partial, failed, cancelled
    state        TEXT    NOT NULL,
    rows         BIGINT  NOT NULL,
    duration_ms  BIGINT  NOT NULL,
    started_ms   BIGINT  NOT NULL
);
CREATE INDEX console_history_actor ON console_history (actor, started_ms);

-- A saved query: the owner's own, or shared with everyone signed in (shared = 1).
CREATE TABLE console_saved (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    database     TEXT    NOT NULL,
    shards       TEXT    NOT NULL,
    sql          TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    owner_name   TEXT    NOT NULL,
    shared       BIGINT  NOT NULL,
    created_ms   BIGINT  NOT NULL,
    UNIQUE (owner, name)
);
