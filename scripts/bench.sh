#!/usr/bin/env bash
# `make bench`: Sandgate side by side with Debian's nginx on this machine (issue 7).
#
# Runs the Google Benchmark microbenchmarks, prepares its own data directory (demo data, a bench
# organization with unlimited quota, BENCH_ORGS organizations with tokens), starts `sandgate serve`
# and nginx (unprivileged-friendly config in a temporary directory) on free loopback ports, loads
# both with wrk (1 thread, BENCH_CONNECTIONS connections, a warm-up, then BENCH_ROUNDS rounds of
# BENCH_SECONDS seconds; medians), times a BENCH_STREAM_MIB MiB discan upload against sha256sum,
# optionally repeats scenarios 1 and 3 with BENCH_SCALE_ORGS organizations, prints one table and
# writes it into BENCH_DOC (docs/PERFORMANCE.md) with the machine description and the commands.
#
# Expects a Release build in $BUILD (default build/release) and wrk + nginx installed: `make bench`
# does both. Only 127.0.0.1 is ever contacted. Everything lives in a temporary directory removed at
# exit (BENCH_KEEP=1 keeps it).
#
# Settings (environment):
#   BENCH_SECONDS=10 BENCH_ROUNDS=3 BENCH_WARMUP=5 BENCH_CONNECTIONS=64
#   BENCH_ORGS=1000            organizations with tokens for scenarios 1-4
#   BENCH_SCALE_ORGS=1000000   organizations for the scale run (target 5); 0 skips it
#   BENCH_START_TIMEOUT=900    seconds the scale run waits for the server to become ready
#   BENCH_STREAM_MIB=400       size of the streaming upload; 0 skips scenario 4
#   (nginx runs twice, worker_processes 1 and auto; HAProxy once: the best of the three is the
#   baseline of scenarios 1 and 2, issue 19)
#   BENCH_MICRO_MIN_TIME=0.5   seconds per microbenchmark repetition; BENCH_MICRO=0 skips them
#   SANDGATE_SIGNATURE_BASE=DIR  the Rules/sigbase/* microbenchmarks (scans/s with signature-base)
#                              load this full signature-base yara/ directory instead of the
#                              vendored subset (tests/fixtures/signature-base-subset)
#   BENCH_DOC=docs/PERFORMANCE.md   where the results go; empty: print only
#   BENCH_METRICS_OFF=1        also run scenarios 1 and 2 against a second server started with
#                              --metrics off (rounds alternating): the cost of counting (issue 16)
#   BENCH_SG_THREADS1=1        also run scenarios 1 and 2 against a second server started with
#                              --threads 1 (rounds alternating): Sandgate at its best, measured
#                              like nginx in both configurations, the better one compared
#   BENCH_PG=1                 scenarios 2 and 3 against one node on PostgreSQL (a throwaway
#                              cluster on this machine, scripts/pg-test-cluster.sh; the same data
#                              copied with `sandgate store copy`), rounds alternating with the
#                              SQLite node (issue 19, target 6); 0 skips it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD="${BUILD:-build/release}"
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
BENCH_SECONDS="${BENCH_SECONDS:-10}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
BENCH_WARMUP="${BENCH_WARMUP:-5}"
BENCH_CONNECTIONS="${BENCH_CONNECTIONS:-64}"
BENCH_ORGS="${BENCH_ORGS:-1000}"
BENCH_SCALE_ORGS="${BENCH_SCALE_ORGS:-1000000}"
BENCH_STREAM_MIB="${BENCH_STREAM_MIB:-400}"
BENCH_MICRO="${BENCH_MICRO:-1}"
BENCH_MICRO_MIN_TIME="${BENCH_MICRO_MIN_TIME:-0.5}"
BENCH_DOC="${BENCH_DOC-docs/PERFORMANCE.md}"
BENCH_KEEP="${BENCH_KEEP:-0}"
BENCH_START_TIMEOUT="${BENCH_START_TIMEOUT:-900}"
BENCH_METRICS_OFF="${BENCH_METRICS_OFF:-1}"
BENCH_PG="${BENCH_PG:-1}"
BENCH_SG_THREADS1="${BENCH_SG_THREADS1:-1}"

die() {
  echo "bench: $*" >&2
  exit 1
}
for v in BENCH_SECONDS BENCH_ROUNDS BENCH_WARMUP BENCH_CONNECTIONS BENCH_ORGS BENCH_SCALE_ORGS \
  BENCH_STREAM_MIB BENCH_START_TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[ "$BENCH_SECONDS" -ge 1 ] && [ "$BENCH_ROUNDS" -ge 1 ] || die "BENCH_SECONDS and BENCH_ROUNDS must be >= 1"
[ "$BENCH_ORGS" -ge 2 ] || die "BENCH_ORGS must be >= 2 (the demo and the bench organization)"

# nginx lives in sbin, which is not on every user's PATH.
PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
for tool in wrk nginx haproxy curl python3 sha256sum awk; do
  command -v "$tool" >/dev/null || die "$tool is not installed (run \`make bench\`, which installs it)"
done
SANDGATE="$BUILD/sandgate"
MICRO="$BUILD/bench/sandgate_micro_bench"
SEED="$BUILD/bench/sandgate_bench_seed"
for bin in "$SANDGATE" "$MICRO" "$SEED"; do
  [ -x "$bin" ] || die "$bin is missing: build Release first (make bench does)"
done
UTIL=(python3 "$ROOT/bench/bench_util.py")
# shellcheck source=scripts/bench-lib.sh
source "$ROOT/scripts/bench-lib.sh"
LUA="$ROOT/bench/post_body.lua"

WORK="$(mktemp -d -t sandgate-bench.XXXXXX)"
DATA="$WORK/data"
NGX="$WORK/nginx"
HAP="$WORK/haproxy"
RESULTS="$WORK/results.jsonl"
COMMANDS="$WORK/commands.txt"
SG_PID=""
NGINX_PID=""
NGINX1_PID=""
HAP_PID=""
PGN_PID=""
PG_DIR=""
NM_PID=""
T1_PID=""
CHILD_PID=""
SG_LOG="$DATA/sandgate.log"

stop_pid() {
  local pid="$1" i
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$CHILD_PID"
  stop_pid "$SG_PID"
  stop_pid "$NM_PID"
  stop_pid "$T1_PID"
  stop_pid "$NGINX_PID"
  stop_pid "$NGINX1_PID"
  stop_pid "$HAP_PID"
  stop_pid "$PGN_PID"
  if [ -n "$PG_DIR" ]; then bash "$ROOT/scripts/pg-test-cluster.sh" stop "$PG_DIR" >/dev/null 2>&1 || true; fi
  if [ "$BENCH_KEEP" = 1 ]; then
    echo "bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_child CMD...: runs a long command in the background and waits for it, so that a signal is
# handled at once (bash runs traps only between foreground commands) and cleanup can stop it.
run_child() {
  local rc=0
  "$@" &
  CHILD_PID=$!
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
free_port() { "${UTIL[@]}" port; }
log_cmd() { printf '%s\n' "$*" >>"$COMMANDS"; }
# The arguments as one shell command line (quoted where needed), for the doc.
quote_cmd() {
  local out="" a q="'"
  for a in "$@"; do
    if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+="$a "
    else
      out+="$q${a//$q/$q\\$q$q}$q "
    fi
  done
  printf '%s' "${out% }"
}
# The command as shown in the doc: secrets and temporary paths replaced by placeholders.
redact() {
  local s="$*"
  if [ -n "${TOKEN:-}" ]; then s="${s//"$TOKEN"/<bench-org token>}"; fi
  if [ -n "${UNKNOWN:-}" ]; then s="${s//"$UNKNOWN"/<unknown well-formed token>}"; fi
  if [ -n "${COOKIE:-}" ]; then s="${s//"$COOKIE"/<session>}"; fi
  s="${s//"$WORK"/\$WORK}"
  s="${s//"$ROOT"\//}"
  printf '%s' "$s"
}

# wait_ready URL PID [TIMEOUT_S] [soft]: until URL answers 2xx while PID lives (60 s by default).
# Dies on failure, or returns 1 when "soft".
wait_ready() {
  local url="$1" pid="$2" timeout="${3:-60}" soft="${4:-}"
  local deadline=$((SECONDS + timeout))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$WORK"/*.out >&2 || true
      die "the server exited before answering $url"
    fi
    curl -sf -o /dev/null --max-time 2 "$url" && return 0
    sleep 0.05
  done
  [ "$soft" = soft ] && return 1
  die "no answer from $url within $timeout s"
}

# start_sandgate [serve flags...]: on a free port; sets SG_PID, SG_BASE, SG_START_S.
# START_TIMEOUT (seconds) and START_SOFT=1 (return 1 instead of dying) tune the readiness wait.
start_sandgate() {
  SG_PORT="$(free_port)"
  SG_BASE="http://127.0.0.1:$SG_PORT"
  local t0
  t0="$(now)"
  "$SANDGATE" serve --listen "127.0.0.1:$SG_PORT" --data "$DATA" "$@" >>"$WORK/sandgate.out" 2>&1 &
  SG_PID=$!
  if [ "${START_SOFT:-0}" = 1 ]; then
    wait_ready "$SG_BASE/readyz" "$SG_PID" "${START_TIMEOUT:-60}" soft || return 1
  else
    wait_ready "$SG_BASE/readyz" "$SG_PID" "${START_TIMEOUT:-60}"
  fi
  SG_START_S="$(elapsed "$t0" "$(now)")"
}
stop_sandgate() {
  stop_pid "$SG_PID"
  SG_PID=""
}

rss() { "${UTIL[@]}" rss "$1"; }
json_field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# run_wrk SCENARIO SIDE ROUND LOG URL [wrk options...]: one measured round, recorded.
run_wrk() {
  local scenario="$1" side="$2" round="$3" log="$4" url="$5"
  shift 5
  local out="$WORK/wrk-$scenario-$side-$round.txt" from to
  local cmd=(wrk -t1 "-c$BENCH_CONNECTIONS" "-d${BENCH_SECONDS}s" --timeout 10s --latency "$@" "$url")
  # Sandgate and nginx buffer request lines for up to a second (nginx: buffer=64k flush=1s): let
  # them reach the file before and after. HAProxy writes one line per request to its stdout.
  local settle=1.2
  [ "$side" = haproxy ] && settle=0.2
  sleep "$settle"
  from="$(stat -c %s "$log" 2>/dev/null || echo 0)"
  if ! run_child "${cmd[@]}" >"$out" 2>&1; then
    cat "$out" >&2
    die "wrk failed: $(redact "${cmd[*]}")"
  fi
  sleep "$settle"
  to="$(stat -c %s "$log" 2>/dev/null || echo 0)"
  if [ "$round" = 1 ]; then log_cmd "$(redact "$(quote_cmd "${cmd[@]}")")   # $scenario, $side"; fi
  "${UTIL[@]}" record --out "$RESULTS" --scenario "$scenario" --side "$side" --round "$round" \
    --wrk "$out" --log "$log" --log-from "$from" --log-to "$to"
}
warm_up() {
  local url="$1"
  shift
  [ "$BENCH_WARMUP" -gt 0 ] || return 0
  run_child wrk -t1 "-c$BENCH_CONNECTIONS" "-d${BENCH_WARMUP}s" --timeout 10s "$@" "$url" >/dev/null 2>&1 ||
    die "wrk warm-up failed on $url"
}

echo "bench: working in $WORK (BENCH_SECONDS=$BENCH_SECONDS BENCH_ROUNDS=$BENCH_ROUNDS" \
  "BENCH_ORGS=$BENCH_ORGS BENCH_SCALE_ORGS=$BENCH_SCALE_ORGS BENCH_STREAM_MIB=$BENCH_STREAM_MIB)"
: >"$COMMANDS"
log_cmd "SANDGATE_WITH_BENCH=1 bash scripts/install-deps.sh && cmake --build build/release -j2"
log_cmd "BENCH_SECONDS=$BENCH_SECONDS BENCH_ROUNDS=$BENCH_ROUNDS BENCH_WARMUP=$BENCH_WARMUP" \
  "BENCH_CONNECTIONS=$BENCH_CONNECTIONS BENCH_ORGS=$BENCH_ORGS BENCH_SCALE_ORGS=$BENCH_SCALE_ORGS" \
  "BENCH_STREAM_MIB=$BENCH_STREAM_MIB bash scripts/bench.sh"

# ---- the machine ------------------------------------------------------------------------------
python3 - "$WORK/machine.json" <<EOF
import json, os, platform, subprocess, sys, time
cpu = "?"
with open("/proc/cpuinfo") as f:
    for line in f:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
mem = "?"
with open("/proc/meminfo") as f:
    for line in f:
        if line.startswith("MemTotal:"):
            mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
def out(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception:
        return "?"
json.dump({
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "nproc": os.cpu_count(), "cpu": cpu, "mem": mem, "kernel": platform.release(),
    "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]),
    "nginx": out(["nginx", "-v"]), "wrk": out(["wrk", "-v"]).split(" Copyright")[0],
    "haproxy": out(["haproxy", "-v"]).split(" - ")[0], "openssl": out(["openssl", "version"]),
    "seconds": $BENCH_SECONDS, "rounds": $BENCH_ROUNDS, "warmup": $BENCH_WARMUP,
    "connections": $BENCH_CONNECTIONS, "nginx_workers": "1 and auto ($(nproc))",
}, open(sys.argv[1], "w"))
EOF

# The 1 KiB clean file (plain English text) and the small body of the invalid-token scenario.
CLEAN="$WORK/clean-1k.txt"
python3 - "$CLEAN" <<'EOF'
import sys
words = ("the quarterly report shows steady growth in every region and our customers renewed "
         "their plans without delay thanks to support").split()
text, i = "", 0
while len(text) < 1024:
    text += words[i % len(words)] + (".\n" if (i + 1) % 12 == 0 else " ")
    i += 1
open(sys.argv[1], "w").write(text[:1023] + "\n")
EOF
SMALL="$WORK/small-body.txt"
printf 'hello sandbox: a small body for the invalid-token scenario\n' >"$SMALL"

# ---- 1. microbenchmarks -----------------------------------------------------------------------
MICRO_JSON="$WORK/micro.json"
if [ "$BENCH_MICRO" != 0 ]; then
  echo "bench: microbenchmarks (Google Benchmark, $BENCH_ROUNDS repetitions, median)"
  micro_cmd=("$MICRO" "--benchmark_min_time=$BENCH_MICRO_MIN_TIME"
    "--benchmark_repetitions=$BENCH_ROUNDS" --benchmark_report_aggregates_only=true
    "--benchmark_out=$MICRO_JSON" --benchmark_out_format=json)
  if [ -n "${BENCH_MICRO_FILTER:-}" ]; then micro_cmd+=("--benchmark_filter=$BENCH_MICRO_FILTER"); fi
  SANDGATE_BENCH_SAMPLE_1K="$CLEAN" run_child "${micro_cmd[@]}" >"$WORK/micro.txt" ||
    die "the microbenchmarks failed: $(tail -n 5 "$WORK/micro.txt")"
  grep -v '_mean\|_stddev\|_cv' "$WORK/micro.txt" || true
  [ -s "$MICRO_JSON" ] || die "the microbenchmarks produced no results"
  log_cmd "SANDGATE_BENCH_SAMPLE_1K=\$WORK/clean-1k.txt $(redact "$(quote_cmd "${micro_cmd[@]}")")"
fi

# ---- 2. data: demo, bench organization, BENCH_ORGS organizations with tokens -------------------
echo "bench: preparing the data directory"
start_sandgate --demo
stop_sandgate
BENCH_PW="$(bench_create_org "$SANDGATE" "$DATA")" || die "could not prepare the bench organization"
log_cmd "sandgate serve --demo --data \$WORK/data (started once, then stopped)"
log_cmd "sandgate org create 'Bench Org'; sandgate org activate ID"
log_cmd "sandgate org set ID --daily-allowance 1000000000 --rate-per-second 1000000000 --rate-per-hour 1000000000 --disable-threshold 1000000000"
log_cmd "sandgate user create bench-admin --role ORG_ADMIN --org ID"
EXTRA=$((BENCH_ORGS - 2))
if [ "$EXTRA" -gt 0 ]; then
  "$SEED" --data "$DATA" --count "$EXTRA" --prefix bench-org >/dev/null
  log_cmd "build/release/bench/sandgate_bench_seed --data \$WORK/data --count $EXTRA --prefix bench-org"
fi
"${UTIL[@]}" record-raw --out "$RESULTS" "{\"scenario\": \"setup\", \"orgs\": $BENCH_ORGS}"

# ---- 3. the servers ---------------------------------------------------------------------------
# Scenario 1 measures the 401 path (a well-formed unknown token looked up and refused), so the
# per-address invalid-token allowance (default 20 a minute, then 429) is raised: wrk has one
# address. The throttle still counts every attempt.
SG_FLAGS=(--invalid-token-limit 1000000000)
start_sandgate "${SG_FLAGS[@]}"
log_cmd "sandgate serve --listen 127.0.0.1:PORT --data \$WORK/data ${SG_FLAGS[*]}"
JAR="$WORK/cookies.txt"
read -r COOKIE TOKEN < <(bench_sign_in "$SG_BASE" "$BENCH_PW" "$JAR") || die "could not sign bench-admin in"
[ -n "${TOKEN:-}" ] || die "could not sign bench-admin in"
UNKNOWN="$("${UTIL[@]}" unknown-token "$TOKEN")"
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$SMALL" "$SG_BASE/zscsb/submit?api_token=$UNKNOWN")"
[ "$code" = 401 ] || die "an unknown token was answered $code, not 401"
code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$CLEAN" "$SG_BASE/zscsb/submit?api_token=$TOKEN&force=1")"
[ "$code" = 200 ] || die "a valid submission was answered $code, not 200"
code="$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$SG_BASE/api/v1/sandbox/token")"
[ "$code" = 200 ] || die "the token page was answered $code, not 200"
log_cmd "curl -c jar -d '{\"username\":\"bench-admin\",...}' \$BASE/api/v1/authenticatedSession; curl -b jar \$BASE/api/v1/sandbox/token/reveal"

# The same server with --metrics off (issue 16: counting must not cost the hot path): same data
# directory, its own port and log file; its rounds of scenarios 1 and 2 alternate with the
# metrics-on rounds, so both see the same machine.
if [ "$BENCH_METRICS_OFF" = 1 ]; then
  NM_PORT="$(free_port)"
  NM_BASE="http://127.0.0.1:$NM_PORT"
  NM_LOG="$WORK/sandgate-nometrics.log"
  "$SANDGATE" serve --listen "127.0.0.1:$NM_PORT" --data "$DATA" --log-file "$NM_LOG" --metrics off \
    "${SG_FLAGS[@]}" >>"$WORK/sandgate-nometrics.out" 2>&1 &
  NM_PID=$!
  wait_ready "$NM_BASE/readyz" "$NM_PID"
  code="$(curl -s -o /dev/null -w '%{http_code}' "$NM_BASE/metrics")"
  [ "$code" = 404 ] || die "the --metrics off server answered /metrics with $code, not 404"
  log_cmd "sandgate serve --listen 127.0.0.1:PORT2 --data \$WORK/data --log-file \$WORK/sandgate-nometrics.log --metrics off ${SG_FLAGS[*]}"
fi

# Sandgate at its best, as nginx is (issue 19): the same server with one I/O thread (`--threads 1`;
# the default is one per core), same data directory, its own port and log file. Scenarios 1 and 2
# measure both, rounds alternating, and compare the better one with the best peer, as nginx's
# worker_processes 1 and auto are both measured; both figures are reported.
if [ "$BENCH_SG_THREADS1" = 1 ]; then
  T1_PORT="$(free_port)"
  T1_BASE="http://127.0.0.1:$T1_PORT"
  T1_LOG="$WORK/sandgate-threads1.log"
  "$SANDGATE" serve --listen "127.0.0.1:$T1_PORT" --data "$DATA" --log-file "$T1_LOG" --threads 1 \
    "${SG_FLAGS[@]}" >>"$WORK/sandgate-threads1.out" 2>&1 &
  T1_PID=$!
  wait_ready "$T1_BASE/readyz" "$T1_PID"
  code="$(curl -s -o /dev/null -w '%{http_code}' -b "$JAR" "$T1_BASE/api/v1/sandbox/token")"
  [ "$code" = 200 ] || die "the --threads 1 server answered the token page with $code, not 200"
  log_cmd "sandgate serve --listen 127.0.0.1:PORT4 --data \$WORK/data --log-file \$WORK/sandgate-threads1.log --threads 1 ${SG_FLAGS[*]}"
fi

# nginx: the same HTTP work minus our logic, at its best (issue 19): the access log buffered like
# ours (buffer=64k flush=1s) with the same fields (client method path status time), and run twice,
# worker_processes 1 and auto, both measured; HAProxy below is the second peer.
MODULES="$(nginx -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')"
READ_BODY="return 200 '{\"code\":200,\"message\":\"/submit response OK\"}';"
LOAD_ECHO=""
if [ -n "$MODULES" ] && [ -f "$MODULES/ngx_http_echo_module.so" ]; then
  # Debian's nginx-light ships the echo module: read the whole body as the real work would.
  LOAD_ECHO="load_module $MODULES/ngx_http_echo_module.so;"
  READ_BODY="echo_read_request_body; echo '{\"code\":200,\"message\":\"/submit response OK\"}';"
fi
NGINX_USER=""
if [ "$(id -u)" = 0 ]; then
  NGINX_USER="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
  chmod 0711 "$WORK"
fi
# start_nginx DIR WORKERS: nginx from DIR/nginx.conf on a free port; sets STARTED_PID, STARTED_BASE.
start_nginx() {
  local dir="$1" workers="$2" port
  mkdir -p "$dir/tmp"
  if [ "$(id -u)" = 0 ]; then chmod 0755 "$dir" "$dir/tmp"; fi
  port="$(free_port)"
  cat >"$dir/nginx.conf" <<EOF
# Written by scripts/bench.sh: nginx doing the same HTTP work as Sandgate, minus its logic.
$LOAD_ECHO
$NGINX_USER
daemon off;
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  log_format bench '\$remote_addr \$request_method \$uri \$status \$request_time';
  access_log $dir/access.log bench buffer=64k flush=1s;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  default_type application/json;
  map_hash_bucket_size 128;
  map \$arg_api_token \$tok_ok {
    default 0;
    "$TOKEN" 1;
  }
  server {
    listen 127.0.0.1:$port;
    location = /static200 { return 200 '{"ok":true}'; }
    location = /zscsb/submit {
      client_max_body_size 50m;
      client_body_buffer_size 1m;
      if (\$tok_ok = 0) { return 401 '{"code":401,"message":"Invalid API token"}'; }
      $READ_BODY
    }
  }
}
EOF
  nginx -t -q -p "$dir" -c "$dir/nginx.conf" 2>"$dir/nginx-t.out" || {
    cat "$dir/nginx-t.out" >&2
    die "nginx rejected its configuration"
  }
  nginx -p "$dir" -c "$dir/nginx.conf" >>"$dir/nginx.out" 2>&1 &
  STARTED_PID=$!
  STARTED_BASE="http://127.0.0.1:$port"
  wait_ready "$STARTED_BASE/static200" "$STARTED_PID"
}
# check_peer NAME BASE: the peer answers the unknown token 401 and the bench token 200.
check_peer() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$SMALL" "$2/zscsb/submit?api_token=$UNKNOWN")"
  [ "$code" = 401 ] || die "$1 answered an unknown token with $code, not 401"
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$CLEAN" "$2/zscsb/submit?api_token=$TOKEN")"
  [ "$code" = 200 ] || die "$1 answered the bench token with $code, not 200"
  code="$(curl -s -o /dev/null -w '%{http_code}' "$2/static200")"
  [ "$code" = 200 ] || die "$1 answered /static200 with $code, not 200"
}
start_nginx "$NGX" auto
NGINX_PID="$STARTED_PID"
NGX_BASE="$STARTED_BASE"
check_peer nginx "$NGX_BASE"
NGX1="$WORK/nginx1"
start_nginx "$NGX1" 1
NGINX1_PID="$STARTED_PID"
NGX1_BASE="$STARTED_BASE"
check_peer "nginx (1 worker)" "$NGX1_BASE"
log_cmd "nginx -p \$WORK/nginx -c \$WORK/nginx.conf   # worker_processes auto and (a second one) 1; config: see scripts/bench.sh (map \$arg_api_token, return 200/401, echo_read_request_body, access_log buffer=64k flush=1s)"

# HAProxy (Debian's haproxy), the second peer: a map of tokens on the api_token query argument
# answering 401/200 (the whole body read first, like nginx's echo_read_request_body), a static 200,
# and one log line per request with the same fields (client method path status time) on its
# stdout, a file. One process, nbthread = the cores (HAProxy's default).
mkdir -p "$HAP"
printf '%s 1\n' "$TOKEN" >"$HAP/tokens.map"
HAP_PORT="$(free_port)"
HAP_BASE="http://127.0.0.1:$HAP_PORT"
HAP_LOG="$HAP/access.log"
cat >"$HAP/haproxy.cfg" <<EOF
# Written by scripts/bench.sh: HAProxy doing the same HTTP work as Sandgate, minus its logic.
global
  log stdout format raw local0
  maxconn 4096
defaults
  mode http
  log global
  log-format "%ci %HM %HPO %ST %Tt"
  timeout client 30s
  timeout connect 5s
  timeout server 30s
  timeout http-request 10s
frontend bench
  bind 127.0.0.1:$HAP_PORT
  option http-buffer-request
  http-request set-var(txn.tok_ok) url_param(api_token),map($HAP/tokens.map,0)
  http-request return status 200 content-type application/json string '{"ok":true}' if { path /static200 }
  http-request return status 401 content-type application/json string '{"code":401,"message":"Invalid API token"}' if { path /zscsb/submit } !{ var(txn.tok_ok) -m str 1 }
  http-request return status 200 content-type application/json string '{"code":200,"message":"/submit response OK"}' if { path /zscsb/submit }
  http-request deny deny_status 404
EOF
haproxy -c -q -f "$HAP/haproxy.cfg" >"$HAP/haproxy-c.out" 2>&1 || {
  cat "$HAP/haproxy-c.out" >&2
  die "haproxy rejected its configuration"
}
haproxy -db -f "$HAP/haproxy.cfg" >"$HAP_LOG" 2>"$HAP/haproxy.err" &
HAP_PID=$!
wait_ready "$HAP_BASE/static200" "$HAP_PID"
check_peer haproxy "$HAP_BASE"
log_cmd "haproxy -db -f \$WORK/haproxy/haproxy.cfg > \$WORK/haproxy/access.log   # config: see scripts/bench.sh (url_param(api_token),map(tokens.map), http-request return 200/401, option http-buffer-request)"

# The hashing limit (issue 19, target 4): MD5, SHA-1 and SHA-256 over the same file in one process
# with OpenSSL's EVP (Python's hashlib is OpenSSL's EVP), 1 MiB reads, page cache warm.
digest3() { run_child "${UTIL[@]}" digest3 --file "$1"; }

# ---- 4. streaming (first: the peak-memory reading must not include the load scenarios) ---------
if [ "$BENCH_STREAM_MIB" -gt 0 ]; then
  echo "bench: streaming, $BENCH_STREAM_MIB MiB discan upload vs sha256sum"
  BIG="$WORK/stream.bin"
  head -c "$((BENCH_STREAM_MIB * 1048576))" /dev/urandom >"$BIG"
  DISCAN_URL="$SG_BASE/zscsb/discan?api_token=$TOKEN"
  have_clamscan=0
  command -v clamscan >/dev/null && have_clamscan=1
  for r in $(seq 1 "$BENCH_ROUNDS"); do
    cat "$BIG" >/dev/null # in the page cache for every reader alike
    t0="$(now)"
    run_child sha256sum "$BIG" >/dev/null
    sha_s="$(elapsed "$t0" "$(now)")"
    digest3 "$BIG" >"$WORK/digest3.json"
    dgst_s="$(json_field "$(cat "$WORK/digest3.json")" seconds)"
    curl -sf "$SG_BASE/metrics" >"$WORK/metrics-before.txt" || : >"$WORK/metrics-before.txt"
    echo 5 >"/proc/$SG_PID/clear_refs" 2>/dev/null || true # resets VmHWM
    idle_kib="$(json_field "$(rss "$SG_PID")" VmRSS)"
    run_child curl -sS -o "$WORK/discan.json" -w '%{http_code} %{time_total}' -X POST \
      -H 'Expect:' -H 'Content-Type: application/octet-stream' -T "$BIG" "$DISCAN_URL" >"$WORK/curl.out"
    curl_out="$(cat "$WORK/curl.out")"
    peak_kib="$(json_field "$(rss "$SG_PID")" VmHWM)"
    # The engine's stage times of this one discan (issue 19, target 5): the difference of the
    # sandgate_analysis_stage_duration_seconds sums around it.
    curl -sf "$SG_BASE/metrics" >"$WORK/metrics-after.txt" || : >"$WORK/metrics-after.txt"
    stages="$("${UTIL[@]}" stage-times --before "$WORK/metrics-before.txt" --after "$WORK/metrics-after.txt")"
    curl_code="${curl_out% *}"
    curl_s="${curl_out#* }"
    [ "$curl_code" = 200 ] || die "discan answered $curl_code: $(head -c 300 "$WORK/discan.json")"
    run_child "${UTIL[@]}" upload --url "$DISCAN_URL" --file "$BIG" >"$WORK/upload.json"
    split="$(cat "$WORK/upload.json")"
    sent_s="$(json_field "$split" sent_s)"
    t0="$(now)"
    run_child "$SANDGATE" av-scan "$BIG" --signatures-dir "$ROOT/share/signatures" >/dev/null
    av_s="$(elapsed "$t0" "$(now)")"
    clam_s=null
    if [ "$have_clamscan" = 1 ]; then
      t0="$(now)"
      # The server scans up to the discan limit; clamscan by default skips files over 100 MiB.
      run_child clamscan --no-summary --max-filesize=400M --max-scansize=400M -d "$ROOT/share/signatures" "$BIG" >/dev/null 2>&1 || true
      clam_s="$(elapsed "$t0" "$(now)")"
    fi
    printf '  stream   round %s: curl %.2f s (body accepted after %.2f s), sha256sum %.2f s, MD5+SHA-1+SHA-256 %.2f s, av-scan %.2f s, RSS idle %s KiB peak %s KiB, stages %s\n' \
      "$r" "$curl_s" "$sent_s" "$sha_s" "$dgst_s" "$av_s" "$idle_kib" "$peak_kib" "$stages"
    "${UTIL[@]}" record-raw --out "$RESULTS" "{\"scenario\": \"stream\", \"round\": $r,
      \"bytes\": $((BENCH_STREAM_MIB * 1048576)), \"curl_s\": $curl_s, \"sent_s\": $sent_s,
      \"sha256sum_s\": $sha_s, \"digest3_s\": $dgst_s, \"stages\": $stages,
      \"av_scan_s\": $av_s, \"clamscan_s\": $clam_s,
      \"rss_idle_kib\": $idle_kib, \"rss_peak_kib\": $peak_kib, \"status\": {\"$curl_code\": 1}}"
  done
  log_cmd "head -c $((BENCH_STREAM_MIB * 1048576)) /dev/urandom > \$WORK/stream.bin; sha256sum \$WORK/stream.bin"
  log_cmd "python3 bench/bench_util.py digest3 --file \$WORK/stream.bin   # MD5+SHA-1+SHA-256, OpenSSL EVP via hashlib, one process"
  log_cmd "curl \$BASE/metrics before and after the discan: sandgate_analysis_stage_duration_seconds_sum by stage"
  log_cmd "$(redact "curl -sS -w '%{http_code} %{time_total}' -X POST -H 'Expect:' -H 'Content-Type: application/octet-stream' -T $BIG '$DISCAN_URL'")"
  log_cmd "$(redact "python3 bench/bench_util.py upload --url '$DISCAN_URL' --file $BIG   # time until the last byte is accepted")"
  log_cmd "$(redact "sandgate av-scan $BIG --signatures-dir share/signatures")"
  if [ "$have_clamscan" = 1 ]; then log_cmd "$(redact "clamscan --no-summary --max-filesize=400M --max-scansize=400M -d share/signatures $BIG")"; fi
  rm -f "$BIG"
fi

# ---- 5. load scenarios ---------------------------------------------------------------------------
export BENCH_BODY_FILE
SUBMIT_URL="$SG_BASE/zscsb/submit?api_token=$TOKEN&force=1"
PAGE_URL="$SG_BASE/api/v1/sandbox/token"
INVALID_URL="$SG_BASE/zscsb/submit?api_token=$UNKNOWN"
NGX_INVALID_URL="$NGX_BASE/zscsb/submit?api_token=$UNKNOWN"

# The server's CPU time so far, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Waits (at most 60 s) until the server used under 3 ticks in half a second: its rule workers have
# finished what the previous round queued, so the engine round below has the cores to itself.
wait_idle() {
  local prev cur
  prev="$(cpu_ticks "$SG_PID")"
  for _ in $(seq 1 120); do
    sleep 0.5
    cur="$(cpu_ticks "$SG_PID")"
    [ $((cur - prev)) -lt 3 ] && return 0
    prev="$cur"
  done
}
# One round of scenario 3's baseline: the engine alone on the same file, in-process, with one
# thread per core, as long as a wrk round. Alternating with Sandgate's rounds (like nginx's), so
# both see the same machine: the engine's rate moves by ±20% between runs on a shared VM.
ENGINE_FILTER="^Engine/AnalyzeFile/clean_1KiB/real_time(/threads:$(nproc))?\$"
run_engine() { # $1: scenario, $2: round
  local out="$WORK/engine-$1-$2.json"
  local cmd=("$MICRO" "--benchmark_filter=$ENGINE_FILTER" "--benchmark_min_time=$BENCH_SECONDS"
    "--benchmark_out=$out" --benchmark_out_format=json)
  wait_idle
  SANDGATE_BENCH_SAMPLE_1K="$CLEAN" run_child "${cmd[@]}" >"$WORK/engine-$1-$2.txt" 2>&1 ||
    die "the engine round failed: $(tail -n 5 "$WORK/engine-$1-$2.txt")"
  if [ "$2" = 1 ]; then log_cmd "SANDGATE_BENCH_SAMPLE_1K=\$WORK/clean-1k.txt $(quote_cmd "${cmd[@]}")   # $1, engine"; fi
  "${UTIL[@]}" record-engine --out "$RESULTS" --scenario "$1" --round "$2" --json "$out"
}

scenario_submit() { # $1: scenario name
  echo "bench: scenario $1 (valid submission of a 1 KiB clean file)"
  BENCH_BODY_FILE="$CLEAN"
  warm_up "$SUBMIT_URL" -s "$LUA"
  for r in $(seq 1 "$BENCH_ROUNDS"); do
    run_wrk "$1" sandgate "$r" "$SG_LOG" "$SUBMIT_URL" -s "$LUA"
    run_engine "$1" "$r"
  done
}
scenario_invalid() { # $1: scenario name, $2: 1 to measure the peers too, 2 nginx-1 alone
  echo "bench: scenario $1 (invalid-token rejection)"
  BENCH_BODY_FILE="$SMALL"
  warm_up "$INVALID_URL" -s "$LUA"
  if [ "$2" = 1 ]; then
    warm_up "$NGX_INVALID_URL" -s "$LUA"
    warm_up "$NGX1_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"
    warm_up "$HAP_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"
  fi
  if [ "$2" = 2 ]; then warm_up "$NGX1_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"; fi
  if [ "$2" = 1 ] && [ -n "$NM_PID" ]; then warm_up "$NM_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"; fi
  if [ "$2" = 1 ] && [ -n "$T1_PID" ]; then warm_up "$T1_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"; fi
  for r in $(seq 1 "$BENCH_ROUNDS"); do
    run_wrk "$1" sandgate "$r" "$SG_LOG" "$INVALID_URL" -s "$LUA"
    if [ "$2" = 1 ]; then
      run_wrk "$1" nginx "$r" "$NGX/access.log" "$NGX_INVALID_URL" -s "$LUA"
      run_wrk "$1" nginx-1 "$r" "$NGX1/access.log" "$NGX1_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"
      run_wrk "$1" haproxy "$r" "$HAP_LOG" "$HAP_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"
    fi
    if [ "$2" = 2 ]; then
      run_wrk "$1" nginx-1 "$r" "$NGX1/access.log" "$NGX1_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"
    fi
    if [ "$2" = 1 ] && [ -n "$NM_PID" ]; then
      run_wrk "$1" nometrics "$r" "$NM_LOG" "$NM_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"
    fi
    if [ "$2" = 1 ] && [ -n "$T1_PID" ]; then
      run_wrk "$1" sandgate-1 "$r" "$T1_LOG" "$T1_BASE/zscsb/submit?api_token=$UNKNOWN" -s "$LUA"
    fi
  done
}

scenario_submit submit
echo "bench: scenario page (token page read)"
warm_up "$PAGE_URL" -H "Cookie: sg_session=$COOKIE"
warm_up "$NGX_BASE/static200"
warm_up "$NGX1_BASE/static200"
warm_up "$HAP_BASE/static200"
if [ -n "$NM_PID" ]; then warm_up "$NM_BASE/api/v1/sandbox/token" -H "Cookie: sg_session=$COOKIE"; fi
if [ -n "$T1_PID" ]; then warm_up "$T1_BASE/api/v1/sandbox/token" -H "Cookie: sg_session=$COOKIE"; fi
for r in $(seq 1 "$BENCH_ROUNDS"); do
  run_wrk page sandgate "$r" "$SG_LOG" "$PAGE_URL" -H "Cookie: sg_session=$COOKIE"
  run_wrk page nginx "$r" "$NGX/access.log" "$NGX_BASE/static200"
  run_wrk page nginx-1 "$r" "$NGX1/access.log" "$NGX1_BASE/static200"
  run_wrk page haproxy "$r" "$HAP_LOG" "$HAP_BASE/static200"
  if [ -n "$NM_PID" ]; then
    run_wrk page nometrics "$r" "$NM_LOG" "$NM_BASE/api/v1/sandbox/token" -H "Cookie: sg_session=$COOKIE"
  fi
  if [ -n "$T1_PID" ]; then
    run_wrk page sandgate-1 "$r" "$T1_LOG" "$T1_BASE/api/v1/sandbox/token" -H "Cookie: sg_session=$COOKIE"
  fi
done
scenario_invalid invalid 1
stop_pid "$NM_PID"
NM_PID=""
stop_pid "$T1_PID"
T1_PID=""

# ---- 5b. PostgreSQL: one node on a throwaway cluster on this machine (issue 19, target 6) ------
# Same binary, same data (copied from the SQLite database with `sandgate store copy`, sessions
# included, so the same cookie signs in), same key file. PostgreSQL runs on the same 2 cores: its
# CPU counts against the node. Rounds alternate with the SQLite node's.
if [ "$BENCH_PG" = 1 ]; then
  echo "bench: PostgreSQL node (token page and valid submission vs the SQLite node)"
  PG_DIR="$WORK/pg"
  if [ "$(id -u)" = 0 ]; then chmod 0711 "$WORK"; fi
  PG_ADMIN_URL="$(bash "$ROOT/scripts/pg-test-cluster.sh" start "$PG_DIR" 2>"$WORK/pg.err" | tail -n 1)" ||
    die "PostgreSQL did not start: $(tail -n 5 "$WORK/pg.err")"
  psql "$PG_ADMIN_URL" -qAt -c "CREATE DATABASE bench" >/dev/null || die "could not create the bench database"
  PG_URL="${PG_ADMIN_URL%/*}/bench"
  "$SANDGATE" store copy --from "sqlite:$DATA/sandgate.db" --to "$PG_URL" >"$WORK/pg-copy.out" 2>&1 ||
    die "store copy to PostgreSQL failed: $(tail -n 5 "$WORK/pg-copy.out")"
  PGN_PORT="$(free_port)"
  PGN_BASE="http://127.0.0.1:$PGN_PORT"
  PGN_DATA="$WORK/pgnode"
  mkdir -p "$PGN_DATA" && chmod 0700 "$PGN_DATA"
  PGN_LOG="$PGN_DATA/sandgate.log"
  "$SANDGATE" serve --listen "127.0.0.1:$PGN_PORT" --data "$PGN_DATA" --store "$PG_URL" \
    --key-file "$DATA/sandgate.key" --node-id bench-pg --log-file "$PGN_LOG" "${SG_FLAGS[@]}" \
    >>"$WORK/sandgate-pg.out" 2>&1 &
  PGN_PID=$!
  wait_ready "$PGN_BASE/readyz" "$PGN_PID"
  code="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: sg_session=$COOKIE" "$PGN_BASE/api/v1/sandbox/token")"
  [ "$code" = 200 ] || die "the PostgreSQL node answered the token page with $code, not 200"
  code="$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$CLEAN" "$PGN_BASE/zscsb/submit?api_token=$TOKEN&force=1")"
  [ "$code" = 200 ] || die "the PostgreSQL node answered a valid submission with $code, not 200"
  log_cmd "scripts/pg-test-cluster.sh start \$WORK/pg; psql -c 'CREATE DATABASE bench'; sandgate store copy --from sqlite:\$WORK/data/sandgate.db --to postgres://.../bench"
  log_cmd "sandgate serve --listen 127.0.0.1:PORT3 --data \$WORK/pgnode --store postgres://.../bench --key-file \$WORK/data/sandgate.key --node-id bench-pg ${SG_FLAGS[*]}"
  warm_up "$PGN_BASE/api/v1/sandbox/token" -H "Cookie: sg_session=$COOKIE"
  for r in $(seq 1 "$BENCH_ROUNDS"); do
    run_wrk pg-page sqlite "$r" "$SG_LOG" "$PAGE_URL" -H "Cookie: sg_session=$COOKIE"
    run_wrk pg-page postgres "$r" "$PGN_LOG" "$PGN_BASE/api/v1/sandbox/token" -H "Cookie: sg_session=$COOKIE"
  done
  BENCH_BODY_FILE="$CLEAN"
  warm_up "$PGN_BASE/zscsb/submit?api_token=$TOKEN&force=1" -s "$LUA"
  for r in $(seq 1 "$BENCH_ROUNDS"); do
    run_wrk pg-submit sqlite "$r" "$SG_LOG" "$SUBMIT_URL" -s "$LUA"
    run_wrk pg-submit postgres "$r" "$PGN_LOG" "$PGN_BASE/zscsb/submit?api_token=$TOKEN&force=1" -s "$LUA"
  done
  stop_pid "$PGN_PID"
  PGN_PID=""
  bash "$ROOT/scripts/pg-test-cluster.sh" stop "$PG_DIR" >/dev/null 2>&1 || true
  PG_DIR=""
fi

# ---- 6. scale: BENCH_SCALE_ORGS organizations ----------------------------------------------------
if [ "$BENCH_SCALE_ORGS" -gt "$BENCH_ORGS" ]; then
  stop_sandgate
  MORE=$((BENCH_SCALE_ORGS - BENCH_ORGS))
  echo "bench: scale run, seeding $MORE more organizations with tokens"
  t0="$(now)"
  run_child "$SEED" --data "$DATA" --count "$MORE" --prefix bench-scale >/dev/null
  seed_s="$(elapsed "$t0" "$(now)")"
  log_cmd "build/release/bench/sandgate_bench_seed --data \$WORK/data --count $MORE --prefix bench-scale"
  if START_SOFT=1 START_TIMEOUT="$BENCH_START_TIMEOUT" start_sandgate "${SG_FLAGS[@]}"; then
    start_rss="$(json_field "$(rss "$SG_PID")" VmRSS)"
    echo "  started with $BENCH_SCALE_ORGS organizations in $SG_START_S s, RSS $((start_rss / 1024)) MiB"
    SUBMIT_URL="$SG_BASE/zscsb/submit?api_token=$TOKEN&force=1"
    INVALID_URL="$SG_BASE/zscsb/submit?api_token=$UNKNOWN"
    scenario_submit submit@scale
    # nginx with one worker alternating, as the yardstick for machine drift (bench_util.py).
    scenario_invalid invalid@scale 2
    peak_rss="$(json_field "$(rss "$SG_PID")" VmHWM)"
    "${UTIL[@]}" record-raw --out "$RESULTS" "{\"scenario\": \"scale-start\",
      \"orgs\": $BENCH_SCALE_ORGS, \"start_s\": $SG_START_S, \"seed_s\": $seed_s,
      \"rss_kib\": $start_rss, \"rss_peak_kib\": $peak_rss}"
  else
    rss_now="$(json_field "$(rss "$SG_PID")" VmRSS)"
    echo "  not ready within $BENCH_START_TIMEOUT s with $BENCH_SCALE_ORGS organizations (RSS $((rss_now / 1024)) MiB); scale scenarios skipped"
    "${UTIL[@]}" record-raw --out "$RESULTS" "{\"scenario\": \"scale-start\",
      \"orgs\": $BENCH_SCALE_ORGS, \"start_s\": null, \"timeout_s\": $BENCH_START_TIMEOUT,
      \"seed_s\": $seed_s, \"rss_kib\": $rss_now}"
  fi
fi
stop_sandgate
stop_pid "$NGINX_PID"
NGINX_PID=""
stop_pid "$NGINX1_PID"
NGINX1_PID=""
stop_pid "$HAP_PID"
HAP_PID=""

# ---- 7. the table -----------------------------------------------------------------------------
report=("${UTIL[@]}" report --results "$RESULTS" --micro "$MICRO_JSON" --machine "$WORK/machine.json"
  --commands "$COMMANDS")
if [ -n "$BENCH_DOC" ]; then report+=(--doc "$ROOT/$BENCH_DOC"); fi
"${report[@]}"
