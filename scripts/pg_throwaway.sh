#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for tests and benchmarks: initdb into a fresh temporary folder,
# its own free port, listening on 127.0.0.1 only (and a socket in the same folder), trust auth for
# the superuser "holdgate". Run as root, the server runs as the `postgres` user.
#
#   scripts/pg_throwaway.sh start [DIR]   prints the URL (postgresql://holdgate@127.0.0.1:PORT/postgres)
#                                         on stdout; DIR defaults to a new mktemp -d folder
#   scripts/pg_throwaway.sh stop DIR      stops the server and removes DIR
#   scripts/pg_throwaway.sh restart DIR   pg_ctl restart -m fast (fault tests)
#
# HOLDGATE_PG_FSYNC=on keeps fsync on (benchmarks); tests run with fsync=off (no machine crash is
# simulated, and holdgate's own guarantees do not depend on it).
set -euo pipefail

pg_bin() {
  local d
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    [[ -x "$d/initdb" ]] && { echo "$d"; return 0; }
  done
  echo "pg_throwaway.sh: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  return 1
}

as_owner() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd="${1:-}"
case "$cmd" in
  start)
    BIN="$(pg_bin)"
    DIR="${2:-$(mktemp -d /tmp/hg_pg_XXXXXX)}"
    mkdir -p "$DIR"
    [[ "$(id -u)" == 0 ]] && chown postgres:postgres "$DIR"
    chmod 700 "$DIR"
    as_owner "$BIN/initdb" -D "$DIR/data" -U holdgate --auth=trust -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 ||
      { cat "$DIR/initdb.log" >&2; exit 1; }
    PORT="$(free_port)"
    FSYNC="${HOLDGATE_PG_FSYNC:-off}"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start \
      -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c max_connections=400 -c fsync=$FSYNC -c full_page_writes=$FSYNC" \
      >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    echo "$PORT" >"$DIR/port"
    echo "postgresql://holdgate@127.0.0.1:$PORT/postgres"
    echo "pg_throwaway.sh: PostgreSQL in $DIR on 127.0.0.1:$PORT" >&2
    ;;
  stop)
    DIR="${2:?stop needs the DIR given to start}"
    BIN="$(pg_bin)"
    if [[ -d "$DIR/data" ]]; then as_owner "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true; fi
    rm -rf "$DIR"
    ;;
  restart)
    DIR="${2:?restart needs the DIR given to start}"
    BIN="$(pg_bin)"
    as_owner "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -m fast -w -t 60 restart >/dev/null
    ;;
  *)
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    exit 2
    ;;
esac
