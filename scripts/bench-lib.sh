#!/usr/bin/env bash
# Sourced by scripts/bench.sh and scripts/bench-ab.sh: the data both prepare the same way, so a
# side-by-side run (bench-ab.sh) measures what `make bench` measures. Functions only; each returns
# non-zero (and says why on stderr) when a step fails.

# bench_create_org SANDGATE DATA: the bench organization (activated, every limit at 10^9) and its
# ORG_ADMIN "bench-admin" in the stopped data directory DATA; prints the admin's one-time password.
bench_create_org() {
  local bin=$1 data=$2 org pw
  org=$("$bin" org create "Bench Org" --data "$data" | awk '/^id:/ { print $2 }')
  [ -n "$org" ] || { echo "bench: could not create the bench organization" >&2; return 1; }
  "$bin" org activate "$org" --data "$data" >/dev/null
  "$bin" org set "$org" --daily-allowance 1000000000 --rate-per-second 1000000000 \
    --rate-per-hour 1000000000 --disable-threshold 1000000000 --data "$data" >/dev/null
  pw=$("$bin" user create bench-admin --role ORG_ADMIN --org "$org" --data "$data" |
    sed -n 's/.*password (shown once): //p')
  [ -n "$pw" ] || { echo "bench: could not create the bench organization's admin" >&2; return 1; }
  printf '%s\n' "$pw"
}

# bench_sign_in BASE PASSWORD JAR: signs bench-admin in at BASE (cookie jar JAR) and reveals the
# organization's token; prints "SESSION_COOKIE TOKEN" (both secrets: callers never log them).
bench_sign_in() {
  local base=$1 pw=$2 jar=$3 login token cookie
  login=$(python3 -c 'import json,sys; print(json.dumps({"username": "bench-admin", "password": sys.argv[1]}))' "$pw")
  curl -sf -c "$jar" -H 'Content-Type: application/json' -d "$login" \
    "$base/api/v1/authenticatedSession" >/dev/null ||
    { echo "bench: bench-admin could not sign in" >&2; return 1; }
  token=$(curl -sf -b "$jar" "$base/api/v1/sandbox/token/reveal" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') ||
    { echo "bench: could not reveal the bench token" >&2; return 1; }
  cookie=$(awk '$6 == "sg_session" { print $7 }' "$jar")
  [ -n "$cookie" ] || { echo "bench: no session cookie after signing in" >&2; return 1; }
  printf '%s %s\n' "$cookie" "$token"
}
