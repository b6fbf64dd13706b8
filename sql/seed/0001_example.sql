-- Example seed: an admin, one user, a lab group, public quotas for group `default`, and a
-- train environment. Tokens below are examples for a private dev install; rotate them with
-- `hai-cli admin user rotate-token` (or UPDATE users SET token_hash = ...) on a real cluster.
-- token_hash = sha256 hex of the token: printf %s TOKEN | sha256sum
INSERT INTO user_groups (group_name, description) VALUES
  ('lab', 'example research lab')
ON CONFLICT DO NOTHING;

INSERT INTO users (user_name, role, token_hash) VALUES
  ('admin', 'admin', encode(sha256('admin-token'::bytea), 'hex')),
  ('alice', 'internal', encode(sha256('alice-token'::bytea), 'hex'))
ON CONFLICT (user_name) DO NOTHING;

INSERT INTO user_group_members (user_name, group_name) VALUES ('alice', 'lab')
ON CONFLICT DO NOTHING;

-- Public quotas: everyone may hold up to 4 nodes of group `default` at each tier up to HIGH.
INSERT INTO quota (owner_kind, owner, resource, quota) VALUES
  ('public', 'public', 'node-default-LOW', 4),
  ('public', 'public', 'node-default-BELOW_NORMAL', 4),
  ('public', 'public', 'node-default-NORMAL', 4),
  ('public', 'public', 'node-default-ABOVE_NORMAL', 4),
  ('public', 'public', 'node-default-HIGH', 4),
  ('group', 'lab', 'node-default-VERY_HIGH', 2)
ON CONFLICT (owner_kind, owner, resource) DO NOTHING;

INSERT INTO train_environments (env_name, image, python, description) VALUES
  ('default', 'python:3.11-slim', 'python3', 'system python3')
ON CONFLICT (env_name) DO NOTHING;
