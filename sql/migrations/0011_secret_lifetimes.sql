-- Secrets with lifetimes and contained self-harm (issue 14, docs/security.md).
--
-- A Jupyter container has its own access token (not its owner's API token). haid derives it
-- from the owner's current API token when the owner asks for the URL and keeps only its
-- SHA-256 here, with the owner's token hash it was derived from: the container's server asks
-- haid about every request (cached under a second), and haid accepts the token only while it
-- matches and the owner is active with that same token, so rotating or disabling the owner
-- locks the notebook.
ALTER TABLE jupyter_containers ADD COLUMN access_token_hash text NOT NULL DEFAULT '';
ALTER TABLE jupyter_containers ADD COLUMN owner_token_hash text NOT NULL DEFAULT '';

-- Requeues of the chain because a rank ended itself (a SIGKILL hai did not send: the task's
-- own process group, its own OOM). The manager fails the chain once this reaches
-- scheduler.max_self_requeues; such ends never count against a node.
ALTER TABLE chains ADD COLUMN self_requeues integer NOT NULL DEFAULT 0 CHECK (self_requeues >= 0);
