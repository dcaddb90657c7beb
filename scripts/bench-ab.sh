#!/usr/bin/env bash
# Two builds of Sandgate side by side: the token page and the invalid-token rejection (scenarios 1
# and 2 of `make bench`: wrk -t1 -c64, 10 s rounds after a 5 s warm-up), each binary on its own copy
# of one data directory (the bench organization, its admin's session, 998 more organizations),
# rounds alternating so both see the same machine. For a change that must not cost speed (a
# refactoring): this VM's run-to-run spread is ±20%, far more than a change of a few percent.
#
#   bash scripts/bench-ab.sh NEW_BINARY OLD_BINARY [ROUNDS=5]
#   (AB_SECONDS=10 and AB_WARMUP=5 set the round and warm-up lengths)
#
# Prints one line per round ("new page 41062.71") and the medians. The data directory is prepared
# with NEW_BINARY, so OLD_BINARY must read the same schema. Needs wrk and a Release build in
# build/release (bench/sandgate_bench_seed): `make bench` installs and builds both. Only 127.0.0.1
# is contacted; everything lives in a temporary directory removed at exit.
set -euo pipefail
NEW=$(realpath "${1:?usage: bench-ab.sh NEW_BINARY OLD_BINARY [ROUNDS]}")
OLD=$(realpath "${2:?usage: bench-ab.sh NEW_BINARY OLD_BINARY [ROUNDS]}")
ROUNDS=${3:-5}
AB_SECONDS=${AB_SECONDS:-10}
AB_WARMUP=${AB_WARMUP:-5}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UTIL=(python3 "$ROOT/bench/bench_util.py")
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
SEED=${SEED:-$ROOT/build/release/bench/sandgate_bench_seed}
W=$(mktemp -d /tmp/sandgate-ab.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
ready() {
  for _ in $(seq 400); do
    curl -sf -o /dev/null --max-time 2 "$1/readyz" && return 0
    sleep 0.05
  done
  echo "bench-ab: no answer from $1" >&2
  exit 1
}
serve() { # serve BINARY DATA PORT [flags...]: starts it, waits until ready, prints nothing
  local bin=$1 data=$2 port=$3
  shift 3
  "$bin" serve --listen "127.0.0.1:$port" --data "$data" "$@" >>"$W/serve.out" 2>&1 &
  PIDS+=($!)
  ready "http://127.0.0.1:$port"
}
stop_last() {
  kill "${PIDS[-1]}"
  wait "${PIDS[-1]}" || true
  unset 'PIDS[-1]'
}

# One data directory, prepared as make bench prepares its own (scripts/bench-lib.sh).
P=$("${UTIL[@]}" port)
serve "$NEW" "$W/d1" "$P" --demo
stop_last
PW=$(bench_create_org "$NEW" "$W/d1")
"$SEED" --data "$W/d1" --count 998 --prefix bench-org >/dev/null
serve "$NEW" "$W/d1" "$P"
read -r COOKIE TOKEN < <(bench_sign_in "http://127.0.0.1:$P" "$PW" "$W/jar")
UNKNOWN=$("${UTIL[@]}" unknown-token "$TOKEN")
stop_last
cp -a "$W/d1" "$W/d2" # the session is in the database: the same cookie signs in on both

# Both servers, the invalid-token throttle raised as in make bench (wrk has one address).
PNEW=$("${UTIL[@]}" port)
PNEW_BASE="http://127.0.0.1:$PNEW"
serve "$NEW" "$W/d1" "$PNEW" --invalid-token-limit 1000000000
POLD=$("${UTIL[@]}" port)
POLD_BASE="http://127.0.0.1:$POLD"
serve "$OLD" "$W/d2" "$POLD" --invalid-token-limit 1000000000
printf 'wrk.method = "POST"\nwrk.body = "x"\n' >"$W/post.lua"

run() { # run SIDE SCENARIO SECONDS URL [wrk options]: prints "SIDE SCENARIO REQ/S"
  local side=$1 scenario=$2 secs=$3 url=$4
  shift 4
  wrk -t1 -c64 "-d${secs}s" --timeout 10s "$@" "$url" |
    awk -v s="$side $scenario" '/Requests\/sec/ { print s, $2 }'
  sleep 1
}
round() { # round SIDE BASE SECONDS
  run "$1" page "$3" "$2/api/v1/sandbox/token" -H "Cookie: sg_session=$COOKIE"
  run "$1" reject "$3" "$2/zscsb/submit?api_token=$UNKNOWN" -s "$W/post.lua"
}
round new "$PNEW_BASE" "$AB_WARMUP" >/dev/null
round old "$POLD_BASE" "$AB_WARMUP" >/dev/null
for _ in $(seq "$ROUNDS"); do
  round new "$PNEW_BASE" "$AB_SECONDS"
  round old "$POLD_BASE" "$AB_SECONDS"
done | tee "$W/rounds.txt"
python3 - "$W/rounds.txt" <<'EOF'
import statistics, sys
r = {}
for line in open(sys.argv[1]):
    side, scenario, rate = line.split()
    r.setdefault((side, scenario), []).append(float(rate))
for scenario in ("page", "reject"):
    new, old = statistics.median(r[("new", scenario)]), statistics.median(r[("old", scenario)])
    print(f"median {scenario}: new {new:,.0f} req/s, old {old:,.0f} req/s, new/old {new / old:.2f}x")
EOF
