-- Usage accounting (docs/usage.md). GPU time per attempt, rank and GPU is already exact in
-- attempts (scheduled_at, started_at, suspend_requested_at, ended_at) and pods (node, gpus);
-- what was missing is the nodes' own history: when each was ready, cordoned, draining,
-- unhealthy or offline, with how many GPUs and in which group.

-- One row per change of a host's state, GPU count or group, written by a trigger so every
-- writer is recorded alike: haid's admin calls, node health, the rank reaper's cordon and
-- an admin's plain SQL. A deleted (or renamed) host gets a 'removed' row.
CREATE TABLE host_state_log (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node        text NOT NULL,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  state       text NOT NULL
              CHECK (state IN ('ready', 'cordoned', 'draining', 'unhealthy', 'offline', 'removed')),
  node_group  text NOT NULL,
  gpus        integer NOT NULL,
  reason      text NOT NULL DEFAULT ''
);
CREATE INDEX host_state_log_node_at ON host_state_log (node, at);
CREATE INDEX host_state_log_at ON host_state_log (at);

CREATE FUNCTION hai_log_host_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.node <> OLD.node) THEN
    INSERT INTO host_state_log (node, state, node_group, gpus)
      VALUES (OLD.node, 'removed', OLD.node_group, 0);
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.node <> OLD.node
      OR NEW.state IS DISTINCT FROM OLD.state OR NEW.gpus <> OLD.gpus
      OR NEW.node_group <> OLD.node_group)) THEN
    INSERT INTO host_state_log (node, state, node_group, gpus, reason)
      VALUES (NEW.node, NEW.state, NEW.node_group, NEW.gpus, NEW.state_reason);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER hosts_state_log AFTER INSERT OR UPDATE OR DELETE ON hosts
  FOR EACH ROW EXECUTE FUNCTION hai_log_host_state();

-- Hosts that exist now are taken to have been in their present state since the first
-- placement ever recorded (before this migration nothing recorded their history).
INSERT INTO host_state_log (node, at, state, node_group, gpus, reason)
  SELECT node, coalesce((SELECT min(scheduled_at) FROM attempts), now()), state, node_group, gpus,
         state_reason
  FROM hosts;

-- The time an attempt held its GPUs: from its placement to its end (open: unbounded), as a
-- range, so a window's attempts are found by one GiST index scan at either end of a year.
CREATE FUNCTION hai_held_span(scheduled timestamptz, ended timestamptz) RETURNS tstzrange
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN tstzrange(scheduled, CASE WHEN ended IS NULL THEN NULL ELSE greatest(ended, scheduled) END);
CREATE INDEX attempts_held_span ON attempts USING gist (hai_held_span(scheduled_at, ended_at))
  WHERE scheduled_at IS NOT NULL;

-- Hourly rollups (like Slurm's sreport): the figures of every closed hour, per node group and
-- owner, in GPU-microseconds; user_name = '' and tier = -1 is the hour's unallocated
-- (idle, unavailable) time. Filled by haid on demand; usage_hours_done lists the hours
-- rolled up (also those with no rows). Delete both to have them recomputed.
CREATE TABLE usage_hourly (
  hour            timestamptz NOT NULL,
  node_group      text NOT NULL,
  user_name       text NOT NULL,
  user_group      text NOT NULL,
  tier            integer NOT NULL,
  allocated_us    bigint NOT NULL,
  lost_us         bigint NOT NULL,
  idle_us         bigint NOT NULL,
  unavailable_us  bigint NOT NULL,
  PRIMARY KEY (hour, node_group, user_name, user_group, tier)
);
CREATE TABLE usage_hours_done (hour timestamptz PRIMARY KEY);
