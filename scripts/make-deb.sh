#!/usr/bin/env bash
# `make deb`: builds sandgate_<version>_<arch>.deb the Debian way (debian/, debhelper compat 13,
# dpkg-buildpackage -us -uc -b) and runs lintian on it (no error and no warning allowed).
# dpkg-buildpackage writes its results beside the source tree, so it runs on a copy of the tree
# (tracked and untracked, not ignored, files) in build/deb/src/sandgate; the .deb is copied to
# build/deb/. The copy's path never changes, so ccache (when installed; CCACHE_DIR is passed
# through) makes a rebuild after a small change take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${DEB_OUT:-build/deb}
SRC=$OUT/src/sandgate
mkdir -p "$SRC"
rm -f "$OUT"/src/sandgate_* "$OUT"/sandgate_*.deb
# A fresh copy (keeping nothing from the previous build but ccache's cache).
find "$SRC" -mindepth 1 -maxdepth 1 -exec rm -rf {} +
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$SRC"
# debhelper (compat 13) gives the build an empty HOME of its own, so ccache's default cache
# directory would be a new, empty one every time: name the real one.
if command -v ccache >/dev/null 2>&1; then
  CCACHE_DIR=${CCACHE_DIR:-$(ccache --get-config cache_dir)}
  export CCACHE_DIR
fi
(
  cd "$SRC"
  export CCACHE_BASEDIR="$PWD"
  dpkg-buildpackage -us -uc -b
) > "$OUT/build.log" 2>&1 || { tail -n 60 "$OUT/build.log"; echo "make deb: dpkg-buildpackage failed (log: $OUT/build.log)"; exit 1; }
cp "$OUT"/src/sandgate_*.deb "$OUT"/
DEB=$(ls "$OUT"/sandgate_*_*.deb)
echo "make deb: built $DEB"
# --fail-on warning also fails on errors; overrides (debian/sandgate.lintian-overrides) carry their reason.
lintian --fail-on error,warning --display-info "$OUT"/src/sandgate_*.changes | tee "$OUT/lintian.log"
echo "make deb: lintian: no errors, no warnings"
