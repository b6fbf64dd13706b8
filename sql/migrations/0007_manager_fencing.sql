-- Fencing of hai-manager (issue 15). Every claim of an attempt by a manager increments
-- attempts.manager_generation in the claim's transaction, and the manager holds the value it
-- got: each of its later writes (heartbeat, pods rows, Jupyter reports, the attempt's end)
-- is conditioned on the row still carrying it, so a manager that lost its claim to a
-- successor writes nothing more (docs/architecture.md, "Crash and restart").
-- pods.start_generation records the intent to start a rank: the manager generation that was
-- about to start it, written (and committed) before the runtime is asked to; NULL = no
-- manager ever tried. A successor that finds an intent without a recorded pid adopts the
-- rank the runtime finds instead of starting a second one.

ALTER TABLE attempts ADD COLUMN manager_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE pods ADD COLUMN start_generation bigint;
