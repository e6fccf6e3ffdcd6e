-- 004_approval_lapse: an approved call must be released within `use_within` of its approval, or
-- the approval lapses (a terminal state of its own): the new state needs the state CHECK widened,
-- and SQLite can change a CHECK only by rebuilding the table. holdgate runs migrations with foreign
-- keys off and checks them (PRAGMA foreign_key_check) before the migration transaction commits,
-- as SQLite's documented table-rebuild procedure requires. Append-only: never edit; add 005_….sql.

CREATE TABLE approvals_new (
  id               TEXT PRIMARY KEY CHECK (length(id) = 36 AND substr(id, 1, 4) = 'apr_'),
  principal        TEXT NOT NULL CHECK (principal <> ''),
  session_id       TEXT NOT NULL DEFAULT '',
  tool             TEXT NOT NULL CHECK (tool <> ''),
  arguments        TEXT NOT NULL CHECK (json_valid(arguments)),
  fingerprint      TEXT NOT NULL CHECK (length(fingerprint) = 64),
  rule             TEXT NOT NULL DEFAULT '',
  risk             TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(risk)),
  state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'executing', 'completed',
                                                  'failed', 'rejected', 'expired', 'cancelled',
                                                  'lapsed')),
  approvers_needed INTEGER NOT NULL DEFAULT 1 CHECK (approvers_needed >= 1),
  reviewers        TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(reviewers)),
  editable         INTEGER NOT NULL DEFAULT 0 CHECK (editable IN (0, 1)),
  edited_arguments TEXT CHECK (edited_arguments IS NULL OR json_valid(edited_arguments)),
  on_timeout       TEXT NOT NULL DEFAULT 'reject' CHECK (on_timeout IN ('reject')),
  notify           TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(notify)),
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER,
  decided_at       INTEGER,
  decided_by       TEXT,
  decided_via      TEXT,
  reason           TEXT,
  result           TEXT CHECK (result IS NULL OR json_valid(result)),
  agent_left       INTEGER NOT NULL DEFAULT 0 CHECK (agent_left IN (0, 1)),
  updated_at       INTEGER NOT NULL,
  -- ms after decided_at within which an approved call must be released; NULL = never lapses
  -- (rows written before this migration).
  use_within       INTEGER CHECK (use_within IS NULL OR use_within > 0),
  CHECK ((state = 'pending') = (decided_at IS NULL)),
  CHECK (state = 'pending' OR decided_by IS NOT NULL),
  CHECK (result IS NULL OR state IN ('completed', 'failed'))
) STRICT;

INSERT INTO approvals_new (id, principal, session_id, tool, arguments, fingerprint, rule, risk, state,
                           approvers_needed, reviewers, editable, edited_arguments, on_timeout, notify,
                           created_at, expires_at, decided_at, decided_by, decided_via, reason, result,
                           agent_left, updated_at, use_within)
SELECT id, principal, session_id, tool, arguments, fingerprint, rule, risk, state,
       approvers_needed, reviewers, editable, edited_arguments, on_timeout, notify,
       created_at, expires_at, decided_at, decided_by, decided_via, reason, result,
       agent_left, updated_at, NULL
FROM approvals;

DROP TABLE approvals;
ALTER TABLE approvals_new RENAME TO approvals;

CREATE INDEX approvals_by_fingerprint ON approvals (principal, fingerprint, created_at);
CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE state = 'pending';
-- The sweep that lapses approved calls nobody released reads only approved rows.
CREATE INDEX approvals_approved ON approvals (decided_at) WHERE state = 'approved';
