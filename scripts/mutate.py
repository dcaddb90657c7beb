#!/usr/bin/env python3
"""`make mutate`: mutation testing on a list of plausible one-line bugs (issue 21).

Each mutation in tests/mutations/mutations.json names a file, an exact original text (which must
occur once), its mutated replacement, and the tests that must kill it: a gtest filter for
sandgate_unit_tests ("unit") and/or black-box tests ("blackbox", unittest names). The script
  1. copies the tree (git's tracked and untracked-but-not-ignored files) to MUTATE_DIR
     (default build/mutate/tree), so the working tree is never modified;
  2. builds it (Release, ccache when installed: build/mutate/tree/build/release) and runs every
     listed test on the unmutated copy: they must pass (else a "kill" would mean nothing);
  3. for each mutation: writes the mutant into the copy, rebuilds incrementally, runs only that
     mutation's tests, and restores the copy's file (always, also on failure or Ctrl-C);
  4. prints killed/survived per mutation and the score; exits 1 below 100% (or when a mutation no
     longer applies or does not compile: the list has gone stale).
Usage: scripts/mutate.py [--no-baseline] [NAME ...]   (names: run only these mutations)
Time (2 shared cores): the first run builds the copy (~20 minutes on a busy machine: the unit
tests embed the source path, so ccache misses them); later runs ~2 minutes for the six mutations of
issue 21 (10-30 s each: one file recompiled, relinked, its tests) plus the baseline. Not run by CI; run it after changing the code or the tests these mutations
exercise, and add a mutation with each test written against a bug the suite let through."""
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LIST = os.path.join(ROOT, "tests", "mutations", "mutations.json")
TREE = os.path.abspath(os.environ.get("MUTATE_DIR", os.path.join(ROOT, "build", "mutate", "tree")))
BUILD = os.path.join(TREE, "build", "release")
JOBS = os.environ.get("JOBS", "2")
TEST_TIMEOUT = 900  # seconds per test command; a mutant that hangs a test counts as killed


def log(msg):
    print("mutate: " + msg, flush=True)


def sync_tree():
    """Copies the working tree's files into TREE, only those that differ (incremental builds)."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    copied = 0
    for rel in files:
        if not rel or rel.startswith("build/"):
            continue
        src = os.path.join(ROOT, rel)
        if not os.path.isfile(src):
            continue
        dst = os.path.join(TREE, rel)
        with open(src, "rb") as f:
            data = f.read()
        if os.path.exists(dst):
            with open(dst, "rb") as f:
                if f.read() == data:
                    continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)
        copied += 1
    log("tree copy %s up to date (%d files copied)" % (TREE, copied))


def build():
    env = dict(os.environ)
    flags = ["-DCMAKE_BUILD_TYPE=Release"]
    if shutil.which("ccache"):
        flags.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        env.setdefault("CCACHE_BASEDIR", os.path.dirname(ROOT))
    r = subprocess.run(["cmake", "-S", TREE, "-B", BUILD] + flags, env=env, capture_output=True,
                       text=True)
    if r.returncode != 0:
        return False, r.stdout[-3000:] + r.stderr[-3000:]
    r = subprocess.run(["cmake", "--build", BUILD, "-j" + JOBS, "--target", "sandgate",
                        "sandgate_unit_tests"], env=env, capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr)[-6000:]


def run_tests(m):
    """Runs the mutation's tests; returns (all passed, names of the failing commands, output)."""
    failed, out = [], ""
    cmds = []
    if m.get("unit"):
        cmds.append(("unit " + m["unit"],
                     [os.path.join(BUILD, "sandgate_unit_tests"), "--gtest_filter=" + m["unit"]],
                     BUILD))
    for t in m.get("blackbox", []):
        cmds.append(("blackbox " + t, [sys.executable, "-m", "unittest", t],
                     os.path.join(TREE, "tests", "blackbox")))
    env = dict(os.environ)
    env["SANDGATE_BIN"] = os.path.join(BUILD, "sandgate")
    env["SANDGATE_SANITIZED"] = "0"
    for label, cmd, cwd in cmds:
        try:
            r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=TEST_TIMEOUT)
            if r.returncode != 0:
                failed.append(label)
                out += "--- %s\n%s\n" % (label, (r.stdout + r.stderr)[-2500:])
        except subprocess.TimeoutExpired:
            failed.append(label + " (timeout)")
    return not failed, failed, out


def main():
    args = sys.argv[1:]
    baseline = "--no-baseline" not in args
    names = [a for a in args if not a.startswith("--")]
    with open(LIST) as f:
        mutations = json.load(f)
    if names:
        mutations = [m for m in mutations if m["name"] in names]
        if len(mutations) != len(names):
            log("unknown mutation name among %s" % names)
            return 2
    started = time.time()
    sync_tree()
    # Every mutation must still apply: its original text once in the file.
    stale = []
    for m in mutations:
        with open(os.path.join(TREE, m["file"])) as f:
            n = f.read().count(m["original"])
        if n != 1:
            stale.append("%s: the original text occurs %d times in %s" % (m["name"], n, m["file"]))
    if stale:
        for s in stale:
            log("stale list: " + s)
        return 1
    ok, out = build()
    if not ok:
        log("the unmutated copy does not build:\n" + out)
        return 1
    if baseline:
        for m in mutations:
            passed, failed, out = run_tests(m)
            if not passed:
                log("baseline: %s's tests fail on the unmutated tree: %s\n%s" % (
                    m["name"], ", ".join(failed), out))
                return 1
        log("baseline: every listed test passes on the unmutated tree")
    results = []
    for m in mutations:
        path = os.path.join(TREE, m["file"])
        with open(path) as f:
            original = f.read()
        t0 = time.time()
        try:
            with open(path, "w") as f:
                f.write(original.replace(m["original"], m["mutated"], 1))
            built, bout = build()
            if not built:
                results.append((m, "BUILD-FAILED", [], bout))
            else:
                passed, failed, tout = run_tests(m)
                results.append((m, "survived" if passed else "killed", failed, tout))
        finally:
            with open(path, "w") as f:
                f.write(original)
        m_result = results[-1]
        log("%-40s %-12s %4.0f s  %s" % (m["name"], m_result[1], time.time() - t0,
                                         ", ".join(m_result[2])))
    killed = sum(1 for r in results if r[1] == "killed")
    print()
    print("%-40s %-12s %s" % ("mutation", "result", "killed by"))
    for m, res, failed, _ in results:
        print("%-40s %-12s %s" % (m["name"], res, ", ".join(failed) or "-"))
    for m, res, _, out in results:
        if res != "killed":
            print("\n%s (%s): %s\n%s" % (m["name"], m["about"], res, out[-3000:]))
    score = 100.0 * killed / len(results) if results else 100.0
    print("\nmutation score: %d/%d killed (%.0f%%), %.0f s; the working tree was not modified" % (
        killed, len(results), score, time.time() - started))
    return 0 if killed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
