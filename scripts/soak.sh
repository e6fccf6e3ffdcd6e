#!/usr/bin/env bash
# Soak test (not for CI): mixed agent load against a real holdgate for MINUTES (default 5), with
# reviewers deciding as calls arrive, kill -9 + restart of holdgate every 15-35 s and outages of
# a webhook receiver; then every approval must be accounted for (none pending/approved/executing),
# no job may reach the upstream twice, and the audit chain must verify (online and offline).
#
#   scripts/soak.sh [MINUTES] [SEED]
#
# Builds it_soak_test (tests/integration/soak_test.cpp, a hidden Catch2 test) in
# $HOLDGATE_BUILD_DIR (default build/) unless HOLDGATE_SKIP_BUILD=1. The load phase takes MINUTES;
# settling and checks add up to two more. Prints one summary line ("soak N s, seed S: restarts …")
# and exits non-zero if a check failed.
set -uo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."
ROOT="$(pwd)"

case "${1:-}" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
esac
MINUTES="${1:-5}"
SEED="${2:-$RANDOM}"
[[ "$MINUTES" =~ ^[0-9]+$ && "$MINUTES" -gt 0 ]] || { echo "soak.sh: MINUTES must be a positive number" >&2; exit 2; }

BUILD_DIR="${HOLDGATE_BUILD_DIR:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
if [[ "${HOLDGATE_SKIP_BUILD:-0}" != 1 ]]; then
  [[ -f "$BUILD_DIR/build.ninja" || -f "$BUILD_DIR/Makefile" ]] ||
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 2
  cmake --build "$BUILD_DIR" -j "${HOLDGATE_BUILD_JOBS:-2}" --target holdgate holdgate-demo-upstream it_soak_test || exit 2
fi

echo "==== soak: ${MINUTES} min, seed ${SEED}"
start=$SECONDS
HOLDGATE_SOAK_SECONDS=$(( MINUTES * 60 )) HOLDGATE_SOAK_SEED="$SEED" \
  "$BUILD_DIR/it_soak_test" "[soak]" -w NoTests
rc=$?
echo "==== soak finished in $(( SECONDS - start )) s: $([[ $rc == 0 ]] && echo PASSED || echo FAILED)"
exit "$rc"
