#!/usr/bin/env bash
# Builds and runs the tests under a sanitizer, each in its own build directory:
#   scripts/sanitize.sh asan [NAME...]  build-asan/ (-DHOLDGATE_ASAN=ON: AddressSanitizer + UBSan +
#                                       LeakSanitizer): every unit test and the integration tests
#                                       NAME (tests/integration/NAME_test.cpp; default: all but soak)
#   scripts/sanitize.sh tsan [NAME...]  build-tsan/ (-DHOLDGATE_TSAN=ON: ThreadSanitizer): every unit
#                                       test and the integration tests NAME (default: races)
# Only the binaries the chosen tests need are built.
# RelWithDebInfo, Ninja. Every sanitized process (the test binaries and the holdgate and demo
# upstream processes they start) writes its reports to <build>/sanitizer-logs/; the run fails if
# a test fails or if any report was written, even by a child process whose test passed.
# Suppressions (third-party false positives only, each with its reason): tests/sanitizers/*.supp.
# Compiler: HOLDGATE_SANITIZE_CXX (default clang++, which scripts/deps.sh --test installs). Clang
# links ASan and UBSan as one runtime that honours log_path, so a UBSan report of a child process
# (holdgate, the demo upstream) lands in sanitizer-logs/ and fails the run. GCC
# (HOLDGATE_SANITIZE_CXX=c++) has UBSan as a second runtime that ignores log_path: a child's UBSan
# report is lost there, so GCC is only a fallback.
# Environment: HOLDGATE_SANITIZE_CXX (see above), HOLDGATE_SANITIZE_JOBS (build -j,
# default 2), HOLDGATE_CTEST_JOBS (default 2),
# HOLDGATE_SKIP_BUILD=1 (reuse the build), HOLDGATE_CTEST_ARGS (extra ctest arguments, e.g. -R x).
# The last line is "sanitize <kind>: N passed, N failed, N reports (S s)".
set -uo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
ROOT="$(pwd)"

KIND="${1:-asan}"
case "$KIND" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
  asan|tsan) ;;
  *) echo "sanitize.sh: unknown kind '$KIND' (asan or tsan)" >&2; exit 2 ;;
esac
shift $(( $# > 0 ? 1 : 0 ))
INTEGRATION=("$@")
if (( ${#INTEGRATION[@]} == 0 )); then
  if [[ "$KIND" == tsan ]]; then
    INTEGRATION=(races)
  else
    for f in tests/integration/*_test.cpp; do
      n="$(basename "$f" _test.cpp)"
      [[ "$n" == soak ]] || INTEGRATION+=("$n")
    done
  fi
fi
for n in "${INTEGRATION[@]}"; do
  [[ -f "tests/integration/${n}_test.cpp" ]] || {
    echo "sanitize.sh: no integration test '$n' (tests/integration/${n}_test.cpp)" >&2; exit 2; }
done

BUILD_DIR="$ROOT/build-$KIND"
LOG_DIR="$BUILD_DIR/sanitizer-logs"
SUPP="$ROOT/tests/sanitizers"
start=$SECONDS

if [[ "${HOLDGATE_SKIP_BUILD:-0}" != 1 ]]; then
  config=(-DHOLDGATE_ASAN=ON)
  [[ "$KIND" == tsan ]] && config=(-DHOLDGATE_TSAN=ON)
  cxx="$(command -v "${HOLDGATE_SANITIZE_CXX:-clang++}")" || {
    echo "sanitize.sh: compiler ${HOLDGATE_SANITIZE_CXX:-clang++} not found (scripts/deps.sh --test installs clang)" >&2
    exit 2; }
  config+=(-DCMAKE_CXX_COMPILER="$cxx")
  # A build directory configured with another compiler cannot be reconfigured in place. (The
  # cache records a compiler given with -D as type STRING, one CMake found itself as FILEPATH.)
  if [[ -f "$BUILD_DIR/CMakeCache.txt" ]] &&
     ! grep -qxF -e "CMAKE_CXX_COMPILER:FILEPATH=$cxx" -e "CMAKE_CXX_COMPILER:STRING=$cxx" \
       "$BUILD_DIR/CMakeCache.txt"; then
    echo "sanitize.sh: $BUILD_DIR was configured with another compiler; starting it afresh"
    rm -rf "$BUILD_DIR"
  fi
  # -O1 -g1: the sanitizers' recommended optimisation with line tables for the reports; compiles
  # markedly faster than -O2 -g on CI's two cores.
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" "${config[@]}" >/dev/null || exit 2
  # Only what the tests need (no benchmarks, no fuzzers).
  targets=(holdgate holdgate-demo-upstream)
  while read -r t; do targets+=("$t"); done < <(
    ninja -C "$BUILD_DIR" -t targets all | sed -nE 's/^(unit_[a-z_]+): .*/\1/p' | sort -u)
  targets+=($(printf 'it_%s_test ' "${INTEGRATION[@]}"))
  echo "==== build $KIND: ${targets[*]}"
  cmake --build "$BUILD_DIR" -j "${HOLDGATE_SANITIZE_JOBS:-2}" --target "${targets[@]}" || exit 2
fi
build_s=$(( SECONDS - start ))

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
# log_path: reports of every process (also the holdgate children of integration tests) as files.
export ASAN_OPTIONS="log_path=$LOG_DIR/asan:detect_leaks=1:abort_on_error=0:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="log_path=$LOG_DIR/ubsan:print_stacktrace=1:halt_on_error=1:suppressions=$SUPP/ubsan.supp${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="log_path=$LOG_DIR/tsan:suppressions=$SUPP/tsan.supp:second_deadlock_stack=1:history_size=4${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

select=(-R "^(unit/|integration/($(IFS='|'; echo "${INTEGRATION[*]}"))_test:)")
test_start=$SECONDS
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${HOLDGATE_CTEST_JOBS:-2}" "${select[@]}" \
      ${HOLDGATE_CTEST_ARGS:-} 2>&1 | tee "$BUILD_DIR/ctest-$KIND.log"
rc=${PIPESTATUS[0]}
test_s=$(( SECONDS - test_start ))

passed=0 failed=0
line="$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$BUILD_DIR/ctest-$KIND.log" | tail -1)"
if [[ -n "$line" ]]; then
  failed="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")"
  all="$(sed -E 's/.*passed, ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")"
  passed=$(( all - failed ))
elif (( rc != 0 )); then
  failed=1
fi

shopt -s nullglob
reports=("$LOG_DIR"/*)
shopt -u nullglob
if (( ${#reports[@]} )); then
  echo
  echo "==== sanitizer reports (${#reports[@]} files in $LOG_DIR)"
  for r in "${reports[@]}"; do
    echo "--- $r"
    grep -E 'ERROR|WARNING|SUMMARY|runtime error' "$r" | head -5
  done
fi

echo
echo "sanitize $KIND: integration tests: ${INTEGRATION[*]}"
echo "sanitize $KIND: build ${build_s}s, tests ${test_s}s"
echo "sanitize $KIND: $passed passed, $failed failed, ${#reports[@]} reports ($(( SECONDS - start )) s)"
(( rc == 0 && ${#reports[@]} == 0 ))
