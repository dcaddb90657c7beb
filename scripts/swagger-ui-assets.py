#!/usr/bin/env python3
"""Prepares Swagger UI (npm swagger-ui-dist) for embedding under the server's CSP, which is
default-src 'self' and stays so: the stylesheet's data: images (select arrows, icons) would be
blocked by img-src, so each one is written out as its own file, served from /static/ like the
rest, and the stylesheet points there. The script bundle is copied unchanged (no source map).
A build step (CMakeLists.txt). Usage: swagger-ui-assets.py SWAGGER_UI_DIST_DIR OUT_DIR"""
import base64
import hashlib
import os
import re
import sys
import urllib.parse

EXT = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}
URL = re.compile(r'url\(\s*(?:"(data:(?:[^"\\]|\\.)*)"|\'(data:(?:[^\'\\]|\\.)*)\'|(data:[^)\s]*))\s*\)')


def css_unescape(s):
    # CSS string escapes: backslash + 1-6 hex digits (+ one optional space), or backslash + char.
    def rep(m):
        if m.group(1):
            return chr(int(m.group(1), 16))
        return m.group(2)
    return re.sub(r"\\(?:([0-9a-fA-F]{1,6}) ?|(.))", rep, s)


def decode(uri):
    head, _, data = uri[len("data:"):].partition(",")
    parts = head.split(";")
    mime = parts[0] or "text/plain"
    if "base64" in parts[1:]:
        return mime, base64.b64decode(data)
    return mime, urllib.parse.unquote_to_bytes(data)


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: swagger-ui-assets.py SWAGGER_UI_DIST_DIR OUT_DIR")
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.startswith("swagger-ui-img-"):
            os.remove(os.path.join(out, old))
    with open(os.path.join(src, "swagger-ui.css"), encoding="utf-8") as f:
        css = f.read()

    def extract(m):
        uri = css_unescape(m.group(1) or m.group(2) or m.group(3))
        mime, data = decode(uri)
        if mime not in EXT:
            sys.exit(f"swagger-ui-assets: unexpected data: URL of type {mime}")
        name = f"swagger-ui-img-{hashlib.sha256(data).hexdigest()[:12]}.{EXT[mime]}"
        write(os.path.join(out, name), data)
        return f"url(/static/{name})"

    css, n = URL.subn(extract, css)
    if "data:" in css:
        sys.exit("swagger-ui-assets: a data: URL is left in swagger-ui.css")
    css = re.sub(r"/\*# sourceMappingURL=[^*]*\*/\s*$", "", css)
    write(os.path.join(out, "swagger-ui.css"), css.encode("utf-8"))
    with open(os.path.join(src, "swagger-ui-bundle.js"), "rb") as f:
        js = f.read()
    js = re.sub(rb"\n//# sourceMappingURL=\S+\s*$", b"\n", js)
    write(os.path.join(out, "swagger-ui-bundle.js"), js)
    print(f"swagger-ui-assets: {n} data: image(s) of swagger-ui.css moved to files")


if __name__ == "__main__":
    main()
