-- Daily usage rollups (docs/usage.md): the sum of a UTC day's 24 hourly rollups, so a report
-- over a year reads 365 days of rows instead of 8,760 hours of them (usage_hourly holds one
-- row per node group and owner per hour: millions for a busy year). A day is rolled up, in
-- the same transaction as its hours, once all 24 of them are; recomputing an hour (after its
-- usage_hours_done row was deleted) deletes its day, which is then summed again.
CREATE TABLE usage_daily (
  day             timestamptz NOT NULL,  -- UTC midnight
  node_group      text NOT NULL,
  user_name       text NOT NULL,
  user_group      text NOT NULL,
  tier            integer NOT NULL,
  allocated_us    bigint NOT NULL,
  lost_us         bigint NOT NULL,
  idle_us         bigint NOT NULL,
  unavailable_us  bigint NOT NULL,
  PRIMARY KEY (day, node_group, user_name, user_group, tier)
);
CREATE TABLE usage_days_done (day timestamptz PRIMARY KEY);

-- The days whose 24 hours are already rolled up (installations that ran 0014).
INSERT INTO usage_days_done
  SELECT date_bin('24 hours', hour, timestamptz 'epoch') d FROM usage_hours_done
  GROUP BY d HAVING count(*) = 24;
INSERT INTO usage_daily
  SELECT date_bin('24 hours', hour, timestamptz 'epoch') d, node_group, user_name, user_group,
         tier, sum(allocated_us), sum(lost_us), sum(idle_us), sum(unavailable_us)
  FROM usage_hourly
  WHERE date_bin('24 hours', hour, timestamptz 'epoch') IN (SELECT day FROM usage_days_done)
  GROUP BY d, node_group, user_name, user_group, tier;
