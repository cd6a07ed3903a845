-- Every change of a service's (or a Supervisor's) observed state, as the fleet poller saw it.
-- The in-memory fleet model is rebuilt from live polls after a restart; this table is what lets a
-- service page still show "critical since 03:12" and a history chart across that restart.
-- Times are Unix epoch milliseconds (the same integer type on SQLite and Postgres).
CREATE TABLE service_transitions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    environment TEXT    NOT NULL,
    host        TEXT    NOT NULL,
    -- service group such as "builder-api.default"; '' for the Supervisor (host) itself
    service     TEXT    NOT NULL,
    from_state  TEXT,
    to_state    TEXT    NOT NULL,
    -- why: a health hook's output, an HTTP error, a version change
    detail      TEXT    NOT NULL DEFAULT '',
    at_ms       BIGINT  NOT NULL
);

-- History of one service on one host, newest first; also used by retention pruning.
CREATE INDEX service_transitions_subject ON service_transitions (environment, host, service, at_ms);
CREATE INDEX service_transitions_at ON service_transitions (at_ms);
