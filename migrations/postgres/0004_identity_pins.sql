-- Role rules that name a person by login (`@jamie` on GitHub) are pinned to the account id the
-- login had when Onwatch first resolved it: a login taken over by a new account after its owner
-- left never inherits the old owner's role.
CREATE TABLE identity_pins (
    -- `github`
    provider   TEXT    NOT NULL,
    -- the login as configured, lower case
    name       TEXT    NOT NULL,
    -- the account id it was pinned to
    subject    TEXT    NOT NULL,
    pinned_ms  BIGINT  NOT NULL,
    PRIMARY KEY (provider, name)
);
