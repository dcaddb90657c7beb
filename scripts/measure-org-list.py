#!/usr/bin/env python3
"""Measures the provider console's organization list, search and overview at scale (issue 18,
item 12: under 200 ms of server time per page with 100,000 organizations and their usage).

    python3 scripts/measure-org-list.py [--build build/release] [--orgs 100000] [--usage-days 14]
                                        [--store sqlite|postgres] [--repeat 5] [--keep]
    make measure-org-list            (MEASURE_ORGS, MEASURE_USAGE_DAYS, MEASURE_STORE, MEASURE_REPEAT)

It creates a data directory (`sandgate init`), seeds ORGS organizations with tokens and
USAGE_DAYS days of usage each (`sandgate_bench_seed --usage-days`), copies them into a throwaway
PostgreSQL cluster for --store postgres (`sandgate store copy`, scripts/pg-test-cluster.sh), starts
`sandgate serve`, signs in as the provider and asks each page REPEAT times, one request at a time:
first, middle and last page of each sort (both directions for usage), the filters, searches (one
organization, a tenth of them, all of them, none) and the overview. For each it prints the median
and the worst server time, read from the access log (`... 200 12.3ms`, the time from the request's
header to the response written; requests are sequential, so the log lines pair with them in order)
and curl-like client time. Nothing is asserted: this is a measurement, not a test (DEVELOPERS.md:
speed is proved by benchmarks). Exit status 0 unless a request fails.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"measure: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build/release"))
    ap.add_argument("--orgs", type=int, default=100000)
    ap.add_argument("--usage-days", type=int, default=14)
    ap.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    if args.orgs < 1 or args.repeat < 1 or not (0 <= args.usage_days <= 400):
        sys.exit("measure: --orgs and --repeat must be >= 1, --usage-days 0 to 400")
    sandgate = os.path.join(args.build, "sandgate")
    seed = os.path.join(args.build, "bench", "sandgate_bench_seed")
    for b in (sandgate, seed):
        if not os.access(b, os.X_OK):
            sys.exit(f"measure: {b} is missing: build Release first")

    work = tempfile.mkdtemp(prefix="sandgate-measure.")
    data = os.path.join(work, "data")
    pg_dir = None
    server = None
    try:
        out = run([sandgate, "init", "--data", data])
        m = re.search(r"password \(shown once\): (\S+)", out)
        if not m:
            sys.exit("measure: no admin password in the output of sandgate init")
        password = m.group(1)
        t0 = time.monotonic()
        run([seed, "--data", data, "--count", str(args.orgs), "--prefix", "org",
             "--usage-days", str(args.usage_days)])
        print(f"seeded {args.orgs} organizations, {args.usage_days} days of usage each, "
              f"in {time.monotonic() - t0:.1f} s", flush=True)
        serve = [sandgate, "serve", "--data", data]
        if args.store == "postgres":
            pg_dir = os.path.join(work, "pg")
            url = run(["bash", os.path.join(ROOT, "scripts/pg-test-cluster.sh"), "start", pg_dir]).strip()
            t0 = time.monotonic()
            run([sandgate, "store", "copy", "--from", "sqlite:" + os.path.join(data, "sandgate.db"),
                 "--to", url])
            print(f"copied to PostgreSQL in {time.monotonic() - t0:.1f} s", flush=True)
            # VACUUM ANALYZE after the bulk load, as an operator would (autovacuum does it later).
            subprocess.run(["psql", url, "-qc", "VACUUM ANALYZE"], capture_output=True)
            serve += ["--store", url]
        port = free_port()
        log = os.path.join(work, "serve.out")
        server = subprocess.Popen(serve + ["--listen", f"127.0.0.1:{port}"],
                                  stdout=open(log, "w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                sys.exit("measure: the server did not become ready: " + open(log).read()[-2000:])
            time.sleep(0.1)

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("POST", "/api/v1/authenticatedSession",
                     body=json.dumps({"username": "admin", "password": password}),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            sys.exit(f"measure: sign-in answered {r.status}")
        cookie = r.getheader("Set-Cookie").split(";")[0]

        n, size = args.orgs, 25
        last = max(1, (n + size - 1) // size)
        mid = max(1, last // 2)
        cases = []
        for sort in ("name", "id", "usage", "endsAt"):
            for page in (1, mid, last):
                cases.append(f"sort={sort}&page={page}")
        for page in (1, mid, last):
            cases.append(f"sort=-usage&page={page}")
        for f in ("enabled", "disabled", "over80", "nearThreshold", "expiring", "noToken"):
            cases.append(f"filter={f}&sort=-usage&page=1")
        cases.append(f"filter=over80&sort=name&page={max(1, last // 5)}")
        for q in (f"org-{n // 2 + 7}", "org-1", "org-", "no-such-organization", "rg-4"):
            cases.append(f"search={q}&page=1")
        cases.append("search=org-&sort=-usage&page=" + str(mid))
        cases.append("search=org-1&sort=name&page=100")
        paths = [f"/api/v1/provider/orgs?pageSize={size}&{c}" for c in cases]
        paths.append("/api/v1/provider/overview")

        # Every request once (warm-up: a cold page cache is not what is measured), then REPEAT
        # rounds; the client time of each, in order.
        client_ms = {p: [] for p in paths}
        order = []
        for rnd in range(args.repeat + 1):
            for p in paths:
                t = time.perf_counter()
                conn.request("GET", p, headers={"Cookie": cookie})
                r = conn.getresponse()
                body = r.read()
                ms = (time.perf_counter() - t) * 1000
                if r.status != 200:
                    sys.exit(f"measure: {p} answered {r.status}: {body[:300]!r}")
                order.append(p)
                if rnd > 0:
                    client_ms[p].append(ms)
        conn.close()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        server = None

        # The access log: "addr GET /api/v1/provider/... 200 12.3ms" in request order.
        lines = []
        for name in ("sandgate.log", ):
            path = os.path.join(data, name)
            if os.path.exists(path):
                lines += [l for l in open(path, errors="replace") if re.search(r" GET /api/v1/provider/(orgs|overview) ", l)]
        lines += [l for l in open(log, errors="replace") if re.search(r" GET /api/v1/provider/(orgs|overview) ", l)]
        server_ms = {p: [] for p in paths}
        if len(lines) == len(order):
            for i, (p, l) in enumerate(zip(order, lines)):
                if i >= len(paths):
                    server_ms[p].append(float(re.search(r" (\d+(?:\.\d+)?)ms", l).group(1)))
        else:
            print(f"measure: {len(lines)} access log lines for {len(order)} requests; server times left out")

        print(f"\nstore {args.store}, {n} organizations, {args.usage_days} days of usage each, "
              f"{args.repeat} rounds; milliseconds")
        print(f"{'request':<72} {'server med':>10} {'server max':>10} {'client med':>10}")
        worst = 0.0
        for p in paths:
            s = server_ms[p]
            med = statistics.median(s) if s else float("nan")
            mx = max(s) if s else float("nan")
            worst = max(worst, mx if s else 0)
            label = p.replace("/api/v1/provider/", "")
            print(f"{label:<72} {med:>10.1f} {mx:>10.1f} {statistics.median(client_ms[p]):>10.1f}")
        print(f"\nworst server time: {worst:.1f} ms")
    finally:
        if server is not None:
            server.kill()
            server.wait()
        if pg_dir:
            subprocess.run(["bash", os.path.join(ROOT, "scripts/pg-test-cluster.sh"), "stop", pg_dir],
                           capture_output=True)
        if args.keep:
            print(f"measure: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
