#!/usr/bin/env bash
# Lints the API contract, docs/openapi.yaml, with Redocly's CLI (pinned in tools/openapi) under the
# rules of redocly.yaml (CTest: openapi.lint). Offline: no telemetry, no update check.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x tools/openapi/node_modules/.bin/redocly ] || bash scripts/install-deps.sh
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
exec tools/openapi/node_modules/.bin/redocly lint --config redocly.yaml docs/openapi.yaml
