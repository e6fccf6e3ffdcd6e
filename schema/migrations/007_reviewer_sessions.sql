-- 007_reviewer_sessions: reviewers' single sign-on sessions (review/sessions.h), in the store so
-- they survive a restart and work on every replica. Keyed by the SHA-256 (hex) of the session id;
-- the id itself (the cookie) is never stored.
-- Append-only: never edit; add 008_….sql instead.
CREATE TABLE reviewer_sessions (
  id_hash      TEXT PRIMARY KEY CHECK (length(id_hash) = 64),
  subject      TEXT NOT NULL CHECK (subject <> ''),
  role         TEXT NOT NULL CHECK (role IN ('auditor', 'reviewer', 'admin')),
  display_name TEXT NOT NULL DEFAULT '',
  csrf_token   TEXT NOT NULL CHECK (length(csrf_token) = 64),
  created_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL CHECK (last_seen_at >= created_at),
  expires_at   INTEGER NOT NULL CHECK (expires_at > created_at)
) STRICT;
CREATE INDEX reviewer_sessions_by_last_seen ON reviewer_sessions (last_seen_at);
