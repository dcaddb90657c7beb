#!/usr/bin/env bash
# Runs every libFuzzer target of the fuzz build for SECONDS each (`make fuzz`: FUZZ_SECONDS, default
# 300; `make fuzz-smoke`, part of `make test`: FUZZ_SMOKE_SECONDS, default 20).
#
#   FUZZ_BUILD=build/fuzz FUZZ_JOBS=2 bash scripts/fuzz.sh SECONDS [TARGET...]
#
# Each target starts from its committed seed corpus fuzz/corpus/<target>/ (which also holds the
# inputs of every crash found so far: they are replayed first) and its dictionary
# fuzz/dict/<target>.dict when there is one. New inputs go to $FUZZ_BUILD/corpus/<target>/ (not the
# repository); a crash writes $FUZZ_BUILD/artifacts/<target>-crash-* and makes this script fail.
# To keep a crash as a regression input: fix the code, then copy the artifact into
# fuzz/corpus/<target>/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECONDS_EACH="${1:?usage: fuzz.sh SECONDS [TARGET...]}"
shift
FUZZ_BUILD="${FUZZ_BUILD:-build/fuzz}"
FUZZ_JOBS="${FUZZ_JOBS:-2}"
[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS must be a whole number" >&2; exit 2; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$FUZZ_BUILD"/*_fuzz; do
    [ -x "$bin" ] && targets+=("$(basename "$bin" _fuzz)")
  done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets in $FUZZ_BUILD (make fuzz-build)" >&2; exit 1; }
mkdir -p "$FUZZ_BUILD/artifacts" "$FUZZ_BUILD/logs"

run_one() {
  local t="$1" bin="$FUZZ_BUILD/${1}_fuzz" work="$FUZZ_BUILD/corpus/$1" seeds="fuzz/corpus/$1"
  local args=(-max_total_time="$SECONDS_EACH" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1
    -artifact_prefix="$FUZZ_BUILD/artifacts/$t-")
  [ -f "fuzz/dict/$t.dict" ] && args+=(-dict="fuzz/dict/$t.dict")
  [ "$t" = http_request ] && args+=(-max_len=16384)
  mkdir -p "$work"
  local log="$FUZZ_BUILD/logs/$t.log" rc=0
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    LSAN_OPTIONS="suppressions=$ROOT/fuzz/lsan.supp:print_suppressions=0" \
    "$bin" "${args[@]}" "$work" "$seeds" >"$log" 2>&1 || rc=$?
  local execs
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
  if [ "$rc" -ne 0 ]; then
    echo "fuzz: $t FAILED (exit $rc); log $log" >&2
    grep -E '^(==[0-9]+==|SUMMARY|http_request_fuzz:|.*runtime error)|Test unit written' "$log" | head -n 20 >&2 || true
    return 1
  fi
  echo "fuzz: $t ok (${SECONDS_EACH}s, ${execs:-?} runs, corpus $(ls "$work" | wc -l) + $(ls "$seeds" | wc -l) seeds)"
}
export -f run_one
export FUZZ_BUILD SECONDS_EACH ROOT
printf '%s\n' "${targets[@]}" | xargs -P "$FUZZ_JOBS" -I{} bash -c 'run_one "$1"' _ {}
