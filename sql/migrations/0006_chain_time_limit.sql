-- A task's optional time limit (hai-cli python ... -- -t 2h): the user's estimate of how long
-- one attempt runs, in seconds; NULL = none given. The scheduler may start a task with a
-- limit on nodes held for a waiting task when the limit ends before that task could start
-- (EASY backfill, docs/simulation.md); a task past its limit is not stopped, but suspended
-- (checkpoint, requeue) when such a reservation needs its nodes.

ALTER TABLE chains ADD COLUMN time_limit_s integer CHECK (time_limit_s IS NULL OR time_limit_s > 0);
