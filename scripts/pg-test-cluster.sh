#!/usr/bin/env bash
# A throwaway PostgreSQL 15 cluster for tests: `start DIR` creates it in DIR (removed first), runs it
# as an unprivileged user on a free loopback port with its socket in DIR, and writes the superuser
# connection URL to DIR/url. `stop DIR` stops it and removes DIR. `pause DIR` / `resume DIR` stop
# and start the same cluster (tests of an unreachable database). Nothing outside DIR is touched.
set -euo pipefail
cmd=${1:?usage: pg-test-cluster.sh start|stop|pause|resume DIR}
dir=$(realpath -m "${2:?directory}")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ]; then
  echo "pg-test-cluster: PostgreSQL server binaries not found (run scripts/install-deps.sh)" >&2
  exit 1
fi

# PostgreSQL refuses to run as root: use `nobody` then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u nobody -- "$@"; else "$@"; fi
}

# The cluster itself lives in its own directory under /tmp (DIR's parents may not be reachable for
# the unprivileged user); DIR/home names it.
home_of() { cat "$dir/home"; }

case "$cmd" in
  start)
    "$0" stop "$dir"
    mkdir -p "$dir"
    home=$(mktemp -d /tmp/sandgate-pg-XXXXXX)
    chmod 0700 "$home"
    if [ "$(id -u)" = 0 ]; then chown nobody "$home"; fi
    echo "$home" >"$dir/home"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    echo "$port" >"$dir/port"
    as_owner "$bin/initdb" -D "$home/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
    # Test-only settings: no fsync (these clusters are thrown away; the OS does not crash in a test).
    cat >>"$home/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$home'
fsync = off
synchronous_commit = on  # an immediate stop must not lose acknowledged commits
full_page_writes = off
max_connections = 300
CONF
    "$0" resume "$dir"
    echo "postgres://postgres@127.0.0.1:$port/postgres" >"$dir/url"
    cat "$dir/url"
    ;;
  resume)
    home=$(home_of)
    as_owner "$bin/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 start >/dev/null ||
      { cat "$home/server.log" >&2; exit 1; }
    ;;
  pause)
    as_owner "$bin/pg_ctl" -D "$(home_of)/data" -m immediate -w stop >/dev/null
    ;;
  stop)
    if [ -f "$dir/home" ]; then
      home=$(home_of)
      if [ -f "$home/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$home/data" -m immediate -w stop >/dev/null || true
      fi
      case "$home" in /tmp/sandgate-pg-*) rm -rf "$home" ;; esac
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: pg-test-cluster.sh start|stop|pause|resume DIR" >&2
    exit 2
    ;;
esac
