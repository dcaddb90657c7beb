#!/usr/bin/env python3
"""Converts the API contract (docs/openapi.yaml) to the JSON the server embeds and serves at
/api/v1/openapi.json (a build step, see CMakeLists.txt). Usage: openapi-json.py IN.yaml OUT.json

YAML timestamps stay strings (JSON has no dates); anything else JSON cannot hold is an error."""
import json
import os
import sys

import yaml


class _Loader(yaml.SafeLoader):
    pass


# No implicit timestamps: an unquoted 2026-01-31T00:00:00Z stays the string it is in JSON.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: openapi-json.py IN.yaml OUT.json")
    doc = load(sys.argv[1])
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, sys.argv[2])


if __name__ == "__main__":
    main()
