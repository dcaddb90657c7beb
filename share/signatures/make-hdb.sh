#!/usr/bin/env bash
# Regenerates sandgate.hdb (ClamAV MD5 hash signatures, one "md5:size:name" line per file) from
# Debian's clamav-testfiles package: every harmless clam* sample becomes Clamav.Test.File-<basename>.
# ClamAV also hashes the members it unpacks from archives, so the clam.exe line matches clam.exe
# inside any zip/7z/cab/... as well.
#
# Usage: share/signatures/make-hdb.sh [testfiles-dir]   (default /usr/share/clamav-testfiles)
set -euo pipefail

src="${1:-/usr/share/clamav-testfiles}"
out="$(cd "$(dirname "$0")" && pwd)/sandgate.hdb"

if [ ! -d "$src" ]; then
  echo "make-hdb: $src not found (apt-get install clamav-testfiles)" >&2
  exit 1
fi

tmp="$(mktemp "$out.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
LC_ALL=C find "$src" -maxdepth 1 -type f -print0 | LC_ALL=C sort -z |
  while IFS= read -r -d '' f; do
    name="$(basename "$f")"
    # Signature names may not contain ':' (the field separator) or whitespace.
    name="${name//[^A-Za-z0-9._+-]/_}"
    md5="$(md5sum "$f" | cut -d' ' -f1)"
    size="$(stat -c %s "$f")"
    printf '%s:%s:Clamav.Test.File-%s\n' "$md5" "$size" "$name"
  done >"$tmp"
if [ ! -s "$tmp" ]; then
  echo "make-hdb: no files in $src" >&2
  exit 1
fi
chmod 0644 "$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "make-hdb: wrote $(wc -l <"$out") signatures to $out" >&2
