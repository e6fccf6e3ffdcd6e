-- 004_rate_counters: the counters behind policy `limits`, shared by every replica, so a limit of
-- N calls per window is N calls whichever replicas they reach. One row per bucket and window;
-- key_hash is the SHA-256 (hex) of the bucket key (counter, window, scope and the caller's scope
-- value). Rows of ended windows are deleted by holdgate. Append-only: never edit; add 005_….sql.
CREATE TABLE rate_counters (
  key_hash     TEXT NOT NULL CHECK (length(key_hash) = 64),
  window_start BIGINT NOT NULL,
  window_end   BIGINT NOT NULL,
  count        BIGINT NOT NULL CHECK (count >= 0),
  PRIMARY KEY (key_hash, window_start)
);
CREATE INDEX rate_counters_ended ON rate_counters (window_end);
