-- The on-call team: overrides of the rotation, iCal feeds, handoff summaries, the last answer
-- read from PagerDuty, and the onboarding checklist with who ticked what and when.

-- An override asked for: a cover (someone takes a seat for part or all of a shift) or a swap
-- (two covers, accepted together). Nothing applies until the counterpart accepts.
CREATE TABLE oncall_requests (
    id                 TEXT    PRIMARY KEY,
    -- cover, swap
    kind               TEXT    NOT NULL,
    requested_by       TEXT    NOT NULL,
    requested_by_name  TEXT    NOT NULL,
    -- the login whose acceptance the override needs (the covering person)
    counterpart        TEXT    NOT NULL,
    reason             TEXT    NOT NULL,
    -- pending, accepted, declined, cancelled
    state              TEXT    NOT NULL,
    requested_ms       BIGINT  NOT NULL,
    answered_by        TEXT,
    answered_ms        BIGINT
);
CREATE INDEX oncall_requests_state ON oncall_requests (state, answered_ms);

CREATE TABLE oncall_covers (
    request_id  TEXT    NOT NULL REFERENCES oncall_requests (id),
    part        BIGINT  NOT NULL,
    -- primary, secondary
    seat        TEXT    NOT NULL,
    start_ms    BIGINT  NOT NULL,
    end_ms      BIGINT  NOT NULL,
    covered     TEXT    NOT NULL,
    covering    TEXT    NOT NULL,
    PRIMARY KEY (request_id, part)
);

-- A secret iCal URL: only the token's SHA-256 is kept, so a leaked store leaks no feed.
CREATE TABLE oncall_feeds (
    id            TEXT    PRIMARY KEY,
    token_sha256  TEXT    NOT NULL UNIQUE,
    -- 'team', or the login whose shifts it lists
    scope         TEXT    NOT NULL,
    created_by    TEXT    NOT NULL,
    created_ms    BIGINT  NOT NULL,
    revoked_by    TEXT,
    revoked_ms    BIGINT
);

-- One summary per ended shift, written when the shift ends and kept.
CREATE TABLE oncall_handoffs (
    shift_index         BIGINT  PRIMARY KEY,
    start_ms            BIGINT  NOT NULL,
    end_ms              BIGINT  NOT NULL,
    outgoing            TEXT    NOT NULL,
    incoming            TEXT    NOT NULL,
    -- JSON (ops::oncall::handoff::Summary)
    summary             TEXT    NOT NULL,
    generated_ms        BIGINT  NOT NULL,
    note                TEXT    NOT NULL DEFAULT '',
    note_by             TEXT,
    note_ms             BIGINT,
    acknowledged_by     TEXT,
    acknowledged_ms     BIGINT
);

-- PagerDuty's last answer, kept so that it can be shown (marked stale) when PagerDuty cannot be
-- reached, across restarts too.
CREATE TABLE pagerduty_answers (
    id          BIGINT  PRIMARY KEY,
    answer      TEXT    NOT NULL,
    fetched_ms  BIGINT  NOT NULL
);

-- The checklist. Rewording keeps the id (and so who ticked it); retiring hides it from the
-- checklist and keeps its marks.
CREATE TABLE onboarding_items (
    id          TEXT    PRIMARY KEY,
    position    BIGINT  NOT NULL,
    text        TEXT    NOT NULL,
    -- manual, github, core_origin, ssh, services
    verify      TEXT    NOT NULL,
    created_by  TEXT    NOT NULL,
    created_ms  BIGINT  NOT NULL,
    updated_by  TEXT    NOT NULL,
    updated_ms  BIGINT  NOT NULL,
    retired_by  TEXT,
    retired_ms  BIGINT
);

-- Every tick, untick, admin confirmation and reset, appended: the latest mark of a person's
-- item is its state, and the rest is who did what and when.
CREATE TABLE onboarding_marks (
    id          TEXT    PRIMARY KEY,
    item_id     TEXT    NOT NULL REFERENCES onboarding_items (id),
    person      TEXT    NOT NULL,
    -- ticked, unticked, confirmed, reset
    mark        TEXT    NOT NULL,
    by_login    TEXT    NOT NULL,
    at_ms       BIGINT  NOT NULL
);
CREATE INDEX onboarding_marks_person ON onboarding_marks (person, item_id, at_ms);

-- The people Onwatch has seen signed in, with what their sign-in said (for the checklist's
-- GitHub item) and the public key they declared (for its SSH item).
CREATE TABLE onboarding_people (
    login        TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL,
    provider     TEXT    NOT NULL,
    -- JSON array of the organisations, teams or groups seen at sign-in
    memberships  TEXT    NOT NULL,
    public_key   TEXT    NOT NULL DEFAULT '',
    -- the last test of that key against production: 'accepted', or why not
    ssh_result   TEXT    NOT NULL DEFAULT '',
    ssh_ms       BIGINT,
    last_seen_ms BIGINT  NOT NULL
);

-- Which service pages each person has opened (the first time), for "knows the services".
CREATE TABLE page_views (
    login     TEXT    NOT NULL,
    page      TEXT    NOT NULL,
    first_ms  BIGINT  NOT NULL,
    PRIMARY KEY (login, page)
);

INSERT INTO onboarding_items (id, position, text, verify, created_by, created_ms, updated_by, updated_ms) VALUES
 ('core-origin', 10, 'Member of the core origin on Builder', 'core_origin', 'runbook', 0, 'runbook', 0),
 ('github-group', 20, 'Member of the habitat-sh GitHub group', 'github', 'runbook', 0, 'runbook', 0),
 ('vault', 30, 'Access to the team''s 1Password shared vault', 'manual', 'runbook', 0, 'runbook', 0),
 ('pagerduty', 40, 'Access to PagerDuty (ask #helpdesk for an account)', 'manual', 'runbook', 0, 'runbook', 0),
 ('datadog', 50, 'Access to Datadog', 'manual', 'runbook', 0, 'runbook', 0),
 ('pingdom', 60, 'Access to Pingdom (it watches the depot''s core origin)', 'manual', 'runbook', 0, 'runbook', 0),
 ('statuspage', 70, 'Access to statuspage.io', 'manual', 'runbook', 0, 'runbook', 0),
 ('okta-aws', 80, 'The Habitat AWS Portal app on your Okta dashboard (ask #helpdesk)', 'manual', 'runbook', 0, 'runbook', 0),
 ('ssh-production', 90, 'Can ssh to the production instances', 'ssh', 'runbook', 0, 'runbook', 0),
 ('knows-services', 100, 'Basic familiarity with the services: open every service''s page and do a restart in acceptance', 'services', 'runbook', 0, 'runbook', 0);
