#!/usr/bin/env bash
# The Debian package, end to end (registered with ctest, label integration):
#   1. scripts/package.sh --no-build builds holdgate_VERSION_amd64.deb from BUILD_DIR;
#   2. lintian reports no error (warnings are printed);
#   3. metadata: Depends names the Debian runtime libraries, /etc/holdgate files are conffiles,
#      the files are where the README says;
#   4. the man page covers every command `holdgate help` lists and renders without warnings;
#   5. the unit passes `systemd-analyze verify` (against the unpacked tree) and
#      `systemd-analyze security --offline` scores at most 2.0 (prints the score);
#   6. the unpacked binary runs with the packaged config (paths moved into the unpacked tree,
#      ports 0): config check passes, serve answers /healthz, /readyz, an MCP tools/call through
#      the packaged demo upstream, and stops cleanly on SIGTERM.
# A missing tool (lintian, systemd-analyze, curl, jq, man) fails the test: scripts/deps.sh --test.
#
#   tests/packaging/package_test.sh BUILD_DIR
set -euo pipefail
ROOT_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD_DIR="$(cd "${1:?usage: package_test.sh BUILD_DIR}" && pwd)"
WORK="$(mktemp -d /tmp/hg-package-test.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { printf '\n--- %s\n' "$*"; }
# start_server BINARY READY_FILE LOG: serve with $WORK/holdgate.json on ports 0 in the background
# (SERVER_PID) and wait until its ready file is written.
start_server() {
  "$1" serve --config "$WORK/holdgate.json" --mcp-listen 127.0.0.1:0 --review-listen 127.0.0.1:0 \
    --ready-file "$2" 2>"$3" &
  SERVER_PID=$!
  for _ in $(seq 1 400); do
    [[ -s "$2" ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$3"; fail "$1 exited at start"; }
    sleep 0.05
  done
  cat "$3"
  fail "no ready file from $1"
}
for tool in lintian systemd-analyze dpkg-deb curl jq man; do
  command -v "$tool" >/dev/null || fail "$tool is missing (scripts/deps.sh --test installs it)"
done

step "build the package"
deb="$(HOLDGATE_BUILD_DIR="$BUILD_DIR" "$ROOT_DIR/scripts/package.sh" --no-build --out "$WORK/out" | tail -1)"
[[ -f "$deb" ]] || fail "no .deb from scripts/package.sh"
version="$(dpkg-deb -f "$deb" Version)"
[[ "$(basename "$deb")" == "holdgate_${version}_amd64.deb" ]] || fail "file name $(basename "$deb")"
echo "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"

step "lintian"
lintian --fail-on error --tag-display-limit 0 "$deb" >"$WORK/lintian.txt" 2>&1 || { cat "$WORK/lintian.txt"; fail "lintian reports errors"; }
cat "$WORK/lintian.txt"
if grep -q '^E:' "$WORK/lintian.txt"; then fail "lintian error tags"; fi
echo "lintian: no errors ($(grep -c '^W:' "$WORK/lintian.txt" || true) warnings)"

step "metadata and contents"
depends="$(dpkg-deb -f "$deb" Depends)"
echo "Depends: $depends"
for lib in libc6 libstdc++6 libssl3 libsqlite3-0 libcpp-httplib0.11; do
  grep -q "\b$lib\b" <<<"$depends" || fail "Depends lacks $lib"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$WORK/conffiles"
for f in /etc/holdgate/holdgate.json /etc/holdgate/policy.json; do
  grep -qx "$f" "$WORK/conffiles" || fail "$f is not a conffile"
done
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$WORK/contents"
for f in /usr/bin/holdgate /usr/bin/holdgate-demo-upstream /usr/share/holdgate/schema/config.schema.json \
         /usr/share/holdgate/schema/policy.schema.json /usr/share/holdgate/schema/openapi.yaml \
         /usr/share/holdgate/policies/sktime.json /usr/share/holdgate/approval-ui/index.html \
         /usr/share/man/man1/holdgate.1.gz /usr/share/doc/holdgate/copyright /lib/systemd/system/holdgate.service \
         /etc/holdgate/holdgate.json; do
  grep -qx "$f" "$WORK/contents" || fail "$f is not in the package"
done
ROOT="$WORK/root"
mkdir -p "$ROOT"
dpkg-deb -x "$deb" "$ROOT"

step "man page covers every command"
HG="$ROOT/usr/bin/holdgate"
commands="$("$HG" help | awk '/^  [a-z]/ {print $1}')"
[[ -n "$commands" ]] || fail "holdgate help lists no commands"
zcat "$ROOT/usr/share/man/man1/holdgate.1.gz" >"$WORK/holdgate.1"
for c in $commands; do
  grep -Eq "^\.B holdgate ${c//-/\\\\-}( |$)" "$WORK/holdgate.1" || fail "man page has no entry for '$c'"
done
echo "covered: $(echo $commands)"
MANWIDTH=100 man --warnings -l "$ROOT/usr/share/man/man1/holdgate.1.gz" >/dev/null 2>"$WORK/man.err"
[[ ! -s "$WORK/man.err" ]] || { cat "$WORK/man.err"; fail "man page renders with warnings"; }

step "systemd-analyze verify and security"
unit="$ROOT/lib/systemd/system/holdgate.service"
# verify resolves ExecStart= and Documentation=man: on this machine: let them find the unpacked tree.
mkdir -p "$WORK/unitcheck"
sed -e "s#/usr/bin/holdgate#$ROOT/usr/bin/holdgate#g" "$unit" >"$WORK/unitcheck/holdgate.service"
MANPATH="$ROOT/usr/share/man:" systemd-analyze verify "$WORK/unitcheck/holdgate.service" 2>&1 | tee "$WORK/verify.txt"
[[ ! -s "$WORK/verify.txt" ]] || fail "systemd-analyze verify complained"
systemd-analyze security --offline=yes --no-pager "$unit" >"$WORK/security.txt" 2>&1 || { cat "$WORK/security.txt"; fail "systemd-analyze security failed"; }
score="$(grep -o 'Overall exposure level for holdgate.service: [0-9.]*' "$WORK/security.txt" | awk '{print $NF}')"
[[ -n "$score" ]] || { cat "$WORK/security.txt"; fail "no exposure score"; }
echo "systemd-analyze security: exposure $score"
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score is above 2.0"

step "the unpacked binary serves the demo with the packaged config"
state="$WORK/var/lib/holdgate"
mkdir -p "$state"
jq --arg up "$ROOT/usr/bin/holdgate-demo-upstream --stdio" --arg policy "$ROOT/etc/holdgate/policy.json" \
   --arg db "$state/holdgate.db" \
   '.upstream.command = $up | .policy = $policy | .db = $db' "$ROOT/etc/holdgate/holdgate.json" >"$WORK/holdgate.json"
"$HG" config check --config "$WORK/holdgate.json" || fail "config check refuses the packaged config"
start_server "$HG" "$WORK/ready.json" "$WORK/serve.log"
mcp="$(jq -r .mcp "$WORK/ready.json")"
review="$(jq -r .review "$WORK/ready.json")"
curl -fsS "$review/healthz" | jq -e '.status == "ok"' >/dev/null || fail "/healthz"
curl -fsS "$review/readyz" | tee "$WORK/readyz.json" | jq -e '.ready == true and .checks.upstream == "ok" and .checks.policy == "ok"' >/dev/null \
  || { cat "$WORK/readyz.json"; fail "/readyz not ready"; }
hdr=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
curl -fsS -D "$WORK/init.h" -o "$WORK/init.json" "${hdr[@]}" "$mcp" \
  -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"package-test","version":"1"}}}'
sid="$(awk -F': ' 'tolower($1) == "mcp-session-id" {print $2}' "$WORK/init.h" | tr -d '\r')"
[[ -n "$sid" ]] || fail "no MCP session"
curl -fsS -o /dev/null "${hdr[@]}" -H "Mcp-Session-Id: $sid" "$mcp" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
curl -fsS "${hdr[@]}" -H "Mcp-Session-Id: $sid" "$mcp" \
  -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_jobs","arguments":{}}}' >"$WORK/call.txt"
grep -q '"result"' "$WORK/call.txt" || { cat "$WORK/call.txt"; fail "tools/call list_jobs through the demo upstream"; }
grep -q '"isError":true' "$WORK/call.txt" && { cat "$WORK/call.txt"; fail "list_jobs refused"; }
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "holdgate exited non-zero after SIGTERM"
SERVER_PID=""
grep -q '"msg":"drained' "$WORK/serve.log" || { cat "$WORK/serve.log"; fail "no drain in the log"; }
echo "served: initialize, tools/call list_jobs, /healthz, /readyz; drained on SIGTERM"

step "install, edit the config, upgrade (dpkg into a private root): edited conffiles stay"
DROOT="$WORK/dpkgroot"
mkdir -p "$DROOT/var/lib/dpkg/info" "$DROOT/var/lib/dpkg/updates"
touch "$DROOT/var/lib/dpkg/status"
dpkg_root() { dpkg --root="$DROOT" --force-depends --force-not-root "$@"; }
dpkg_root -i "$deb" >"$WORK/dpkg1.txt" 2>&1 || { cat "$WORK/dpkg1.txt"; fail "dpkg -i"; }
[[ -x "$DROOT/usr/bin/holdgate" ]] || fail "dpkg did not install /usr/bin/holdgate"
jq '.log_level = "warn"' "$DROOT/etc/holdgate/holdgate.json" >"$WORK/edited.json"
cp "$WORK/edited.json" "$DROOT/etc/holdgate/holdgate.json"
# The next version: the same tree with a higher version number.
dpkg-deb -R "$deb" "$WORK/next"
sed -i "s/^Version: .*/Version: ${version}.1/" "$WORK/next/DEBIAN/control"
dpkg-deb -b --root-owner-group "$WORK/next" "$WORK/holdgate_${version}.1_amd64.deb" >/dev/null
dpkg_root -i "$WORK/holdgate_${version}.1_amd64.deb" >"$WORK/dpkg2.txt" 2>&1 || { cat "$WORK/dpkg2.txt"; fail "dpkg upgrade"; }
[[ "$(dpkg-query --admindir="$DROOT/var/lib/dpkg" -W -f='${Version}' holdgate)" == "${version}.1" ]] || fail "not upgraded"
cmp -s "$WORK/edited.json" "$DROOT/etc/holdgate/holdgate.json" || fail "the upgrade replaced the edited conffile"
# Restart after the upgrade: the upgraded binary on the same database and config is ready.
start_server "$DROOT/usr/bin/holdgate" "$WORK/ready2.json" "$WORK/serve2.log"
review="$(jq -r .review "$WORK/ready2.json")"
curl -fsS "$review/readyz" | jq -e '.ready == true' >/dev/null || fail "/readyz after the upgrade"
# Reload: SIGHUP re-checks the config file and reloads the policy.
kill -HUP "$SERVER_PID"
for _ in $(seq 1 200); do
  grep -q '"msg":"policy reloaded"' "$WORK/serve2.log" && break
  sleep 0.05
done
grep -q 'config file checked on reload: valid' "$WORK/serve2.log" || { cat "$WORK/serve2.log"; fail "no config re-check on SIGHUP"; }
grep -q '"msg":"policy reloaded"' "$WORK/serve2.log" || { cat "$WORK/serve2.log"; fail "no policy reload on SIGHUP"; }
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" || fail "the upgraded holdgate exited non-zero"
SERVER_PID=""
echo "installed, conffile edit kept across the upgrade to ${version}.1, restarted ready, reloaded"
echo "PASS"
