-- The OS identity a user's tasks run as (issue 14, docs/security.md). users.uid is the
-- user's numeric uid on the nodes (an admin creating users for site accounts gives it the
-- account's uidNumber, e.g. from LDAP); gid is the primary gid (NULL: the same number as the
-- uid) and supplementary_gids the other groups the tasks run with. A task never runs as uid
-- or gid 0: the local runtime refuses to start it.
ALTER TABLE users ADD COLUMN gid bigint CHECK (gid IS NULL OR gid > 0);
ALTER TABLE users ADD COLUMN supplementary_gids bigint[] NOT NULL DEFAULT '{}'
  CHECK (0 < ALL (supplementary_gids));
