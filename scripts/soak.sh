#!/usr/bin/env bash
# `make soak`: a bounded soak test (issue #6). Starts a Release `sandgate serve` on a fresh data
# directory (demo data plus a bench organization with unlimited quota, as scripts/bench.sh does),
# then runs three wrk processes for SOAK_SECONDS at once (bench/soak.lua):
#   submit   valid submissions                         127.0.0.1  SOAK_SUBMIT_CONNECTIONS (8)
#   page     token page reads with a session            127.0.0.1  SOAK_PAGE_CONNECTIONS (4)
#   invalid  unknown/malformed tokens, no session, bad JSON, 404/405   [::1]  SOAK_INVALID_CONNECTIONS (4)
# The invalid traffic comes from ::1 so the per-address invalid-token throttle (429) does not touch
# the valid traffic from 127.0.0.1 (the server listens on [::], dual stack).
# Fails when a wrk process saw a status outside its expected set, had socket errors or timeouts, or
# when the server's VmRSS at the end exceeds VmRSS after the first minute by more than
# SOAK_RSS_GROWTH_PCT (5) percent. RSS is sampled every 10 s; the samples are printed.
#
# Expects a Release build in $BUILD (`make soak` builds it and installs wrk).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${BUILD:-build/release}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
SOAK_SECONDS="${SOAK_SECONDS:-300}"
SOAK_BASELINE_SECONDS="${SOAK_BASELINE_SECONDS:-60}"
SOAK_RSS_GROWTH_PCT="${SOAK_RSS_GROWTH_PCT:-5}"
SOAK_SUBMIT_CONNECTIONS="${SOAK_SUBMIT_CONNECTIONS:-8}"
SOAK_PAGE_CONNECTIONS="${SOAK_PAGE_CONNECTIONS:-4}"
SOAK_INVALID_CONNECTIONS="${SOAK_INVALID_CONNECTIONS:-4}"
SOAK_KEEP="${SOAK_KEEP:-0}"
die() {
  echo "soak: $*" >&2
  exit 1
}
[[ "$SOAK_SECONDS" =~ ^[0-9]+$ ]] || die "SOAK_SECONDS must be a whole number"
[ "$SOAK_SECONDS" -gt "$SOAK_BASELINE_SECONDS" ] ||
  SOAK_BASELINE_SECONDS=$((SOAK_SECONDS / 3)) # short runs: baseline after the first third
for tool in wrk curl python3; do command -v "$tool" >/dev/null || die "$tool is not installed"; done
SANDGATE="$BUILD/sandgate"
[ -x "$SANDGATE" ] || die "$SANDGATE is missing: build Release first (make soak does)"
UTIL=(python3 "$ROOT/bench/bench_util.py")
LUA="$ROOT/bench/soak.lua"

WORK="$(mktemp -d -t sandgate-soak.XXXXXX)"
DATA="$WORK/data"
SG_PID=""
WRK_PIDS=()
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${WRK_PIDS[@]}" "$SG_PID"; do
    [ -n "$p" ] && kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${WRK_PIDS[@]}" "$SG_PID"; do
    [ -n "$p" ] && wait "$p" 2>/dev/null || true
  done
  if [ "$SOAK_KEEP" = 1 ]; then echo "soak: kept $WORK" >&2; else rm -rf "$WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_ready() {
  local url="$1" deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    kill -0 "$SG_PID" 2>/dev/null || die "the server exited: $(tail -n 5 "$WORK/sandgate.out")"
    curl -sf -o /dev/null --max-time 2 "$url" && return 0
    sleep 0.05
  done
  die "no answer from $url"
}
start_sandgate() {
  PORT="$("${UTIL[@]}" port)"
  "$SANDGATE" serve --listen "[::]:$PORT" --data "$DATA" "$@" >>"$WORK/sandgate.out" 2>&1 &
  SG_PID=$!
  wait_ready "http://127.0.0.1:$PORT/readyz"
}
stop_sandgate() {
  kill -TERM "$SG_PID" && wait "$SG_PID" || true
  SG_PID=""
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$SG_PID/status"; }

echo "soak: working in $WORK (SOAK_SECONDS=$SOAK_SECONDS)"
start_sandgate --demo
stop_sandgate
sg() { "$SANDGATE" "$@" --data "$DATA"; }
ORG="$(sg org create "Soak Org" | awk '/^id:/ { print $2 }')"
[ -n "$ORG" ] || die "could not create the soak organization"
sg org activate "$ORG" >/dev/null
sg org set "$ORG" --daily-allowance 1000000000 --rate-per-second 1000000000 \
  --rate-per-hour 1000000000 --disable-threshold 1000000000 >/dev/null
PW="$(sg user create soak-admin --role ORG_ADMIN --org "$ORG" | sed -n 's/.*password (shown once): //p')"
[ -n "$PW" ] || die "could not create the soak organization's admin"

start_sandgate
V4="http://127.0.0.1:$PORT"
V6="http://[::1]:$PORT"
JAR="$WORK/cookies.txt"
LOGIN="$(python3 -c 'import json,sys; print(json.dumps({"username": "soak-admin", "password": sys.argv[1]}))' "$PW")"
curl -sf -c "$JAR" -H 'Content-Type: application/json' -d "$LOGIN" "$V4/api/v1/authenticatedSession" >/dev/null ||
  die "soak-admin could not sign in"
curl -sf -b "$JAR" -X POST -H "X-CSRF-Token: $(curl -sf -b "$JAR" "$V4/api/v1/authenticatedSession" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["csrfToken"])')" "$V4/api/v1/sandbox/token" >/dev/null || true
TOKEN="$(curl -sf -b "$JAR" "$V4/api/v1/sandbox/token/reveal" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')" ||
  die "could not reveal the soak organization's token"
COOKIE="$(awk '$6 == "sg_session" { print $7 }' "$JAR")"
UNKNOWN="$("${UTIL[@]}" unknown-token "$TOKEN")"
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'x' "$V6/zscsb/submit?api_token=$UNKNOWN")"
[ "$code" = 401 ] || die "an unknown token over IPv6 was answered $code, not 401"
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary 'soak' "$V4/zscsb/submit?api_token=$TOKEN")"
[ "$code" = 200 ] || die "a valid submission was answered $code, not 200"

export SOAK_TOKEN="$TOKEN" SOAK_COOKIE="$COOKIE" SOAK_UNKNOWN="$UNKNOWN"
run_wrk() {
  local mode="$1" conns="$2" base="$3"
  SOAK_MODE="$mode" wrk -t1 "-c$conns" "-d${SOAK_SECONDS}s" --timeout 10s -s "$LUA" "$base/" \
    >"$WORK/wrk-$mode.txt" 2>&1 &
  WRK_PIDS+=($!)
}
echo "soak: $SOAK_SECONDS s of traffic; RSS baseline after $SOAK_BASELINE_SECONDS s"
START=$SECONDS
run_wrk submit "$SOAK_SUBMIT_CONNECTIONS" "$V4"
run_wrk page "$SOAK_PAGE_CONNECTIONS" "$V4"
run_wrk invalid "$SOAK_INVALID_CONNECTIONS" "$V6"
BASELINE=""
SAMPLES=()
while [ $((SECONDS - START)) -lt "$SOAK_SECONDS" ]; do
  sleep 10
  kill -0 "$SG_PID" 2>/dev/null || die "the server died during the soak"
  t=$((SECONDS - START))
  r="$(rss_kb)"
  SAMPLES+=("${t}s:${r}kB")
  echo "soak: t=${t}s VmRSS=${r} kB"
  if [ -z "$BASELINE" ] && [ "$t" -ge "$SOAK_BASELINE_SECONDS" ]; then BASELINE="$r"; fi
done
rc=0
for p in "${WRK_PIDS[@]}"; do wait "$p" || rc=1; done
WRK_PIDS=()
FINAL="$(rss_kb)"
[ -n "$BASELINE" ] || BASELINE="$FINAL"
kill -0 "$SG_PID" 2>/dev/null || die "the server died during the soak"

fail=0
[ "$rc" = 0 ] || { echo "soak: a wrk process failed" >&2; fail=1; }
total=0
for mode in submit page invalid; do
  out="$WORK/wrk-$mode.txt"
  reqs="$(awk '/requests in/ { print $1 }' "$out")"
  rps="$(awk '/^Requests\/sec/ { print $2 }' "$out")"
  statuses="$(awk '/^soak-status/ { printf "%s:%s ", $3, $4 }' "$out")"
  bad="$(awk '/^soak-unexpected/ { print $3 }' "$out")"
  errs="$(sed -n 's/^soak-errors [a-z]* //p' "$out")"
  echo "soak: $mode: ${reqs:-?} requests (${rps:-?}/s), statuses ${statuses:-none}, unexpected ${bad:-?}, errors ${errs:-?}"
  total=$((total + ${reqs:-0}))
  [ "${bad:-1}" = 0 ] || { echo "soak: $mode saw unexpected statuses" >&2; fail=1; }
  echo "$errs" | grep -q 'connect=0 read=0 write=0 timeout=0' || { echo "soak: $mode had socket errors" >&2; fail=1; }
done
growth="$(awk -v a="$BASELINE" -v b="$FINAL" 'BEGIN { printf "%.2f", (b - a) * 100 / a }')"
echo "soak: $total requests in ${SOAK_SECONDS}s; VmRSS ${BASELINE} kB after ${SOAK_BASELINE_SECONDS}s, ${FINAL} kB at the end (${growth}%)"
echo "soak: samples ${SAMPLES[*]}"
if awk -v g="$growth" -v lim="$SOAK_RSS_GROWTH_PCT" 'BEGIN { exit !(g > lim) }'; then
  echo "soak: resident memory grew by ${growth}% (limit ${SOAK_RSS_GROWTH_PCT}%)" >&2
  fail=1
fi
[ "$fail" = 0 ] || die "FAILED"
echo "soak: PASSED"
