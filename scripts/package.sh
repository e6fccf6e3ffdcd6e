#!/usr/bin/env bash
# Builds the Debian package holdgate_VERSION_amd64.deb with CPack from build/ (HOLDGATE_BUILD_DIR
# overrides): holdgate and holdgate-demo-upstream in /usr/bin, the page, schemas and example
# policies in /usr/share/holdgate, the conffiles /etc/holdgate/{holdgate.json,policy.json}, the
# systemd unit, man pages. Layout and metadata: scripts/packaging/packaging.cmake.
#
#   scripts/package.sh [--out DIR] [--no-build]
#
# --out DIR     where the .deb goes (default: BUILD_DIR/package); its path is the last line printed
# --no-build    package what is already built (the test uses it; otherwise the two binaries are
#               built first, nothing else)
# Needs dpkg-dev and file (dpkg-shlibdeps computes Depends; scripts/deps.sh --test installs them).
# Check it with: lintian --fail-on error PATH.deb
set -euo pipefail
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$SELF")/.."

BUILD_DIR="${HOLDGATE_BUILD_DIR:-build}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$(pwd)/$BUILD_DIR"
out=""
build=1
while (( $# )); do
  case "$1" in
    --out) shift; out="${1:?--out needs a directory}" ;;
    --no-build) build=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"; exit 0 ;;
    *) echo "package.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
out="${out:-$BUILD_DIR/package}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

if (( build )); then
  HOLDGATE_BUILD_DIR="$BUILD_DIR" scripts/build.sh --target holdgate --target holdgate-demo-upstream
fi
for bin in holdgate holdgate-demo-upstream; do
  [[ -x "$BUILD_DIR/$bin" ]] || { echo "package.sh: $BUILD_DIR/$bin is not built" >&2; exit 1; }
done
[[ -f "$BUILD_DIR/CPackConfig.cmake" ]] || { echo "package.sh: no CPackConfig.cmake in $BUILD_DIR (configure first)" >&2; exit 1; }

# The man pages and changelog are gzipped by the build (target holdgate-package-files).
cmake --build "$BUILD_DIR" --target holdgate-package-files >/dev/null
log="$out/cpack.log"
if ! (cd "$BUILD_DIR" && cpack -G DEB --config CPackConfig.cmake -B "$out") >"$log" 2>&1; then
  cat "$log" >&2
  echo "package.sh: cpack failed" >&2
  exit 1
fi
rm -rf "$out/_CPack_Packages"
deb="$(ls -t "$out"/holdgate_*_amd64.deb | head -1)"
echo "package.sh: $(du -k "$deb" | cut -f1) KiB, $(dpkg-deb -f "$deb" Depends)"
echo "$deb"
