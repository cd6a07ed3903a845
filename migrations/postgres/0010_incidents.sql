-- Incidents: declared, owned, updated (publicly, through Statuspage when configured), noted
-- internally, and closed; the rules broken on the way and their cleanup; the escalation
-- directory.

CREATE TABLE incidents (
    id              TEXT    PRIMARY KEY,
    title           TEXT    NOT NULL,
    -- none, minor, major, critical
    impact          TEXT    NOT NULL,
    -- investigating, identified, monitoring, resolved
    status          TEXT    NOT NULL,
    -- JSON array of the affected services' slugs (api, router, …)
    services        TEXT    NOT NULL,
    declared_by     TEXT    NOT NULL,
    declared_ms     BIGINT  NOT NULL,
    -- who is in charge ('' = nobody) and since when
    owner           TEXT    NOT NULL,
    owner_since_ms  BIGINT  NOT NULL,
    resolved_ms     BIGINT,
    -- the Statuspage incident, once created there
    statuspage_id   TEXT
);
CREATE INDEX incidents_open ON incidents (resolved_ms);

-- A public update: kept before it is sent, sent in order, never twice (its id travels in the
-- Statuspage incident's metadata, so an attempt whose answer was lost is recognised).
CREATE TABLE incident_updates (
    id              TEXT    PRIMARY KEY,
    incident_id     TEXT    NOT NULL REFERENCES incidents (id),
    seq             BIGINT  NOT NULL,
    status          TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    -- JSON object: component → operational, degraded_performance, partial_outage, major_outage
    components      TEXT    NOT NULL,
    author          TEXT    NOT NULL,
    created_ms      BIGINT  NOT NULL,
    -- local (no Statuspage configured), queued, published, refused
    publish_state   TEXT    NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT  NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    published_ms    BIGINT,
    UNIQUE (incident_id, seq)
);
CREATE INDEX incident_updates_queue ON incident_updates (publish_state, next_attempt_ms);

-- Internal notes and ownership changes: never public.
CREATE TABLE incident_events (
    id           TEXT    PRIMARY KEY,
    incident_id  TEXT    NOT NULL REFERENCES incidents (id),
    -- note, take_charge, step_away, hand_over
    kind         TEXT    NOT NULL,
    author       TEXT    NOT NULL,
    -- the note's text, or the new owner of a hand-over
    body         TEXT    NOT NULL,
    at_ms        BIGINT  NOT NULL
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, at_ms);

-- "Communicate what rules were broken and how, so proper cleanup can occur."
CREATE TABLE rules_broken (
    id           TEXT    PRIMARY KEY,
    incident_id  TEXT    REFERENCES incidents (id),
    rule         TEXT    NOT NULL,
    what_done    TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    created_by   TEXT    NOT NULL,
    created_ms   BIGINT  NOT NULL,
    done_by      TEXT,
    done_ms      BIGINT
);
CREATE INDEX rules_broken_open ON rules_broken (done_ms, owner);

-- The escalation directory, kept by admins.
CREATE TABLE contacts (
    login       TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    phone       TEXT    NOT NULL,
    time_zone   TEXT    NOT NULL,
    -- JSON array of service slugs the person knows
    areas       TEXT    NOT NULL,
    -- higher is more senior
    seniority   BIGINT  NOT NULL,
    updated_by  TEXT    NOT NULL,
    updated_ms  BIGINT  NOT NULL
);
