#!/usr/bin/env bash
# Configures (CMake + Ninja) and builds holdgate, the demo upstream and all tests.
#
#   scripts/build.sh [-DOPTION=VALUE ...] [--target TARGET ...]
#
# Build directory: build/ (HOLDGATE_BUILD_DIR overrides, relative to the repository root).
# Build type: RelWithDebInfo (HOLDGATE_BUILD_TYPE overrides). Parallelism: HOLDGATE_JOBS (default: Ninja's).
# -D options reach CMake's configure step, e.g. -DHOLDGATE_ASAN=ON.
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."

BUILD_DIR="${HOLDGATE_BUILD_DIR:-build}"
BUILD_TYPE="${HOLDGATE_BUILD_TYPE:-RelWithDebInfo}"

cmake_args=()
targets=()
while (( $# )); do
  case "$1" in
    -D*) cmake_args+=("$1") ;;
    --target) shift; targets+=(--target "${1:?--target needs a name}") ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
    *) echo "build.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" "${cmake_args[@]}"
elif (( ${#cmake_args[@]} )); then
  cmake -S . -B "$BUILD_DIR" "${cmake_args[@]}"
fi

jobs=()
[[ -n "${HOLDGATE_JOBS:-}" ]] && jobs=(-j "$HOLDGATE_JOBS")
cmake --build "$BUILD_DIR" "${jobs[@]}" "${targets[@]}"
