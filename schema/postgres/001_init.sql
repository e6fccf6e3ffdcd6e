-- 001_init (PostgreSQL): the same tables, states and guards as the SQLite migrations 001-005,
-- for several holdgate replicas sharing one database. Applied by holdgate at start-up in one
-- transaction under pg_advisory_xact_lock (replicas starting together apply it once) and recorded
-- in schema_migrations. Append-only: never edit a released migration; add 002_….sql instead.
--
-- JSON columns are TEXT holding canonical JSON (the audit hash covers the exact text); CHECKs
-- make sure it parses. Times are ms since the epoch (BIGINT), as in SQLite.

CREATE TABLE approvals (
  id               TEXT PRIMARY KEY CHECK (length(id) = 36 AND substr(id, 1, 4) = 'apr_'),
  principal        TEXT NOT NULL CHECK (principal <> ''),
  session_id       TEXT NOT NULL DEFAULT '',
  tool             TEXT NOT NULL CHECK (tool <> ''),
  arguments        TEXT NOT NULL CHECK (arguments::jsonb IS NOT NULL),
  fingerprint      TEXT NOT NULL CHECK (length(fingerprint) = 64),
  rule             TEXT NOT NULL DEFAULT '',
  risk             TEXT NOT NULL DEFAULT 'null' CHECK (risk::jsonb IS NOT NULL),
  state            TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'executing', 'completed',
                                                  'failed', 'rejected', 'expired', 'cancelled', 'lapsed')),
  approvers_needed INTEGER NOT NULL DEFAULT 1 CHECK (approvers_needed >= 1),
  reviewers        TEXT NOT NULL DEFAULT 'null' CHECK (reviewers::jsonb IS NOT NULL),
  editable         INTEGER NOT NULL DEFAULT 0 CHECK (editable IN (0, 1)),
  edited_arguments TEXT CHECK (edited_arguments IS NULL OR edited_arguments::jsonb IS NOT NULL),
  on_timeout       TEXT NOT NULL DEFAULT 'reject' CHECK (on_timeout IN ('reject')),
  notify           TEXT NOT NULL DEFAULT 'null' CHECK (notify::jsonb IS NOT NULL),
  created_at       BIGINT NOT NULL,
  expires_at       BIGINT,
  decided_at       BIGINT,
  decided_by       TEXT,
  decided_via      TEXT,
  reason           TEXT,
  result           TEXT CHECK (result IS NULL OR result::jsonb IS NOT NULL),
  agent_left       INTEGER NOT NULL DEFAULT 0 CHECK (agent_left IN (0, 1)),
  updated_at       BIGINT NOT NULL,
  use_within       BIGINT CHECK (use_within IS NULL OR use_within > 0),
  trace_id         TEXT NOT NULL DEFAULT '',
  -- The replica that moved it to executing (replicas.id): when that replica stops heartbeating,
  -- the survivors fail the approval ("unknown: … not re-run") instead of running it again.
  executing_by     TEXT,
  CHECK ((state = 'pending') = (decided_at IS NULL)),
  CHECK (state = 'pending' OR decided_by IS NOT NULL),
  CHECK (result IS NULL OR state IN ('completed', 'failed')),
  CHECK (state <> 'executing' OR executing_by IS NOT NULL)
);

CREATE INDEX approvals_by_fingerprint ON approvals (principal, fingerprint, created_at);
CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE state = 'pending';
CREATE INDEX approvals_approved ON approvals (decided_at) WHERE state = 'approved';
CREATE INDEX approvals_executing ON approvals (executing_by) WHERE state = 'executing';
CREATE INDEX approvals_pending_by_principal ON approvals (principal) WHERE state = 'pending';

CREATE TABLE votes (
  id          BIGSERIAL PRIMARY KEY,  -- insertion order (SQLite's rowid)
  approval_id TEXT NOT NULL REFERENCES approvals (id),
  reviewer    TEXT NOT NULL CHECK (reviewer <> ''),
  decision    TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
  via         TEXT NOT NULL CHECK (via IN ('api', 'cli', 'ui', 'slack')),
  reason      TEXT NOT NULL DEFAULT '',
  at          BIGINT NOT NULL,
  UNIQUE (approval_id, reviewer),
  CHECK (decision = 'approve' OR reason <> '')
);

CREATE TABLE comments (
  id          BIGSERIAL PRIMARY KEY,
  approval_id TEXT NOT NULL REFERENCES approvals (id),
  author      TEXT NOT NULL CHECK (author <> ''),
  body        TEXT NOT NULL CHECK (body <> ''),
  at          BIGINT NOT NULL
);
CREATE INDEX comments_by_approval ON comments (approval_id, id);

-- Append-only, one chain for every replica: appends are serialised by the store (a transaction
-- advisory lock held until commit), so seq order is commit order.
CREATE TABLE audit_events (
  seq         BIGINT PRIMARY KEY CHECK (seq >= 1),
  ts          BIGINT NOT NULL,
  type        TEXT NOT NULL CHECK (type <> ''),
  approval_id TEXT NOT NULL DEFAULT '',
  principal   TEXT NOT NULL DEFAULT '',
  actor       TEXT NOT NULL DEFAULT '',
  via         TEXT NOT NULL DEFAULT '',
  tool        TEXT NOT NULL DEFAULT '',
  rule        TEXT NOT NULL DEFAULT '',
  decision    TEXT NOT NULL DEFAULT '',
  detail      TEXT NOT NULL DEFAULT 'null' CHECK (detail::jsonb IS NOT NULL),
  prev_hash   TEXT NOT NULL CHECK (length(prev_hash) = 64),
  hash        TEXT NOT NULL CHECK (length(hash) = 64)
);
CREATE INDEX audit_by_approval ON audit_events (approval_id, seq) WHERE approval_id <> '';
CREATE INDEX audit_by_ts ON audit_events (ts);

CREATE TABLE audit_anchors (
  seq         BIGINT PRIMARY KEY,
  hash        TEXT NOT NULL CHECK (length(hash) = 64),
  first_seq   BIGINT NOT NULL CHECK (first_seq >= 1),
  start_hash  TEXT NOT NULL CHECK (length(start_hash) = 64),
  count       BIGINT NOT NULL,
  archived_at BIGINT NOT NULL,
  archive     TEXT NOT NULL DEFAULT '',
  CHECK (count = seq - first_seq + 1)
);

CREATE FUNCTION holdgate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_events' AND
     OLD.seq <= COALESCE((SELECT MAX(seq) FROM audit_anchors), 0) THEN
    RETURN OLD;  -- archived by `holdgate audit archive` in this transaction: may be pruned
  END IF;
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION holdgate_append_only();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
  FOR EACH ROW EXECUTE FUNCTION holdgate_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION holdgate_append_only();
CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE OR DELETE ON audit_anchors
  FOR EACH ROW EXECUTE FUNCTION holdgate_append_only();
CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors
  FOR EACH STATEMENT EXECUTE FUNCTION holdgate_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_anchors FROM PUBLIC;

CREATE FUNCTION holdgate_anchor_continues() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.first_seq <> COALESCE((SELECT MAX(seq) FROM audit_anchors), 0) + 1 OR
     NEW.start_hash <> COALESCE((SELECT hash FROM audit_anchors ORDER BY seq DESC LIMIT 1),
                                '0000000000000000000000000000000000000000000000000000000000000000') THEN
    RAISE EXCEPTION 'an audit anchor must continue the previous one';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM audit_events WHERE seq = NEW.seq AND hash = NEW.hash) THEN
    RAISE EXCEPTION 'an audit anchor must name an existing audit row and its hash';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_anchors_continue BEFORE INSERT ON audit_anchors
  FOR EACH ROW EXECUTE FUNCTION holdgate_anchor_continues();

-- The change feed between replicas: every committed append wakes the other replicas' listeners
-- (NOTIFY is delivered at commit; a poll catches what a lost notification missed).
CREATE FUNCTION holdgate_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('holdgate_changes', '');
  RETURN NULL;
END $$;
CREATE TRIGGER audit_events_notify AFTER INSERT ON audit_events
  FOR EACH STATEMENT EXECUTE FUNCTION holdgate_notify_change();

CREATE TABLE outbox (
  id              BIGSERIAL PRIMARY KEY,
  approval_id     TEXT REFERENCES approvals (id),
  event_type      TEXT NOT NULL,
  target          TEXT NOT NULL,
  payload         TEXT NOT NULL CHECK (payload::jsonb IS NOT NULL),
  state           TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivering', 'delivered', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at BIGINT NOT NULL,
  claimed_until   BIGINT,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  last_status     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_by_approval ON outbox (approval_id, target, id);

-- Replicas sharing the database and when each was last seen alive (the executing lease).
CREATE TABLE replicas (
  id           TEXT PRIMARY KEY,
  host         TEXT NOT NULL DEFAULT '',
  started_at   BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL
);
