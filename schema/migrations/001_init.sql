-- 001_init: approvals, votes, comments, the hash-chained audit log, the notification outbox.
-- Applied by holdgate at start-up, inside one BEGIN IMMEDIATE transaction with every other
-- pending migration, and recorded in schema_migrations. Append-only: never edit a released
-- migration; add 002_….sql instead.

CREATE TABLE approvals (
  -- 'apr_' + 12 hex digits of created_at (ms) + 20 random hex digits: ids sort by creation time,
  -- so the primary key serves newest-first listing and time ranges, and inserts append.
  id               TEXT PRIMARY KEY CHECK (length(id) = 36 AND substr(id, 1, 4) = 'apr_'),
  principal        TEXT NOT NULL CHECK (principal <> ''),
  session_id       TEXT NOT NULL DEFAULT '',
  tool             TEXT NOT NULL CHECK (tool <> ''),
  arguments        TEXT NOT NULL CHECK (json_valid(arguments)),      -- canonical JSON
  fingerprint      TEXT NOT NULL CHECK (length(fingerprint) = 64),   -- sha256(canonical {tool, arguments})
  rule             TEXT NOT NULL DEFAULT '',
  risk             TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(risk)),
  state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'executing', 'completed',
                                                  'failed', 'rejected', 'expired', 'cancelled')),
  approvers_needed INTEGER NOT NULL DEFAULT 1 CHECK (approvers_needed >= 1),
  reviewers        TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(reviewers)),
  editable         INTEGER NOT NULL DEFAULT 0 CHECK (editable IN (0, 1)),
  edited_arguments TEXT CHECK (edited_arguments IS NULL OR json_valid(edited_arguments)),
  on_timeout       TEXT NOT NULL DEFAULT 'reject' CHECK (on_timeout IN ('reject')),
  notify           TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(notify)),
  created_at       INTEGER NOT NULL,
  expires_at       INTEGER,                                           -- NULL = never
  decided_at       INTEGER,
  decided_by       TEXT,
  decided_via      TEXT,
  reason           TEXT,
  result           TEXT CHECK (result IS NULL OR json_valid(result)),
  agent_left       INTEGER NOT NULL DEFAULT 0 CHECK (agent_left IN (0, 1)),
  updated_at       INTEGER NOT NULL,
  -- Only a pending approval is undecided; a decided one says when and by whom.
  CHECK ((state = 'pending') = (decided_at IS NULL)),
  CHECK (state = 'pending' OR decided_by IS NOT NULL),
  -- Only calls that ran carry an upstream result.
  CHECK (result IS NULL OR state IN ('completed', 'failed'))
) STRICT;

-- Few indexes on purpose: each one is a page written by every creation (2,000/s target).
-- Listing walks the primary key (time-ordered ids); pending ones also sit in
-- approvals_pending_expiry.
CREATE INDEX approvals_by_fingerprint ON approvals (principal, fingerprint, created_at);
CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE state = 'pending';

CREATE TABLE votes (
  approval_id TEXT NOT NULL REFERENCES approvals (id),
  reviewer    TEXT NOT NULL CHECK (reviewer <> ''),
  decision    TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  via         TEXT NOT NULL CHECK (via IN ('api', 'cli', 'ui', 'slack')),
  reason      TEXT NOT NULL DEFAULT '',
  at          INTEGER NOT NULL,
  UNIQUE (approval_id, reviewer),
  CHECK (decision = 'approve' OR reason <> '')
) STRICT;

CREATE TABLE comments (
  id          INTEGER PRIMARY KEY,
  approval_id TEXT NOT NULL REFERENCES approvals (id),
  author      TEXT NOT NULL CHECK (author <> ''),
  body        TEXT NOT NULL CHECK (body <> ''),
  at          INTEGER NOT NULL
) STRICT;

CREATE INDEX comments_by_approval ON comments (approval_id, id);

-- Append-only. hash = sha256 of the row's canonical form (src/store/audit.h), which includes
-- seq and prev_hash, so editing, deleting or reordering rows breaks the chain.
CREATE TABLE audit_events (
  seq         INTEGER PRIMARY KEY,
  ts          INTEGER NOT NULL,
  type        TEXT NOT NULL CHECK (type <> ''),
  approval_id TEXT NOT NULL DEFAULT '',
  principal   TEXT NOT NULL DEFAULT '',
  actor       TEXT NOT NULL DEFAULT '',
  via         TEXT NOT NULL DEFAULT '',
  tool        TEXT NOT NULL DEFAULT '',
  rule        TEXT NOT NULL DEFAULT '',
  decision    TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(detail)),
  prev_hash   TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash        TEXT NOT NULL CHECK (length(hash) = 64)
) STRICT;

-- Type filters are prefix matches (no index helps); the rest walk seq order.
CREATE INDEX audit_by_approval ON audit_events (approval_id, seq) WHERE approval_id <> '';
CREATE INDEX audit_by_ts ON audit_events (ts);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  approval_id     TEXT REFERENCES approvals (id),
  event_type      TEXT NOT NULL,
  target          TEXT NOT NULL,
  payload         TEXT NOT NULL CHECK (json_valid(payload)),
  state           TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivering', 'delivered', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER NOT NULL,
  claimed_until   INTEGER,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  last_status     TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
