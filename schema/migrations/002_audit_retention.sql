-- 002_audit_retention: archive-and-prune of old audit events (`holdgate audit archive`) without
-- breaking the hash chain. Append-only: never edit; add 003_….sql instead.
--
-- An anchor records the last seq of an archived (and then pruned) prefix of audit_events with
-- that row's hash: the remaining chain starts from it instead of from the genesis hash, and the
-- archive file's head must equal it. Anchors are append-only, each continues the previous one,
-- and each must name a row that exists (with that hash) when it is inserted.
CREATE TABLE audit_anchors (
  seq            INTEGER PRIMARY KEY,                          -- last archived seq
  hash           TEXT NOT NULL CHECK (length(hash) = 64),      -- its hash = prev_hash of seq + 1
  first_seq      INTEGER NOT NULL CHECK (first_seq >= 1),      -- first seq in that archive
  start_hash     TEXT NOT NULL CHECK (length(start_hash) = 64),  -- prev_hash of first_seq
  count          INTEGER NOT NULL,
  archived_at    INTEGER NOT NULL,
  archive        TEXT NOT NULL DEFAULT '',                     -- archive file as named by the operator
  CHECK (count = seq - first_seq + 1)
) STRICT;

CREATE TRIGGER audit_anchors_no_update BEFORE UPDATE ON audit_anchors
BEGIN
  SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;

CREATE TRIGGER audit_anchors_no_delete BEFORE DELETE ON audit_anchors
BEGIN
  SELECT RAISE(ABORT, 'audit_anchors is append-only');
END;

CREATE TRIGGER audit_anchors_continue BEFORE INSERT ON audit_anchors
BEGIN
  SELECT RAISE(ABORT, 'an audit anchor must continue the previous one')
  WHERE NEW.first_seq <> COALESCE((SELECT MAX(seq) FROM audit_anchors), 0) + 1
     OR NEW.start_hash <> COALESCE((SELECT hash FROM audit_anchors ORDER BY seq DESC LIMIT 1),
                                   '0000000000000000000000000000000000000000000000000000000000000000');
  SELECT RAISE(ABORT, 'an audit anchor must name an existing audit row and its hash')
  WHERE NOT EXISTS (SELECT 1 FROM audit_events WHERE seq = NEW.seq AND hash = NEW.hash);
END;

-- The DELETE guard stays in place for every delete: only rows already covered by an anchor
-- (archived by `holdgate audit archive`, in the same transaction) may go.
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > COALESCE((SELECT MAX(seq) FROM audit_anchors), 0)
BEGIN
  SELECT RAISE(ABORT, 'audit_events is append-only (only rows archived by holdgate audit archive may be pruned)');
END;
