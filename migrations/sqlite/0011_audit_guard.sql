-- Guards of the audit chain beyond 0006's row triggers (issue #26). The chain shows an edited,
-- deleted or reordered row by itself; what it cannot show alone is a cut at its end with the head
-- put back, so the head is guarded here, and signed checkpoints kept outside the store
-- (`onwatch audit verify --checkpoint`) catch what a person who drops these triggers can still do.
--
-- SQLite has no TRUNCATE. Its equivalent, `DELETE FROM audit_log` without WHERE, is not run as a
-- wholesale erase on a table that has triggers: audit_log_no_delete (0006) fires for each row and
-- refuses it.

-- The head moves only forward, and only onto the newest row with that row's hash: it cannot be
-- put back to hide a cut tail, nor made to name a hash no row has. The append path's first
-- `SET seq = seq` (which takes the write lock) changes nothing, and is allowed. `IS` rather than
-- `=` so that a missing row (NULL) refuses instead of passing.
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NOT (
    NEW.id IS OLD.id
    AND (
        (NEW.seq IS OLD.seq AND NEW.hash IS OLD.hash)
        OR (
            NEW.seq > OLD.seq
            AND NEW.seq IS (SELECT MAX(seq) FROM audit_log)
            AND NEW.hash IS (SELECT hash FROM audit_log WHERE seq = NEW.seq)
        )
    )
)
BEGIN
    SELECT RAISE(ABORT, 'audit_head moves only forward, onto the newest audit_log row and its hash');
END;

-- One head row, made by 0006: never deleted, never a second one.
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head cannot be deleted: the chain''s head is part of the audit log');
END;
CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head has exactly one row, made by the migration');
END;

-- A row joins the chain only right after the head (the next number, the head's hash as its
-- previous hash), so no row can be slipped into a hole left by a deleted one.
CREATE TRIGGER audit_log_append_at_head BEFORE INSERT ON audit_log
WHEN NOT (
    NEW.seq IS (SELECT seq + 1 FROM audit_head WHERE id = 1)
    AND NEW.prev_hash IS (SELECT hash FROM audit_head WHERE id = 1)
)
BEGIN
    SELECT RAISE(ABORT, 'audit_log rows are appended only right after the chain''s head');
END;
