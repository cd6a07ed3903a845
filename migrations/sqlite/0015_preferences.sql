-- Each person's own settings (issue #28, point 12: the time zone every page speaks). Keyed by
-- the stable account (`provider:subject`), never the login, which can change hands.
CREATE TABLE preferences (
    person      TEXT    NOT NULL PRIMARY KEY,
    -- an IANA zone name the bundled database knows (checked when it is set and when it is read)
    time_zone   TEXT    NOT NULL,
    updated_ms  BIGINT  NOT NULL
);
