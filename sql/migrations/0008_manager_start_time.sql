-- The start time of the manager process recorded in manager_pid (field 22 of
-- /proc/<pid>/stat: clock ticks after boot), written by the manager at its claim. haid signals
-- or trusts a recorded pid only while the process behind it has this start time (and is
-- `hai-manager --attempt <id>`): a pid the kernel reused for another process is never killed.
-- NULL for managers from before this column (the command line alone identifies them).
ALTER TABLE attempts ADD COLUMN manager_start_time bigint;
