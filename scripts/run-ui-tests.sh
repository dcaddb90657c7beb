#!/usr/bin/env bash
# Runs the browser tests (tests/ui/*.test.js) with node's test runner. Installs Chromium and the
# npm packages first when missing (through install-deps.sh), so CTest can run it on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SANDGATE_WITH_BROWSER=1 bash scripts/install-deps.sh
mkdir -p tests/artifacts
exec node --test --test-concurrency=1 tests/ui/
