-- Change tracking for haid's in-memory view of open attempts (docs/architecture.md,
-- "Performance"). haid loads every open attempt once at start and then, each scheduling pass,
-- reads only the attempts and chains written since its previous read:
--   change_xid  the id of the transaction that last wrote the row (pg_current_xact_id()).
-- A pass reads rows with change_xid >= the xmin of the snapshot its previous read used. Every
-- transaction that committed after that snapshot was either still running then (its xid is
-- >= that xmin) or started later (its xid is larger still), so no committed change is missed,
-- whatever order transactions commit in; rows read twice are simply applied twice.
-- A manager's heartbeat (only manager_heartbeat_at changes) keeps the row's change_xid: a
-- heartbeat is not a scheduling change, and keeping the xid keeps those updates HOT and the
-- per-pass read small. haid re-reads heartbeats itself before it judges a manager lost.

ALTER TABLE chains ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE attempts ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';

CREATE FUNCTION hai_stamp_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'attempts'
     AND to_jsonb(NEW) - 'manager_heartbeat_at' - 'change_xid'
         = to_jsonb(OLD) - 'manager_heartbeat_at' - 'change_xid' THEN
    NEW.change_xid := OLD.change_xid;
  ELSE
    NEW.change_xid := pg_current_xact_id();
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER chains_change_xid BEFORE INSERT OR UPDATE ON chains
  FOR EACH ROW EXECUTE FUNCTION hai_stamp_change_xid();
CREATE TRIGGER attempts_change_xid BEFORE INSERT OR UPDATE ON attempts
  FOR EACH ROW EXECUTE FUNCTION hai_stamp_change_xid();

CREATE INDEX chains_change_xid ON chains (change_xid);
CREATE INDEX attempts_change_xid ON attempts (change_xid);

-- A deleted attempt (an admin deleting a chain by SQL cascades to its attempts) has no row
-- left to carry a change_xid: tell haid on the attempts channel so it drops it from memory.
CREATE FUNCTION hai_notify_attempt_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hai_attempts', OLD.attempt_id::text || ':deleted');
  RETURN OLD;
END $$;
CREATE TRIGGER attempts_notify_delete AFTER DELETE ON attempts
  FOR EACH ROW EXECUTE FUNCTION hai_notify_attempt_delete();

-- The node-health check runs every pass and looks for recently lost ranks; without this
-- index it scans every pods row ever written (a million after a month of use).
CREATE INDEX pods_lost ON pods (node, ended_at) WHERE state = 'lost';
