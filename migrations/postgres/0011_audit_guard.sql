-- Guards of the audit chain beyond 0006's row triggers (issue #26). The chain shows an edited,
-- deleted or reordered row by itself; what it cannot show alone is a cut at its end with the head
-- put back, so the head is guarded here, and signed checkpoints kept outside the store
-- (`onwatch audit verify --checkpoint`) catch what a person who drops these triggers can still do.

-- TRUNCATE fires no row trigger: a statement trigger refuses it, on the log and on its head.
CREATE FUNCTION audit_no_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: TRUNCATE is refused', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
FOR EACH STATEMENT EXECUTE FUNCTION audit_no_truncate();

-- One head row (made by 0006), never deleted, never a second one; it moves only forward, and only
-- onto the newest row with that row's hash, so it cannot be put back to hide a cut tail nor made
-- to name a hash no row has. The append path's first `SET seq = seq` (which takes the row lock
-- that serialises replicas) changes nothing, and is allowed. Appends hold that lock, so the
-- newest row seen here is the one being appended.
CREATE FUNCTION audit_head_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'audit_head has exactly one row, made by the migration: % is refused', TG_OP;
    END IF;
    IF NEW.id = OLD.id AND NEW.seq = OLD.seq AND NEW.hash = OLD.hash THEN
        RETURN NEW;
    END IF;
    IF NEW.id = OLD.id AND NEW.seq > OLD.seq
       AND NEW.seq IS NOT DISTINCT FROM (SELECT max(seq) FROM audit_log)
       AND NEW.hash IS NOT DISTINCT FROM (SELECT hash FROM audit_log WHERE seq = NEW.seq) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_head moves only forward, onto the newest audit_log row and its hash (refused: row % to row %)',
        OLD.seq, NEW.seq;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_head_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_head
FOR EACH ROW EXECUTE FUNCTION audit_head_guard();

-- A row joins the chain only right after the head (the next number, the head's hash as its
-- previous hash), so no row can be slipped into a hole left by a deleted one.
CREATE FUNCTION audit_log_append_at_head() RETURNS trigger AS $$
DECLARE
    head_seq  BIGINT;
    head_hash TEXT;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM audit_head WHERE id = 1;
    IF NEW.seq IS DISTINCT FROM head_seq + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN
        RAISE EXCEPTION 'audit_log rows are appended only right after the chain''s head (row % refused, the head is at row %)',
            NEW.seq, head_seq;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_at_head BEFORE INSERT ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_at_head();
