-- The key of the manager API's credentials (docs/security.md, "Managers"). haid derives each
-- attempt's manager credential as HMAC-SHA256(key, "hai-manager:<attempt id>") and hands it to
-- the manager it launches; any haid replica, including one started after the manager, checks
-- a presented credential against the same key, so no per-attempt secret is stored. The first
-- haid to start fills the one row from its CSPRNG (INSERT .. ON CONFLICT DO NOTHING, so
-- replicas starting together agree on one key). Deleting the row revokes every manager's
-- credential at the next haid start (running managers then fail their calls and are replaced).
CREATE TABLE manager_api_key (
  id smallint PRIMARY KEY CHECK (id = 1),
  key_hex text NOT NULL CHECK (length(key_hex) >= 64),
  created_at timestamptz NOT NULL DEFAULT now()
);
