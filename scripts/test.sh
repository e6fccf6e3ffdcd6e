#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test; exits non-zero on any failure.
#   1. scripts/deps.sh --test          (HOLDGATE_SKIP_DEPS=1 skips it)
#   2. scripts/build.sh                (build/ or HOLDGATE_BUILD_DIR; -O2 -g1)
#   3. ctest: unit and integration labels
#   4. tests/e2e: npm ci (only when package-lock.json changed), then node --test *.test.mjs
#   5. bench: scripts/bench.sh smoke: a few seconds of every benchmark scenario; fails when a
#      scenario breaks (no figure, errors), never because the machine is slow. Counts as one test.
#   6. asan: scripts/sanitize.sh asan in build-asan/ (clang): every unit test and the integration
#      tests in HOLDGATE_ASAN_INTEGRATION (default "attacks races faults holds hardening
#      review_api": the security, fault and held-call suites; "all" = every integration test but
#      soak, ~3 more minutes) under ASan+UBSan+LSan; any sanitizer report, also of a child
#      process, fails it
# The last line is the summary "N passed, N failed" (ctest tests + node tests + asan tests; a
# stage that fails without running tests, or asan sanitizer reports, count as one failure).
#
# PostgreSQL: before the first stage that runs tests (ctest, e2e, bench, asan), a throwaway PostgreSQL 15
# server is started (scripts/pg_throwaway.sh: initdb in a temporary folder, its own port, 127.0.0.1
# only; as root it runs as the postgres user) and stopped when test.sh exits. Its URL is exported
# as HOLDGATE_TEST_PG_URL; the store suite's [pg] cases, the replica tests, the [pg] race and
# fault cases (ctest labels unit_pg, integration_pg) and tests/e2e/replicas.test.mjs run against
# it and FAIL if it is missing.
# HOLDGATE_TEST_PG_URL set beforehand: that server is used instead (nothing is started).
#
# HOLDGATE_TEST_STAGES picks stages (default "deps build ctest e2e bench asan"); optional stage: fuzz
# (scripts/fuzz.sh for HOLDGATE_FUZZ_SECONDS per target, default 10; not default because its cold
# clang build costs ~5 more minutes on 2 cores).
# HOLDGATE_E2E_FILES="demo-upstream gateway" runs only those tests/e2e/*.test.mjs.
# HOLDGATE_E2E_CONCURRENCY: test files run at once (default 2; every file binds port 0 and writes
# its own output folder). Two at once took 166 s against 247 s one at a time for the same 179 tests
# on an idle 2-core box (2026-12-06).
# Add a stage by defining stage_<name> that calls `count <passed> <failed>` and returns non-zero
# on failure, then listing it in the default below or in HOLDGATE_TEST_STAGES.
set -uo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
ROOT="$(pwd)"

if (( $# )); then
  case "$1" in
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
    *) echo "test.sh: unknown argument: $1 (stages are chosen with HOLDGATE_TEST_STAGES)" >&2; exit 2 ;;
  esac
fi

export HOLDGATE_BUILD_DIR="${HOLDGATE_BUILD_DIR:-build}"
BUILD_DIR="$HOLDGATE_BUILD_DIR"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
E2E_DIR="$ROOT/tests/e2e"
LOG_DIR="$BUILD_DIR/test-logs"
STAGES="${HOLDGATE_TEST_STAGES:-deps build ctest e2e bench asan}"
# Integration tests of the asan stage (tests/integration/NAME_test.cpp), or "all".
ASAN_INTEGRATION="${HOLDGATE_ASAN_INTEGRATION:-attacks races faults holds hardening review_api}"
CTEST_JOBS="${HOLDGATE_CTEST_JOBS:-2}"

total_passed=0
total_failed=0
failed_stages=()

count() { total_passed=$(( total_passed + $1 )); total_failed=$(( total_failed + $2 )); }
banner() { printf '\n==== %s ====\n' "$*"; }

# --- stages ----------------------------------------------------------------------------------

stage_deps() {
  [[ "${HOLDGATE_SKIP_DEPS:-0}" == 1 ]] && { echo "skipped (HOLDGATE_SKIP_DEPS=1)"; return 0; }
  scripts/deps.sh --test
}

# -O2 with line tables only (-g1): backtraces keep file:line, and the build costs about a quarter
# less CPU than -O2 -g (measured on src/review/approval_handlers.cpp: 10.5 s against 14.2 s).
stage_build() {
  scripts/build.sh -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG"
}

# Runs ctest in build dir $1 with label regex $2; counts the tests.
run_ctest() {
  local dir="$1" labels="$2" log="$LOG_DIR/ctest-$(basename "$1").log" rc
  ctest --test-dir "$dir" --output-on-failure -j "$CTEST_JOBS" -L "$labels" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  local line passed=0 failed=0
  line="$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)"
  if [[ -n "$line" ]]; then
    failed="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
    local all
    all="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
    passed=$(( all - failed ))
  elif (( rc != 0 )); then
    failed=1
  fi
  count "$passed" "$failed"
  return "$rc"
}

stage_ctest() {
  run_ctest "$BUILD_DIR" 'unit|integration'
}

# npm ci only when package-lock.json differs from the one node_modules was installed from (or
# Node 22, which the node@22 package's preinstall script fetches, is missing).
e2e_install() {
  local stamp="$E2E_DIR/node_modules/.holdgate-lock.sha256" want
  local node22="$E2E_DIR/node_modules/node/bin/node"
  want="$(sha256sum "$E2E_DIR/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -x "$node22" ]]; then
    echo "tests/e2e/node_modules is current"
    return 0
  fi
  # Install scripts must run: node@22 gets its binary from one (npm 11 warns but runs it).
  (cd "$E2E_DIR" && npm ci --no-audit --no-fund) || return 1
  if ! "$node22" --version >/dev/null 2>&1; then
    echo "test.sh: $node22 missing after npm ci (were install scripts disabled?)" >&2
    return 1
  fi
  echo "$want" > "$stamp"
}

# The Node that runs the tests: the system one if it is 20.19 or newer, else Node 22 from npm.
e2e_node() {
  if command -v node >/dev/null 2>&1 &&
     node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
    echo node
  else
    echo "$E2E_DIR/node_modules/node/bin/node"
  fi
}

stage_e2e() {
  if ! e2e_install; then count 0 1; return 1; fi
  local node tap="$LOG_DIR/e2e.tap" rc
  node="$(e2e_node)"
  shopt -s nullglob
  local files=() f
  if [[ -n "${HOLDGATE_E2E_FILES:-}" ]]; then  # e.g. "demo-upstream gateway": those *.test.mjs only
    for f in $HOLDGATE_E2E_FILES; do files+=("$E2E_DIR/$f.test.mjs"); done
  else
    files=("$E2E_DIR"/*.test.mjs)
  fi
  shopt -u nullglob
  if (( ${#files[@]} == 0 )); then echo "no e2e tests"; return 0; fi
  rm -f "$tap"
  (cd "$E2E_DIR" && "$node" --test --test-concurrency="${HOLDGATE_E2E_CONCURRENCY:-2}" \
      --test-timeout="${HOLDGATE_E2E_TEST_TIMEOUT_MS:-600000}" \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$tap" \
      "${files[@]}")
  rc=$?
  local pass fail cancelled
  pass="$(grep -E '^# pass [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
  fail="$(grep -E '^# fail [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
  cancelled="$(grep -E '^# cancelled [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
  pass="${pass:-0}"; fail=$(( ${fail:-0} + ${cancelled:-0} ))
  (( rc != 0 && fail == 0 )) && fail=1
  count "$pass" "$fail"
  return "$rc"
}

# The benchmark smoke (scripts/bench.sh smoke, on the build above): one passed or one failed test.
stage_bench() {
  local log="$LOG_DIR/bench-smoke.log" rc
  HOLDGATE_BENCH_SKIP_BUILD=1 HOLDGATE_BENCH_OUT="$BUILD_DIR/bench-smoke" scripts/bench.sh smoke 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  if (( rc == 0 )); then count 1 0; else count 0 1; fi
  return "$rc"
}

# Every unit test and the security-critical integration tests under ASan+UBSan+LSan, through
# scripts/sanitize.sh asan (build-asan/, clang); a sanitizer report from any process fails it.
stage_asan() {
  local log="$LOG_DIR/sanitize-asan.log" rc names=() line
  [[ "$ASAN_INTEGRATION" == all ]] || names=($ASAN_INTEGRATION)
  HOLDGATE_CTEST_JOBS="$CTEST_JOBS" scripts/sanitize.sh asan "${names[@]}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line="$(grep -E '^sanitize asan: [0-9]+ passed, [0-9]+ failed, [0-9]+ reports' "$log" | tail -1)"
  if [[ -z "$line" ]]; then count 0 1; return 1; fi
  local p f r
  read -r p f r < <(sed -E 's/^sanitize asan: ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) reports.*/\1 \2 \3/' <<<"$line")
  count "$p" "$f"
  (( r > 0 )) && count 0 1  # reports (possibly of a child process whose test passed): one failure
  return "$rc"
}

# A short libFuzzer run of every target (scripts/fuzz.sh, build-fuzz/, clang) from the committed
# seeds: HOLDGATE_FUZZ_SECONDS per target (default 10). Each clean target counts as one passed
# test, each with a finding as one failed. Skipped without clang++.
stage_fuzz() {
  if ! command -v clang++ >/dev/null 2>&1 && ! command -v clang++-14 >/dev/null 2>&1; then
    echo "skipped (no clang++; scripts/deps.sh --test installs it)"; return 0
  fi
  local log="$LOG_DIR/fuzz.log" rc line
  scripts/fuzz.sh "${HOLDGATE_FUZZ_SECONDS:-10}" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line="$(grep -E '^fuzz: [0-9]+ targets clean, [0-9]+ with findings' "$log" | tail -1)"
  if [[ -z "$line" ]]; then count 0 1; return 1; fi
  count "$(sed -E 's/^fuzz: ([0-9]+) targets clean.*/\1/' <<<"$line")" \
        "$(sed -E 's/.*clean, ([0-9]+) with findings.*/\1/' <<<"$line")"
  return "$rc"
}

# --- PostgreSQL ------------------------------------------------------------------------------

PG_DIR=""
pg_down() { [[ -n "$PG_DIR" ]] && scripts/pg_throwaway.sh stop "$PG_DIR"; PG_DIR=""; }
# Starts the throwaway server once (see the header); a failure leaves the URL unset, so every
# test that needs it fails.
pg_up() {
  [[ -n "${HOLDGATE_TEST_PG_URL:-}" ]] && return 0
  PG_DIR="$(mktemp -d /tmp/hg_pg_XXXXXX)"
  local url
  if url="$(scripts/pg_throwaway.sh start "$PG_DIR")"; then
    export HOLDGATE_TEST_PG_URL="$url"
    echo "test.sh: throwaway PostgreSQL at $url"
  else
    echo "test.sh: could not start the throwaway PostgreSQL; the PostgreSQL tests will fail" >&2
    rm -rf "$PG_DIR"; PG_DIR=""
  fi
}
trap pg_down EXIT

# --- driver ----------------------------------------------------------------------------------

mkdir -p "$LOG_DIR"
start=$SECONDS
for stage in $STAGES; do
  if ! declare -F "stage_$stage" >/dev/null; then
    echo "test.sh: unknown stage '$stage'" >&2
    failed_stages+=("$stage"); count 0 1
    continue
  fi
  banner "$stage"
  case "$stage" in ctest|e2e|bench|asan) pg_up ;; esac
  before_failed=$total_failed
  if ! "stage_$stage"; then
    failed_stages+=("$stage")
    (( total_failed == before_failed )) && count 0 1
    # Nothing can be tested without packages or a build.
    if [[ "$stage" == deps || "$stage" == build ]]; then break; fi
  fi
done

banner "summary ($(( SECONDS - start )) s)"
if (( ${#failed_stages[@]} )); then
  echo "failed stages: ${failed_stages[*]}"
fi
echo "$total_passed passed, $total_failed failed"
(( ${#failed_stages[@]} == 0 && total_failed == 0 ))
