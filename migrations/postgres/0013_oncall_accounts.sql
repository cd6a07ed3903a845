-- Who did something on the on-call and incident records is the provider's account
-- (`github:1234`, `oidc:<sub>`: the id the audit log names people by), kept beside the login
-- shown. With GitHub and OIDC both on, two accounts can share a login; the login alone let one
-- act as the other. An id of '' means "not known" (rows older than this migration that the audit
-- log cannot place): such a row is matched through the account that first signed in with its
-- login (`ops::oncall::accounts`).

ALTER TABLE oncall_requests ADD COLUMN requested_by_id TEXT NOT NULL DEFAULT '';
ALTER TABLE oncall_requests ADD COLUMN answered_by_id TEXT;
ALTER TABLE oncall_feeds ADD COLUMN created_by_id TEXT NOT NULL DEFAULT '';
ALTER TABLE oncall_feeds ADD COLUMN revoked_by_id TEXT;
ALTER TABLE oncall_handoffs ADD COLUMN note_by_id TEXT;
ALTER TABLE oncall_handoffs ADD COLUMN acknowledged_by_id TEXT;
ALTER TABLE incidents ADD COLUMN declared_by_id TEXT NOT NULL DEFAULT '';
ALTER TABLE incidents ADD COLUMN owner_id TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_events ADD COLUMN author_id TEXT NOT NULL DEFAULT '';
ALTER TABLE rules_broken ADD COLUMN created_by_id TEXT NOT NULL DEFAULT '';
ALTER TABLE rules_broken ADD COLUMN done_by_id TEXT;

-- Old rows: the account the audit log recorded for the very write, where it has it.
UPDATE oncall_requests SET requested_by_id = COALESCE((SELECT a.actor FROM audit_log a
    WHERE a.kind = 'oncall.override' AND a.action_id = oncall_requests.id
    AND a.outcome = 'requested' ORDER BY a.seq LIMIT 1), '');
UPDATE oncall_feeds SET created_by_id = COALESCE((SELECT a.actor FROM audit_log a
    WHERE a.kind = 'oncall.feed' AND a.action_id = oncall_feeds.id
    AND a.outcome = 'created' ORDER BY a.seq LIMIT 1), '');
UPDATE incidents SET declared_by_id = COALESCE((SELECT a.actor FROM audit_log a
    WHERE a.kind = 'incident' AND a.action_id = incidents.id
    AND a.outcome = 'declared' ORDER BY a.seq LIMIT 1), '');
UPDATE incidents SET owner_id = declared_by_id WHERE LOWER(owner) = LOWER(declared_by);

-- The single row every acceptance of an override takes first: two acceptances at once (two
-- Postgres replicas) are checked against each other's covers, one after the other.
CREATE TABLE oncall_accept_lock (
    id  BIGINT  PRIMARY KEY
);
INSERT INTO oncall_accept_lock (id) VALUES (1);
