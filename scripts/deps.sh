#!/usr/bin/env bash
# Installs what holdgate needs on Debian 12 (bookworm), and only what is missing: packages already
# installed are left alone, and `apt-get update` runs only when something has to be installed.
#
#   scripts/deps.sh           build and run needs (compiler, libraries, sqlite3, jq)
#   scripts/deps.sh --test    also test-only needs (Chromium, promtool, clang + LLVM runtimes and
#                             llvm-symbolizer for fuzzing and sanitizers, python3, lintian and
#                             systemd-analyze for the package tests, PostgreSQL 15 and HAProxy
#                             for the replica tests, Node.js + npm when `node` is missing)
#
# Runs apt-get as root, or through sudo when not root. Services that packages ship (prometheus)
# are not started: a policy-rc.d denies starts during the install.
set -euo pipefail

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "deps.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

BUILD_PACKAGES=(
  cmake g++ ninja-build ccache pkg-config
  libcpp-httplib-dev libsqlitecpp-dev libsqlite3-dev nlohmann-json3-dev libcpp-jwt-dev catch2 libssl-dev
  libpqxx-dev                 # the PostgreSQL store (libpqxx on libpq)
  ca-certificates sqlite3 jq
)
TEST_PACKAGES=(
  chromium fonts-liberation   # headless browser tests of the approval UI (playwright-core drives /usr/bin/chromium)
  prometheus                  # promtool checks the /metrics exposition
  clang libclang-rt-14-dev    # libFuzzer and sanitizer runtimes (the asan build and fuzzers use clang)
  llvm                        # llvm-symbolizer: sanitizer reports with file:line stacks
  python3
  openssl                     # the openssl CLI makes the HTTPS webhook test's certificate
  curl                        # the package test talks HTTP to the unpacked holdgate
  dpkg-dev file               # scripts/package.sh: CPack computes Depends with dpkg-shlibdeps (and file)
  lintian                     # checks the .deb that scripts/package.sh builds (tests/packaging)
  systemd                     # systemd-analyze verify / security on the packaged holdgate.service
  man-db                      # man: renders the packaged holdgate(1) page in the packaging test
  postgresql                  # scripts/pg_throwaway.sh: the throwaway PostgreSQL 15 of the [pg] tests and bench
  haproxy                     # the replicas test and bench put three holdgate replicas behind it
)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

wanted=("${BUILD_PACKAGES[@]}")
if (( with_test )); then
  wanted+=("${TEST_PACKAGES[@]}")
  # Node.js only when there is no node at all (the machine's own Node 20 is preferred over
  # Debian's 18; tests/e2e also carries Node 22 from npm for the conformance suite).
  if ! command -v node >/dev/null 2>&1; then
    wanted+=(nodejs)
    command -v npm >/dev/null 2>&1 || wanted+=(npm)
  fi
fi

missing=()
for pkg in "${wanted[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if (( ${#missing[@]} == 0 )); then
  echo "deps.sh: all ${#wanted[@]} packages present"
  exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "deps.sh: missing packages (${missing[*]}) and neither root nor sudo to install them" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}"
# Keep package scripts from starting daemons (prometheus would otherwise listen on :9090).
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if (( own_policy )); then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do installed "$pkg" || still+=("$pkg"); done
if (( ${#still[@]} )); then
  echo "deps.sh: failed to install: ${still[*]}" >&2
  exit 1
fi
echo "deps.sh: installed ${#missing[@]} package(s)"
