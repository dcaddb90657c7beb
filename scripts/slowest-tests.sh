#!/usr/bin/env bash
# Prints the ten slowest tests of the last ctest run in BUILD_DIR (CTest's own cost file: name,
# runs, average seconds: on a fresh clone, the one run), so a CI log shows where the suite's time goes.
#   bash scripts/slowest-tests.sh build/release
set -euo pipefail
f="${1:?usage: slowest-tests.sh BUILD_DIR}/Testing/Temporary/CTestCostData.txt"
[ -f "$f" ] || exit 0
echo "slowest tests ($f):"
# awk keeps the first ten but reads all of sort's output: `head` would close the pipe early, and sort's
# SIGPIPE fails the script under pipefail (exit 141) once the list outgrows the pipe's buffer.
awk '$1 == "---" { exit } NF == 3 { printf "  %8.1f s  %s\n", $3, $1 }' "$f" | sort -rn | awk 'NR <= 10'
