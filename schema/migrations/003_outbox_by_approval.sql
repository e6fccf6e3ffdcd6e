-- 003_outbox_by_approval: the notifier looks up earlier rows of the same approval before each
-- delivery (per-approval order) and the delivery log filters by approval; without this index both
-- scan the whole outbox. Append-only: never edit; add 004_….sql instead.
CREATE INDEX IF NOT EXISTS outbox_by_approval ON outbox (approval_id, target, id);
