#!/usr/bin/env python3
"""The layer rules of docs/ARCHITECTURE.md, enforced (issue 13).

The "Folders" table says, for each folder under src/, which folders it builds on (its "depends on"
column; words that are not folders, such as libsodium or Boost, are ignored; "all" means every
other folder). A folder may include the headers of the folders it names and of everything those
may use (the layers below). This check fails when:
  - a non-test source file (src/<folder>/*.cc|*.h, not *_test.cc, *_bench.cc, *_fuzz.cc) includes
    a header of a folder its row does not name;
  - a folder under src/ has no row, or a row names a folder that does not exist;
  - the rows form a cycle (a layer must not depend on itself through others).
Tests may include any folder: they are where the layers meet.

Usage: check-layers.py [REPO]   (exit 0: every rule holds; 1: the violations are listed)
"""
import pathlib
import re
import sys

repo = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent.parent)
src = repo / "src"
doc = repo / "docs" / "ARCHITECTURE.md"
folders = sorted(p.name for p in src.iterdir() if p.is_dir())

rows = {}
for line in doc.read_text().splitlines():
    m = re.match(r"^\|\s*`([a-z_]+)/`\s*\|.*\|([^|]*)\|\s*$", line)
    if m:
        rows[m.group(1)] = m.group(2)

problems = []
direct = {}  # folder -> the folders its row names
for f in folders:
    if f not in rows:
        problems.append(f"src/{f}/ has no row in the Folders table of docs/ARCHITECTURE.md")
        continue
    words = set(re.findall(r"[a-z_]+", rows[f]))
    direct[f] = set(folders) - {f} if "all" in words else {w for w in words if w in folders}
for f in rows:
    if f not in folders:
        problems.append(f"docs/ARCHITECTURE.md has a row for {f}/, which is not a folder under src/")

# Cycles among the declared dependencies.
state = {}
def visit(f, path):
    state[f] = "open"
    for d in sorted(direct.get(f, ())):
        if state.get(d) == "open":
            cycle = path[path.index(d):] + [d] if d in path else [f, d]
            problems.append("the Folders table has a cycle: " + " -> ".join(cycle))
        elif d not in state:
            visit(d, path + [d])
    state[f] = "done"
for f in sorted(direct):
    if f not in state:
        visit(f, [f])

def closure(f):
    seen, todo = set(), list(direct.get(f, ()))
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(direct.get(d, ()))
    return seen - {f}
allowed = {f: closure(f) for f in direct}

include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)
for f in sorted(allowed):
    for path in sorted((src / f).rglob("*")):
        if path.suffix not in (".cc", ".h") or re.search(r"_(test|bench|fuzz)\.cc$", path.name):
            continue
        text = path.read_text(errors="replace")
        for m in include.finditer(text):
            g = m.group(1)
            if g == f or g not in folders or g in allowed[f]:
                continue
            line = text.count("\n", 0, m.start()) + 1
            may = ", ".join(sorted(allowed[f])) or "nothing"
            problems.append(f"{path.relative_to(repo)}:{line}: includes {g}/, but {f}/ may use only: "
                            f"{may} (docs/ARCHITECTURE.md, Folders)")

if problems:
    print("\n".join(problems))
    print(f"check-layers: {len(problems)} violation(s)")
    sys.exit(1)
print(f"check-layers: {len(allowed)} folders, every include follows docs/ARCHITECTURE.md")
