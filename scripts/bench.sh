#!/usr/bin/env bash
# Benchmarks holdgate (issue #9) with its own load generator (tests/bench/mcp_load.cpp) and prints
# one Markdown table per scenario.
#
#   scripts/bench.sh [passthrough|sessions|policy|holds|growth|tasks|replicas|all|smoke|profile] [bench_mcp_load flags...]
#
#   passthrough  allowed tools/call: holdgate→demo vs demo direct (HTTP), holdgate vs npm mcp-proxy
#                (stdio demo), holdgate→server-everything vs server-everything (echo); A B A B rounds
#   sessions     upstream.sessions per_agent against shared (issue 16): pass-through figures A B A B
#                on the same upstream, and the upstream's memory per agent session (HTTP and stdio;
#                the demo upstream, and server-everything when installed)
#   policy       policy evaluation, 100 rules with argument conditions (bench_policy_bench)
#   holds        10,000 held calls: RSS, threads, reviewer API latency meanwhile; one decision → agent
#                answered; all decided at once; approval creations/s (through the gateway and in-process)
#   growth       the figures at 1..256 sessions and 10..10,000 held calls; table + growth.svg
#   tasks        MCP 2026-07-28 task holds (raw tools/call with the tasks extension declared, answered
#                with a task; no connection kept): RSS and database per hold and tasks/get latency at
#                1,000 / 10,000 / 100,000 open holds (--task-holds, --task-gets)
#   replicas     durable approvals/s, approvals through the gateway and pass-through on SQLite beside
#                PostgreSQL, one replica and three behind HAProxy, in one run (a throwaway
#                PostgreSQL 15 with fsync on is started unless HOLDGATE_BENCH_PG_URL names a server)
#   all          all of the above (default)
#   smoke        a few seconds of each; checks only that they run and give sane numbers (no timing
#                assertions); exit status 1 otherwise. scripts/test.sh can call it.
#   profile      perf (cpu-clock sampling) of holdgate on the pass-through and the hold path
#
# Output: stdout, plus $OUT/<scenario>.md (the tables), $OUT/results-<scenario>.json, $OUT/growth.svg
# and per-run logs under $OUT/work/. OUT is $BUILD_DIR/bench-output unless HOLDGATE_BENCH_OUT is set;
# the build dir is build/ unless HOLDGATE_BUILD_DIR is set. HOLDGATE_BENCH_SKIP_BUILD=1 skips the build.
# Figures only mean something on a quiet machine: the load average is printed before and after, and
# HOLDGATE_BENCH_WAIT_QUIET=SECONDS waits up to that long for the 1-minute load to fall below 0.5.
set -uo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
ROOT="$(pwd)"

scenario="${1:-all}"
case "$scenario" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
  passthrough|sessions|policy|holds|growth|tasks|replicas|all|smoke|profile) shift $(( $# > 0 ? 1 : 0 )) ;;
  *) echo "bench.sh: unknown scenario '$scenario' (see --help)" >&2; exit 2 ;;
esac

BUILD_DIR="${HOLDGATE_BUILD_DIR:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
OUT="${HOLDGATE_BENCH_OUT:-$BUILD_DIR/bench-output}"
mkdir -p "$OUT"

if [[ "${HOLDGATE_BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  HOLDGATE_BUILD_DIR="$BUILD_DIR" scripts/build.sh --target holdgate --target holdgate-demo-upstream \
    --target bench_mcp_load --target bench_policy_bench >"$OUT/build.log" 2>&1 ||
    { tail -40 "$OUT/build.log" >&2; echo "bench.sh: build failed (log: $OUT/build.log)" >&2; exit 1; }
fi
LOAD="$BUILD_DIR/bench_mcp_load"
POLICY="$BUILD_DIR/bench_policy_bench"

# 10,000 held calls need ~10,000 descriptors in holdgate and in the load generator (which also
# raises its own soft limit, and its children inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# Node for mcp-proxy and server-everything: the system one if it is 20.19 or newer, else npm's node@22.
node_bin() {
  if command -v node >/dev/null 2>&1 &&
     node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    command -v node
  elif [[ -x "$ROOT/tests/e2e/node_modules/node/bin/node" ]]; then
    echo "$ROOT/tests/e2e/node_modules/node/bin/node"
  fi
}
NODE="$(node_bin)"
node_flags=()
if [[ -n "$NODE" && -d "$ROOT/tests/e2e/node_modules/mcp-proxy" ]]; then
  node_flags=(--node "$NODE")
else
  echo "bench.sh: node or tests/e2e/node_modules missing: skipping mcp-proxy and server-everything (run scripts/test.sh once)" >&2
  node_flags=(--no-mcp-proxy --no-everything)
fi

# PostgreSQL for the replicas figures (also in all and smoke): a throwaway server with fsync on.
PG_DIR=""
if [[ -z "${HOLDGATE_BENCH_PG_URL:-}" && "$scenario" =~ ^(replicas|all|smoke)$ ]]; then
  PG_DIR="$(mktemp -d /tmp/hg_bench_pg_XXXXXX)"
  if url="$(HOLDGATE_PG_FSYNC=on scripts/pg_throwaway.sh start "$PG_DIR")"; then
    export HOLDGATE_BENCH_PG_URL="$url"
  else
    echo "bench.sh: could not start a throwaway PostgreSQL; the replicas figures will fail" >&2
  fi
  trap 'scripts/pg_throwaway.sh stop "$PG_DIR"' EXIT
fi

load1() { cut -d' ' -f1 /proc/loadavg; }
if [[ -n "${HOLDGATE_BENCH_WAIT_QUIET:-}" && "$scenario" != smoke ]]; then
  waited=0
  while awk -v l="$(load1)" 'BEGIN { exit !(l >= 0.5) }' && (( waited < HOLDGATE_BENCH_WAIT_QUIET )); do
    sleep 10; waited=$(( waited + 10 ))
  done
fi
before="$(cat /proc/loadavg)"
if [[ "$scenario" != smoke ]] && awk -v l="$(load1)" 'BEGIN { exit !(l >= 0.5) }'; then
  echo "bench.sh: warning: the machine is busy (load average $before); figures will be pessimistic" >&2
fi

run_policy() {
  local iterations="${1:-2000000}"
  echo
  echo "## policy evaluation (100 rules with argument conditions; load average $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo '```'
  "$POLICY" "$iterations"
  local rc=$?
  echo '```'
  return "$rc"
}

run_profile() {
  command -v perf >/dev/null || { echo "bench.sh: perf is not installed" >&2; return 1; }
  "$LOAD" profile --out "$OUT" "${node_flags[@]}" "$@" || return 1
  local f
  for f in "$OUT"/work/*/holdgate.perf.data; do
    [[ -f "$f" ]] || continue
    echo
    echo "### perf: $(basename "$(dirname "$f")") (holdgate, cpu-clock samples, self time)"
    echo
    echo '```'
    perf report -i "$f" --stdio --no-children --sort dso,symbol --percent-limit 0.8 2>/dev/null |
      grep -v -E '^#|^$' | head -45
    echo '```'
  done
}

run_scenario() {
  local status=0 out
  local commit
  commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  git -C "$ROOT" diff --quiet HEAD -- src 2>/dev/null || commit="$commit+local changes in src/"
  echo "# holdgate bench: $scenario — $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $commit, $(nproc) CPUs, $(uname -r), load average before: $before"
  case "$scenario" in
    policy) run_policy "$@" || status=$? ;;
    smoke)
      "$LOAD" smoke --out "$OUT" "${node_flags[@]}" "$@" || status=1
      # Only that it runs and prints a figure: its own PASS/FAIL against 2 µs is not a smoke criterion.
      out="$(run_policy 20000)"
      echo "$out"
      grep -qE 'worst scenario [0-9.]+ ns/decision' <<<"$out" || { echo "smoke: the policy bench printed no figure"; status=1; }
      ;;
    profile) run_profile "$@" || status=$? ;;
    all)
      run_policy || status=1
      "$LOAD" all --out "$OUT" "${node_flags[@]}" "$@" || status=1
      ;;
    *) "$LOAD" "$scenario" --out "$OUT" "${node_flags[@]}" "$@" || status=1 ;;
  esac
  echo
  echo "load average after: $(cat /proc/loadavg)"
  return "$status"
}

run_scenario "$@" 2>&1 | tee "$OUT/$scenario.md"
exit "${PIPESTATUS[0]}"
