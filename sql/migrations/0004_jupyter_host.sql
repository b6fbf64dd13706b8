-- Where a Jupyter container's server is reachable (docs/jupyter.md): written by the manager of
-- the attempt with the port. The local runtime serves on the node's loopback (127.0.0.1, the
-- node being haid's host); the Kubernetes runtime serves through the attempt's ClusterIP
-- Service, whose cluster IP is recorded here. NULL (rows from before this column): 127.0.0.1.

ALTER TABLE jupyter_containers ADD COLUMN host text;
