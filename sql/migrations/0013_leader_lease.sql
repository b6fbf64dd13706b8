-- Leader election of haid replicas (issue 18, scheduler/election/leader_elector.h).
-- Several haid share one database; exactly one is leader and schedules. A replica becomes
-- leader by taking a session advisory lock on a dedicated connection (Postgres drops it the
-- moment that session ends, so a crashed leader is replaced at once) and then incrementing
-- `epoch` in this one row. The leader renews `lease_until` (Postgres' clock) every third of
-- its lease; a standby that finds the lease run out terminates the holder's election session
-- (a hung or cut-off leader) and takes the lock.
-- Fencing: every write the leader makes as scheduler (plan starts and suspensions, demotions,
-- failing an attempt whose manager was lost, node health, Jupyter starts and culls) first
-- reads this row FOR SHARE in its own transaction and is refused unless `epoch` is still the
-- one the writer was elected with. The share lock makes the check and the write one step
-- against a take-over: the take-over's UPDATE waits for the writes in flight, and every later
-- write sees the new epoch. So a paused or partitioned ex-leader can place, suspend or fail
-- nothing after another replica was elected.
CREATE TABLE leader_lease (
  id smallint PRIMARY KEY CHECK (id = 1),
  epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),
  holder text,                       -- replica name (host:pid) of the leader, NULL when released
  holder_backend_pid integer,        -- pg_backend_pid() of the leader's election session
  acquired_at timestamptz,
  renewed_at timestamptz,
  lease_until timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO leader_lease (id) VALUES (1);

-- A leader that hands over (clean shutdown) or steps down NOTIFYs hai_leader, so standbys
-- and tools watching the role react without polling.
CREATE FUNCTION leader_lease_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hai_leader', NEW.epoch::text || ':' || coalesce(NEW.holder, ''));
  RETURN NULL;
END $$;
CREATE TRIGGER leader_lease_changed AFTER UPDATE OF epoch, holder ON leader_lease
  FOR EACH ROW WHEN (OLD.epoch IS DISTINCT FROM NEW.epoch OR OLD.holder IS DISTINCT FROM NEW.holder)
  EXECUTE FUNCTION leader_lease_notify();
