#!/usr/bin/env bash
# Installs the Debian 12 packages Sandgate needs to build and test. Idempotent: installs only what is
# missing, so `make test` and `make run` can call it every time at near-zero cost.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libpq-dev libsodium-dev libssl-dev libmagic-dev
  libclamav-dev libyara-dev libfuzzy-dev zlib1g-dev libgoogle-perftools-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clamav-testfiles zip unzip curl python3 procps openssl
  postgresql-15 nginx-light
  prometheus
  clang libclang-rt-14-dev binutils
  debhelper dpkg-dev lintian ccache systemd adduser man-db
  python3-yaml python3-jsonschema
)
# clamav: its sigtool builds the .cud/.cvd/.cld test databases (src/analysis/clamav_db_test.cc).
PKGS+=(clamav)
# node + npm: the API reference (tools/openapi: Swagger UI embedded at build time, Redocly's lint).
command -v node >/dev/null 2>&1 || PKGS+=(nodejs npm)
if [ "${SANDGATE_WITH_BROWSER:-0}" = 1 ]; then
  PKGS+=(chromium)
  command -v node >/dev/null 2>&1 || PKGS+=(nodejs npm)
fi
# clamav: its clamscan is the reference for the AV scan of the streaming scenario; haproxy: the
# second peer of the load scenarios (issue 19).
if [ "${SANDGATE_WITH_BENCH:-0}" = 1 ]; then PKGS+=(nginx-light wrk clamav haproxy); fi

install_ui_packages() {
  # The browser tests' npm packages (playwright-core only; it drives Debian's Chromium).
  if [ "${SANDGATE_WITH_BROWSER:-0}" = 1 ] && [ -f tests/ui/package-lock.json ] &&
     [ ! -d tests/ui/node_modules/playwright-core ]; then
    echo "install-deps: npm ci in tests/ui" >&2
    npm ci --prefix tests/ui --no-audit --no-fund --silent
  fi
}
install_openapi_packages() {
  # The API contract's npm packages (Swagger UI, copied into the binary at build time; Redocly's
  # CLI, which lints docs/openapi.yaml). Again whenever the lockfile is newer than the install.
  if [ -f tools/openapi/package-lock.json ] &&
     { [ ! -f tools/openapi/node_modules/.package-lock.json ] ||
       [ tools/openapi/package-lock.json -nt tools/openapi/node_modules/.package-lock.json ]; }; then
    echo "install-deps: npm ci in tools/openapi" >&2
    npm ci --prefix tools/openapi --ignore-scripts --no-audit --no-fund --silent
  fi
}
trap 'install_ui_packages; install_openapi_packages' EXIT

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# The tests run their own throwaway PostgreSQL clusters (scripts/pg-test-cluster.sh): do not let the
# package create and start a system-wide one.
if printf '%s\n' "${missing[@]}" | grep -q '^postgresql'; then
  $SUDO mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.d/sandgate.conf >/dev/null
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
