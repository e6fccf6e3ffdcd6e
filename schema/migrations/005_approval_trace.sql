-- 005_approval_trace: the W3C trace id of the agent's call that created an approval, so every
-- later event of that approval (decision, release, outcome, their webhooks) carries it too, from
-- whatever thread writes it. '' = not traced (and rows written before this migration).
-- Append-only: never edit; add 006_….sql instead.
ALTER TABLE approvals ADD COLUMN trace_id TEXT NOT NULL DEFAULT '';
