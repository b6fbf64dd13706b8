-- Day and week usage rollups (docs/usage.md): sums of the hourly rollups, so a report over a
-- year reads 52 weeks of rows instead of 8,760 hours of them (usage_hourly holds one row per
-- node group and owner per hour: millions for a busy year). `span` is the period's length in
-- hours: 24 (a UTC day, summed from its 24 hours) or 168 (7 days from an epoch-aligned start,
-- summed from its 7 days). A period is rolled up, in the same transaction as its hours, once
-- all of its parts are; recomputing an hour (after its usage_hours_done row was deleted)
-- deletes its day and week, which are then summed again.
CREATE TABLE usage_rollups (
  span            integer NOT NULL CHECK (span IN (24, 168)),
  start           timestamptz NOT NULL,
  node_group      text NOT NULL,
  user_name       text NOT NULL,
  user_group      text NOT NULL,
  tier            integer NOT NULL,
  allocated_us    bigint NOT NULL,
  lost_us         bigint NOT NULL,
  idle_us         bigint NOT NULL,
  unavailable_us  bigint NOT NULL,
  PRIMARY KEY (span, start, node_group, user_name, user_group, tier)
);
CREATE TABLE usage_rollups_done (
  span   integer NOT NULL CHECK (span IN (24, 168)),
  start  timestamptz NOT NULL,
  PRIMARY KEY (span, start)
);
