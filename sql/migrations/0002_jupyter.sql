-- Jupyter dev containers (docs/jupyter.md). A container is a chain of kind 'jupyter' (so
-- `hai-cli list/status` and the manager machinery are shared with training); this table holds
-- what only containers have: the resources they are bin-packed by, the keep-alive opt-out,
-- what the container's manager reports about the running server, and idle culling.

CREATE TABLE jupyter_containers (
  chain_id           bigint PRIMARY KEY REFERENCES chains (chain_id) ON DELETE CASCADE,
  cpu_millis         bigint NOT NULL CHECK (cpu_millis > 0),
  memory_mib         bigint NOT NULL CHECK (memory_mib > 0),
  gpus               integer NOT NULL DEFAULT 0 CHECK (gpus >= 0 AND gpus <= 64),
  keep_alive         boolean NOT NULL DEFAULT false,   -- never culled when idle
  -- Written by the manager of the attempt that runs the server: the attempt it belongs to
  -- (a port of an earlier attempt is stale), the loopback port, when the server first
  -- answered, and the server's own last_activity (kernels, terminals, API requests).
  attempt_id         bigint,
  port               integer CHECK (port BETWEEN 1 AND 65535),
  ready_at           timestamptz,
  server_activity_at timestamptz,
  -- haid side: the last JupyterService request about this container (url, create, ...).
  api_activity_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  culled_at          timestamptz,
  cull_reason        text NOT NULL DEFAULT ''
);
