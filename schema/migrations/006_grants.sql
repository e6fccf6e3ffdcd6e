-- 006_grants: remembered approvals. An approval now keeps the rule's reason (what the reviewer
-- is shown) and how the rule lets it be remembered; a grant is a remembered approval: a later call
-- it covers runs without a new approval until the grant expires or is revoked.
-- Append-only: never edit; add 007_….sql instead.
ALTER TABLE approvals ADD COLUMN rule_reason TEXT NOT NULL DEFAULT '';
-- ms a grant made from this approval may last at most; 0 = not rememberable (and older rows).
ALTER TABLE approvals ADD COLUMN remember_max INTEGER NOT NULL DEFAULT 0 CHECK (remember_max >= 0);
ALTER TABLE approvals ADD COLUMN remember_any INTEGER NOT NULL DEFAULT 0 CHECK (remember_any IN (0, 1));

CREATE TABLE grants (
  id            TEXT PRIMARY KEY CHECK (length(id) = 36 AND substr(id, 1, 4) = 'grt_'),
  approval_id   TEXT NOT NULL REFERENCES approvals (id),
  principal     TEXT NOT NULL CHECK (principal <> ''),
  scope         TEXT NOT NULL CHECK (scope IN ('principal', 'session')),
  session_id    TEXT NOT NULL DEFAULT '',  -- the session a 'session' grant is bound to
  tool          TEXT NOT NULL CHECK (tool <> ''),
  -- the covered call's fingerprint; NULL = any arguments
  fingerprint   TEXT CHECK (fingerprint IS NULL OR length(fingerprint) = 64),
  rule          TEXT NOT NULL DEFAULT '',
  created_by    TEXT NOT NULL CHECK (created_by <> ''),
  created_via   TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL CHECK (expires_at > created_at),
  revoked_at    INTEGER,
  revoked_by    TEXT,
  revoke_reason TEXT,
  -- set once by the sweep that audits the expiry
  expired_at    INTEGER,
  uses          INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
  last_used_at  INTEGER,
  CHECK (scope = 'principal' OR session_id <> ''),
  CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;

CREATE INDEX grants_live ON grants (principal, tool) WHERE revoked_at IS NULL AND expired_at IS NULL;
CREATE INDEX grants_by_expiry ON grants (expires_at) WHERE revoked_at IS NULL AND expired_at IS NULL;
