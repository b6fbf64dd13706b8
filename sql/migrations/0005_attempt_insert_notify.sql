-- Attempt notifications per statement for inserts (bench/README.md, submit_load).
-- 0001's attempts_notify sent one NOTIFY per inserted row ('<attempt_id>:queued'), so a
-- group-committed submit of 32 chains queued 32 notifications and haid's listener woke 32
-- times for one commit. No reader uses an insert's payload: haid wakes its loop on any
-- hai_attempts notification and reads what changed by change_xid (0003); only
-- '<attempt_id>:deleted' is parsed. Inserts (haid's submits, a manager's requeue after a
-- suspension, an admin's SQL) now send one 'inserted' per statement; a state change still
-- sends '<attempt_id>:<state>' per row, now filtered by a WHEN clause instead of inside the
-- function, so updates that keep the state do not call it.

DROP TRIGGER attempts_notify ON attempts;

CREATE TRIGGER attempts_notify AFTER UPDATE OF state ON attempts
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION hai_notify_attempt_change();

CREATE FUNCTION hai_notify_attempt_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hai_attempts', 'inserted');
  RETURN NULL;
END $$;

CREATE TRIGGER attempts_notify_insert AFTER INSERT ON attempts
  FOR EACH STATEMENT EXECUTE FUNCTION hai_notify_attempt_insert();

-- An inserted row takes its change_xid from a column default instead of a row trigger (the
-- same pg_current_xact_id() of the inserting transaction); updates keep 0003's trigger, which
-- also leaves a heartbeat-only update's xid alone.
ALTER TABLE chains ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id();
ALTER TABLE attempts ALTER COLUMN change_xid SET DEFAULT pg_current_xact_id();
DROP TRIGGER chains_change_xid ON chains;
DROP TRIGGER attempts_change_xid ON attempts;
CREATE TRIGGER chains_change_xid BEFORE UPDATE ON chains
  FOR EACH ROW EXECUTE FUNCTION hai_stamp_change_xid();
CREATE TRIGGER attempts_change_xid BEFORE UPDATE ON attempts
  FOR EACH ROW EXECUTE FUNCTION hai_stamp_change_xid();

-- attempts_chain (0001) indexed (chain_id, attempt_no), exactly what the table's
-- UNIQUE (chain_id, attempt_no) constraint already indexes: every insert paid for both.
DROP INDEX attempts_chain;
