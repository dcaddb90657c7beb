#!/usr/bin/env bash
# `make chaos`: tests/chaos/chaos.py (three nodes on one PostgreSQL, each in its own network
# namespace; faults in rounds; a checker of the cluster's invariants). CHAOS_ROUNDS (default 20).
# Needs root (ip netns). Whatever happens to the Python process (even kill -9), the trap removes
# the namespaces and veth pairs it may have created (their names carry this run's tag) and kills
# the processes it started.
set -euo pipefail
BUILD=${BUILD:-build/release}
export CHAOS_ROUNDS=${CHAOS_ROUNDS:-20}
export CHAOS_TAG=sgc$$
export CHAOS_REPORT=${CHAOS_REPORT:-$BUILD/chaos-report.txt}
export SANDGATE_BIN=${SANDGATE_BIN:-$PWD/$BUILD/sandgate}
if [ "$(id -u)" != 0 ]; then
  echo "chaos: needs root (ip netns, veth pairs)" >&2
  exit 2
fi
cleanup() {
  for i in 1 2 3; do
    for pid in $(ip netns pids "${CHAOS_TAG}n$i" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip link del "${CHAOS_TAG}h$i" 2>/dev/null || true
    ip netns del "${CHAOS_TAG}n$i" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
python3 tests/chaos/chaos.py --rounds "$CHAOS_ROUNDS"
