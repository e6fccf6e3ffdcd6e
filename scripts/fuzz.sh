#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in build-fuzz/ (HOLDGATE_FUZZ=ON) and runs each for a
# fixed time, starting from the committed seeds in tests/fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     SECONDS per target (default 60); default: all targets
#
# New interesting inputs go to build-fuzz/corpus/<target>/ (the committed seeds are never
# modified); crashes, leaks, timeouts and OOMs go to build-fuzz/findings/<target>/. Prints, per
# target, executions, executions per second and findings. Exits 1 if any target found something
# (reproduce with: build-fuzz/fuzz_<target> build-fuzz/findings/<target>/<file>), 2 on a build
# error. The last line is "fuzz: N targets clean, M with findings". Environment: HOLDGATE_FUZZ_BUILD_DIR (default build-fuzz), HOLDGATE_FUZZ_JOBS (build -j,
# default 2), HOLDGATE_SKIP_BUILD=1 to reuse the binaries.
set -uo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
ROOT="$(pwd)"

case "${1:-}" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
esac
SECONDS_PER_TARGET="${1:-60}"
[[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ && "$SECONDS_PER_TARGET" -gt 0 ]] || {
  echo "fuzz.sh: SECONDS must be a positive number, got '$SECONDS_PER_TARGET'" >&2; exit 2; }
shift $(( $# > 0 ? 1 : 0 ))

BUILD_DIR="${HOLDGATE_FUZZ_BUILD_DIR:-build-fuzz}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
ALL_TARGETS=()
for f in tests/fuzz/*_fuzz.cpp; do
  n="$(basename "$f" _fuzz.cpp)"
  ALL_TARGETS+=("$n")
done
TARGETS=("$@")
(( ${#TARGETS[@]} )) || TARGETS=("${ALL_TARGETS[@]}")

CLANGXX="${HOLDGATE_FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}"
if [[ -z "$CLANGXX" ]]; then
  echo "fuzz.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

if [[ "${HOLDGATE_SKIP_BUILD:-0}" != 1 ]]; then
  echo "==== build ($BUILD_DIR, $CLANGXX)"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_COMPILER="$CLANGXX" -DHOLDGATE_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null || exit 2
  cmake --build "$BUILD_DIR" -j "${HOLDGATE_FUZZ_JOBS:-2}" \
        --target $(printf 'fuzz_%s ' "${TARGETS[@]}") || exit 2
fi

dict_for() {
  case "$1" in
    mcp_message|policy|jwt) echo "-dict=$ROOT/tests/fuzz/json.dict" ;;
  esac
}
maxlen_for() {
  case "$1" in
    policy) echo 16384 ;;
    jwt) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

status=0
summary=()
with_findings=0
for t in "${TARGETS[@]}"; do
  bin="$BUILD_DIR/fuzz_$t"
  seeds="$ROOT/tests/fuzz/corpus/$t"
  work="$BUILD_DIR/corpus/$t"
  findings="$BUILD_DIR/findings/$t"
  log="$BUILD_DIR/logs/$t.log"
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  [[ -x "$bin" ]] || { echo "fuzz.sh: $bin missing" >&2; status=2; continue; }
  before="$(ls "$findings" | wc -l)"
  echo "==== fuzz_$t for ${SECONDS_PER_TARGET}s"
  # -fork/-jobs are not used: the CI machine has 2 shared cores.
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}" \
  UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
         -max_len="$(maxlen_for "$t")" $(dict_for "$t") -print_final_stats=1 \
         -artifact_prefix="$findings/" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  runs="$(grep -E '^stat::number_of_executed_units:' "$log" | awk '{print $2}' | tail -1)"
  secs="$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | sed -E 's/^Done [0-9]+ runs in ([0-9]+) .*/\1/' | tail -1)"
  cov="$(grep -E '#[0-9]+.*cov: [0-9]+' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*ft: ([0-9]+).*corp: ([0-9]+)\/.*/cov \1, features \2, corpus \3/')"
  runs="${runs:-0}"; secs="${secs:-$SECONDS_PER_TARGET}"
  (( secs > 0 )) || secs=1
  after="$(ls "$findings" | wc -l)"
  found=$(( after - before ))
  line="$t: $runs executions in ${secs}s ($(( runs / secs ))/s), ${cov:-no coverage line}, findings: $found"
  if (( rc != 0 || found > 0 )); then
    status=1
    with_findings=$(( with_findings + 1 ))
    line+=" (exit $rc; see $log)"
    grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|deadly signal|Test unit written' "$log" | head -5 | sed 's/^/    /'
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "==== fuzz summary (${SECONDS_PER_TARGET}s per target)"
printf '%s\n' "${summary[@]}"
echo "fuzz: $(( ${#TARGETS[@]} - with_findings )) targets clean, $with_findings with findings"
exit "$status"
