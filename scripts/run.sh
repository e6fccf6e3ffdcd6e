#!/usr/bin/env bash
# Installs what is missing, builds, and starts holdgate on its embedded defaults:
#   agents' MCP endpoint  http://127.0.0.1:8080/mcp   (HOLDGATE_MCP_LISTEN)
#   reviewers' page/API   http://127.0.0.1:8081       (HOLDGATE_REVIEW_LISTEN)
#   SQLite database       data/holdgate.db            (HOLDGATE_DATA_DIR)
#   policy                schema/policies/demo.json   (HOLDGATE_POLICY)
#   upstream              the bundled demo upstream over stdio (Sktime-style background jobs)
#
#   scripts/run.sh [extra `holdgate serve` flags ...]      e.g. --config holdgate.json
#
# HOLDGATE_SKIP_DEPS=1 skips the package check, HOLDGATE_SKIP_BUILD=1 the build; HOLDGATE_BUILD_DIR
# picks the build directory.
# Ctrl-C stops holdgate (and with it the demo upstream).
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"
  exit 0
fi

[[ "${HOLDGATE_SKIP_DEPS:-0}" == 1 ]] || scripts/deps.sh
[[ "${HOLDGATE_SKIP_BUILD:-0}" == 1 ]] || scripts/build.sh --target holdgate --target holdgate-demo-upstream

BUILD_DIR="${HOLDGATE_BUILD_DIR:-build}"
DATA_DIR="${HOLDGATE_DATA_DIR:-data}"
MCP_LISTEN="${HOLDGATE_MCP_LISTEN:-127.0.0.1:8080}"
REVIEW_LISTEN="${HOLDGATE_REVIEW_LISTEN:-127.0.0.1:8081}"
POLICY="${HOLDGATE_POLICY:-schema/policies/demo.json}"
HOLDGATE="$BUILD_DIR/holdgate"
DEMO="$BUILD_DIR/holdgate-demo-upstream"

mkdir -p "$DATA_DIR"
READY="$DATA_DIR/ready.json"
rm -f "$READY"
UPSTREAM_CMD="$DEMO --stdio --counters-file $DATA_DIR/demo-counters.json"

"$HOLDGATE" serve \
  --mcp-listen "$MCP_LISTEN" \
  --review-listen "$REVIEW_LISTEN" \
  --upstream-cmd "$UPSTREAM_CMD" \
  --policy "$POLICY" \
  --db "$DATA_DIR/holdgate.db" \
  --ready-file "$READY" \
  "$@" &
pid=$!

stop() { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap 'stop; exit 130' INT TERM

# Wait for both listeners (the ready file), or for holdgate to die trying.
for (( i = 0; i < 300; i++ )); do
  [[ -s "$READY" ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" && rc=0 || rc=$?
    echo "run.sh: holdgate exited (status $rc) before it was ready" >&2
    exit "${rc:-1}"
  fi
  sleep 0.1
done
if [[ ! -s "$READY" ]]; then
  echo "run.sh: holdgate did not write $READY within 30 s" >&2
  stop
  exit 1
fi

mcp_url="$(jq -r .mcp "$READY")"
review_url="$(jq -r .review "$READY")"
cat <<MSG

  holdgate is running (pid $pid)
    MCP endpoint for agents:   $mcp_url
    Reviewer page and API:     $review_url
    Database:                  $DATA_DIR/holdgate.db
    Policy:                    $POLICY
    Upstream:                  $UPSTREAM_CMD

  Mint a reviewer token for the page, the API and the CLI (secret generated in $DATA_DIR/reviewer-secret):
    export HOLDGATE_TOKEN=\$($HOLDGATE token --sub alice --role reviewer --secret-file $DATA_DIR/reviewer-secret)
    export HOLDGATE_URL=$review_url

  Connect an MCP client to $mcp_url and try the demo tools: start_job {"duration_ms":600000},
  list_jobs, cancel_job {"job_id":…}. Under the demo policy cancel_job waits for a reviewer:
  approve or reject it at $review_url or with "$HOLDGATE list" / "$HOLDGATE approve ID".

  Ctrl-C stops holdgate.

MSG
wait "$pid"
