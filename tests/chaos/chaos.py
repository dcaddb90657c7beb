#!/usr/bin/env python3
"""`make chaos`: three `sandgate serve` nodes on one PostgreSQL, each in its own network namespace,
while faults are injected in rounds and clients record every request; a checker then asserts the
cluster's invariants (docs/CLUSTER.md, "The partition test").

Layout (all created here, removed on exit, also on failure): for node i (1..3) a namespace
<tag>n<i> joined to the host by a veth pair <tag>h<i> (host side) / <tag>v<i> (namespace side) on
10.<k>.<i>.0/24. PostgreSQL listens on the host address 10.<k>.<i>.1; the node on 10.<k>.<i>.2:8080;
clients connect from host addresses in 10.<k>.<i>.128/25. Faults:
- cut a node from PostgreSQL: a blackhole route to 10.<k>.<i>.1 inside its namespace (packets
  vanish, nothing is refused: the node has to notice by itself);
- cut a node from its clients: a blackhole route to 10.<k>.<i>.128/25 inside its namespace;
- SIGSTOP the node for longer than its lease (2 s), then SIGCONT;
- restart PostgreSQL (immediate stop, start);
- kill -9 a node and start it again.
Clients meanwhile regenerate, disable/enable and expire/renew through every node and submit with
current and revoked tokens through every node, recording each request's start, end and answer.

Invariants checked:
1. no token is accepted (200, or a quota/rate 429, which is only given after the token is
   verified) by a request that started after the 2xx of a change that revoked it (unless a change
   that re-enables it started before the request ended);
2. no acknowledged submission (its report) or change (its audit record) is lost;
3. the daily allowance is never exceeded (answers and the store);
4. the rates hold: at most ratePerSecond accepted in any second of the clock (requests that began
   and ended within that second), at most ratePerHour in any hour (the documented bound is exact:
   the windows are the database's, and database and clients share this machine's clock);
5. every node recovers by itself: after each fault is healed, every node answers /readyz 200 and
   accepts a valid token within 30 s, without being touched.
Traffic goes only to loopback and to the namespaces created here. Needs root (ip netns).
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_SCRIPT = os.path.join(ROOT, "scripts", "pg-test-cluster.sh")
PORT = 8080
TIMEOUT = 8.0  # per request (a write may wait for a node cut off while it held the write lock)
RECOVERY_S = 30.0
STOP_S = 3.0  # SIGSTOP for longer than the 2 s lease
CUT_S = 3.0


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def run(*cmd, check=True, timeout=120):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr.strip()))
    return p


class Net:
    """The namespaces, veth pairs and addresses; remove() undoes everything that was created."""

    def __init__(self, tag, octet):
        self.tag = tag
        self.k = octet
        self.namespaces = []
        self.links = []
        self.sources = {}  # node index -> client source addresses

    def ns(self, i):
        return "%sn%d" % (self.tag, i)

    def host_addr(self, i):
        return "10.%d.%d.1" % (self.k, i)

    def node_addr(self, i):
        return "10.%d.%d.2" % (self.k, i)

    def setup(self, n):
        for i in range(1, n + 1):
            ns, h, v = self.ns(i), "%sh%d" % (self.tag, i), "%sv%d" % (self.tag, i)
            run("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            run("ip", "link", "add", h, "type", "veth", "peer", "name", v)
            self.links.append(h)
            run("ip", "link", "set", v, "netns", ns)
            run("ip", "addr", "add", self.host_addr(i) + "/24", "dev", h)
            srcs = ["10.%d.%d.%d" % (self.k, i, j) for j in range(130, 250)]
            for a in srcs:
                run("ip", "addr", "add", a + "/32", "dev", h)
            self.sources[i] = srcs
            run("ip", "link", "set", h, "up")
            run("ip", "netns", "exec", ns, "ip", "addr", "add", self.node_addr(i) + "/24", "dev", v)
            run("ip", "netns", "exec", ns, "ip", "link", "set", v, "up")
            run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")

    def blackhole(self, i, prefix, on):
        run("ip", "netns", "exec", self.ns(i), "ip", "route", "add" if on else "del", "blackhole", prefix,
            check=on)

    def cut_db(self, i, on):
        self.blackhole(i, self.host_addr(i) + "/32", on)

    def cut_clients(self, i, on):
        self.blackhole(i, "10.%d.%d.128/25" % (self.k, i), on)

    def remove(self):
        for h in self.links:
            run("ip", "link", "del", h, check=False)
        for ns in self.namespaces:
            run("ip", "netns", "del", ns, check=False)
        self.links, self.namespaces = [], []


def http_request(host, method, path, body=None, headers=None, source=None, timeout=TIMEOUT):
    """One request on a fresh connection, never retried. Returns (status, body bytes, headers) or
    (None, error text, {}) when no answer came."""
    conn = http.client.HTTPConnection(host, PORT, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read(), {k.lower(): v for k, v in r.getheaders()}
    except (OSError, http.client.HTTPException) as e:
        return None, str(e).encode(), {}
    finally:
        conn.close()


class Cluster:
    def __init__(self, bin_path, net, tmp):
        self.bin = bin_path
        self.net = net
        self.tmp = tmp
        self.pg_dir = os.path.join(tmp, "pg")
        self.procs = {}
        self.key = os.path.join(tmp, "cluster.key")
        self.url = None
        self.port = None
        self.logins = {}

    def start_pg(self):
        out = run("bash", PG_SCRIPT, "start", self.pg_dir, timeout=180)
        self.url = out.stdout.strip().splitlines()[-1]
        self.port = int(open(os.path.join(self.pg_dir, "port")).read())
        home = open(os.path.join(self.pg_dir, "home")).read().strip()
        addrs = ",".join(["127.0.0.1"] + [self.net.host_addr(i) for i in (1, 2, 3)])
        with open(os.path.join(home, "data", "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '%s'\n" % addrs)
        with open(os.path.join(home, "data", "pg_hba.conf"), "a") as f:
            f.write("host all all 10.%d.0.0/16 trust\n" % self.net.k)
        self.restart_pg(0)
        run(self.bin, "migrate", "--store", self.url, timeout=60)

    def restart_pg(self, down_s):
        run("bash", PG_SCRIPT, "pause", self.pg_dir, timeout=60)
        time.sleep(down_s)
        run("bash", PG_SCRIPT, "resume", self.pg_dir, timeout=60)

    def node_url(self, i):
        return "postgres://postgres@%s:%d/postgres" % (self.net.host_addr(i), self.port)

    def start_node(self, i, demo=False):
        data = os.path.join(self.tmp, "node%d" % i)
        os.makedirs(data, mode=0o700, exist_ok=True)
        out = open(os.path.join(self.tmp, "node%d.stdout" % i), "a")
        args = ["ip", "netns", "exec", self.net.ns(i), self.bin, "serve", "--store", self.node_url(i),
                "--key-file", self.key, "--data", data, "--node-id", "node%d" % i,
                "--listen", "%s:%d" % (self.net.node_addr(i), PORT), "--invalid-token-limit", "1000000"]
        if demo:
            args.append("--demo")
        # `ip netns exec` execs the command: the pid is the node's.
        self.procs[i] = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.procs[i].poll() is not None:
                raise RuntimeError("node %d exited: %s" % (i, self.stdout(i)[-2000:]))
            if self.ready(i):
                break
            time.sleep(0.1)
        else:
            raise RuntimeError("node %d did not become ready" % i)
        if demo:
            for user, pw in re.findall(r"(provider|acme-admin|acme-viewer)\s*/ (\S+)", self.stdout(i)):
                self.logins[user] = pw

    def stdout(self, i):
        with open(os.path.join(self.tmp, "node%d.stdout" % i)) as f:
            return f.read()

    def ready(self, i):
        status, _, _ = http_request(self.net.node_addr(i), "GET", "/readyz", source=self.net.sources[i][0],
                                    timeout=2)
        return status == 200

    def kill9(self, i):
        p = self.procs[i]
        p.send_signal(signal.SIGKILL)
        p.wait(30)

    def stop_all(self):
        for i, p in self.procs.items():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.terminate()
                    p.wait(20)
                except Exception:
                    p.kill()
                    p.wait(10)
        self.procs = {}
        run("bash", PG_SCRIPT, "stop", self.pg_dir, check=False, timeout=120)

    def psql(self, sql):
        out = run("psql", self.url, "-At", "-c", sql, timeout=60)
        return out.stdout.split()


class Session:
    """A signed-in user (cookie + CSRF token), usable through any node."""

    def __init__(self, cluster, user, password):
        self.c = cluster
        self.cookie = self.csrf = None
        for _ in range(20):
            i = random.randint(1, 3)
            status, body, h = self.raw(i, "POST", "/api/v1/authenticatedSession",
                                       {"username": user, "password": password}, auth=False)
            if status == 200:
                self.cookie = re.search(r"sg_session=([^;]*)", h.get("set-cookie", "")).group(1)
                self.csrf = json.loads(body)["csrfToken"]
                return
            time.sleep(0.5)
        raise RuntimeError("login of %s failed" % user)

    def raw(self, i, method, path, body=None, auth=True):
        h = {}
        if auth:
            h["Cookie"] = "sg_session=" + self.cookie
            if method != "GET":
                h["X-CSRF-Token"] = self.csrf
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        src = random.choice(self.c.net.sources[i])
        return http_request(self.c.net.node_addr(i), method, path, data, h, source=src)

    def must(self, method, path, body=None, ok=(200, 201)):
        for _ in range(40):
            status, raw, _ = self.raw(random.randint(1, 3), method, path, body)
            if status in ok:
                return json.loads(raw) if raw else None
            time.sleep(0.5)
        raise RuntimeError("%s %s kept failing: %r %r" % (method, path, status, raw[:200]))


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.submits = []  # (org, token, node, start, end, status, body head, md5)
        self.changes = []  # (org, kind, node, start, end, status)
        self.tokens = {}  # token -> org

    def submit(self, *rec):
        with self.lock:
            self.submits.append(rec)

    def change(self, *rec):
        with self.lock:
            self.changes.append(rec)


class Workload:
    def __init__(self, cluster, rec, orgs, stop):
        self.c = cluster
        self.rec = rec
        self.orgs = orgs  # name -> dict(id, tokens(list), session)
        self.stop = stop
        self.threads = []
        self.n = 0
        self.nlock = threading.Lock()

    def seq(self):
        with self.nlock:
            self.n += 1
            return self.n

    def submit(self, org, token, i):
        body = ("chaos %s %d %.6f\n" % (org, self.seq(), time.time())).encode() * 4
        md5 = hashlib.md5(body).hexdigest().upper()
        src = random.choice(self.c.net.sources[i])
        start = time.time()
        status, raw, _ = http_request(self.c.net.node_addr(i), "POST",
                                      "/zscsb/submit?api_token=%s&force=1" % token, body,
                                      {"Content-Type": "application/octet-stream"}, source=src)
        end = time.time()
        self.rec.submit(org, token, i, start, end, status, raw[:120], md5)
        return status

    def submitter(self, names, pause):
        while not self.stop.is_set():
            name = random.choice(names)
            o = self.orgs[name]
            with self.rec.lock:
                token = random.choice(o["tokens"][-3:])
            self.submit(name, token, random.randint(1, 3))
            time.sleep(pause)

    def changer(self, name, kinds):
        o = self.orgs[name]
        k = 0
        while not self.stop.is_set():
            kind = kinds[k % len(kinds)]
            k += 1
            i = random.randint(1, 3)
            sess = o["session"]
            path, body = {
                "regenerate": ("/api/v1/sandbox/token", None),
                "disable": ("/api/v1/provider/orgs/%d/token/disable" % o["id"], {"reason": "TERMS_VIOLATION"}),
                "enable": ("/api/v1/provider/orgs/%d/token/enable" % o["id"], None),
                "expire": ("/api/v1/provider/orgs/%d/subscription" % o["id"], {"action": "expire"}),
                "renew": ("/api/v1/provider/orgs/%d/subscription" % o["id"], {"action": "renew"}),
            }[kind]
            method = "PUT" if kind == "regenerate" else "POST"
            start = time.time()
            status, raw, _ = sess.raw(i, method, path, body)
            end = time.time()
            self.rec.change(name, kind, i, start, end, status)
            if kind == "regenerate":
                # The new token, through any node that answers.
                for _ in range(20):
                    st, raw, _ = sess.raw(random.randint(1, 3), "GET", "/api/v1/sandbox/token/reveal")
                    if st == 200:
                        t = json.loads(raw)["token"]
                        with self.rec.lock:
                            if t not in o["tokens"]:
                                o["tokens"].append(t)
                                o["issued"].append((t, time.time()))  # revealed at
                                self.rec.tokens[t] = name
                        break
                    if self.stop.wait(0.3):
                        break
            self.stop.wait(0.25)

    def start(self):
        specs = [(self.changer, ("Regen", ["regenerate"])),
                 (self.changer, ("Dis", ["disable", "enable"])),
                 (self.changer, ("Exp", ["expire", "renew"]))]
        for _ in range(4):
            specs.append((self.submitter, (["Regen", "Dis", "Exp"], 0.02)))
        specs.append((self.submitter, (["Quota"], 0.05)))
        for _ in range(3):
            specs.append((self.submitter, (["Rate"], 0.05)))
        specs.append((self.submitter, (["Hour"], 0.5)))
        for fn, args in specs:
            t = threading.Thread(target=self._guard, args=(fn, args), daemon=True)
            t.start()
            self.threads.append(t)

    def _guard(self, fn, args):
        try:
            fn(*args)
        except Exception:
            traceback.print_exc()
            self.stop.set()

    def join(self):
        for t in self.threads:
            t.join(60)


def token_accepted(status, body):
    """The node verified the token: accepted, or refused by quota/rate (which come after)."""
    if status == 200:
        return True
    return status == 429 and b"invalid API tokens" not in body


def check(cluster, rec, orgs, recovery_failures):
    violations = []
    changes = sorted(rec.changes, key=lambda c: c[3])
    # 1. Revocations.
    revoke = {"regenerate": None, "disable": "enable", "expire": "renew"}
    for (org, kind, node, start, end, status) in changes:
        if kind not in revoke or status is None or not 200 <= status < 300:
            continue
        undo = revoke[kind]
        if kind == "regenerate":
            # The token current before this regenerate is revoked at its end: every token issued
            # before, i.e. all but the ones revealed after it started.
            toks = orgs[org]["issued"]
            dead = {t for (t, revealed_at) in toks if revealed_at < start}
        else:
            dead = set(orgs[org]["tokens"])
        # A re-enabling change that may have been applied after this one.
        undos = [c for c in changes if c[0] == org and c[1] == undo and c[4] > start]
        for s in rec.submits:
            if s[0] != org or s[1] not in dead or not token_accepted(s[5], s[6]):
                continue
            if s[3] <= end:
                continue
            if any(u[3] < s[4] for u in undos):
                continue
            violations.append("revoked token accepted: %s %s acked at %.3f, submit on node %d %.3f-%.3f -> %s"
                              % (org, kind, end, s[2], s[3], s[4], s[5]))
    # 2. Nothing acknowledged lost: reports and audit records.
    by_org = {}
    for s in rec.submits:
        if s[5] == 200:
            by_org.setdefault(s[0], set()).add(s[7])
    for org, md5s in by_org.items():
        stored = set(cluster.psql("SELECT md5 FROM reports WHERE org_id = %d" % orgs[org]["id"]))
        for m in md5s - stored:
            violations.append("acknowledged submission lost: %s %s" % (org, m))
    action = {"regenerate": "TOKEN_REGENERATE", "disable": "TOKEN_DISABLE", "enable": "TOKEN_ENABLE",
              "expire": "SUBSCRIPTION_EXPIRE", "renew": "SUBSCRIPTION_RENEW"}
    acked = {}
    for (org, kind, node, start, end, status) in changes:
        if status is not None and 200 <= status < 300:
            acked[(org, kind)] = acked.get((org, kind), 0) + 1
    for (org, kind), n in acked.items():
        got = int(cluster.psql("SELECT count(*) FROM audit WHERE org_id = %d AND action = '%s' AND outcome = "
                               "'ALLOWED'" % (orgs[org]["id"], action[kind]))[0])
        if got < n:
            violations.append("acknowledged changes lost: %s %s: %d acknowledged, %d recorded" % (org, kind, n, got))
    # 3. Daily allowance.
    for name in ("Quota",):
        o = orgs[name]
        per_day = {}
        for s in rec.submits:
            if s[0] == name and s[5] == 200:
                d = int(s[3] // 86400)
                per_day[d] = per_day.get(d, 0) + 1
        for d, n in per_day.items():
            if n > o["allowed"]:
                violations.append("daily allowance exceeded: %s day %d: %d > %d" % (name, d, n, o["allowed"]))
        for used in cluster.psql("SELECT used FROM usage WHERE org_id = %d" % o["id"]):
            if int(used) > o["allowed"]:
                violations.append("daily usage in the store above the allowance: %s" % used)
    # 4. Rates (exact: the bound is 0 extra).
    for name, width, limit in (("Rate", 1.0, orgs["Rate"]["per_second"]), ("Hour", 3600.0, orgs["Hour"]["per_hour"])):
        windows = {}
        for s in rec.submits:
            if s[0] == name and s[5] == 200:
                w0, w1 = int(s[3] // width), int(s[4] // width)
                if w0 == w1:
                    windows[w0] = windows.get(w0, 0) + 1
        for w, n in windows.items():
            if n > limit:
                violations.append("rate exceeded: %s window %d: %d > %d" % (name, w, n, limit))
    # 5. Recovery.
    violations += recovery_failures
    return violations


def await_recovery(cluster, orgs, what):
    """Every node ready and accepting a valid token within RECOVERY_S, untouched."""
    deadline = time.time() + RECOVERY_S
    token = orgs["Spare"]["tokens"][-1]
    pending = {1, 2, 3}
    while pending and time.time() < deadline:
        for i in sorted(pending):
            if cluster.ready(i):
                status, _, _ = http_request(cluster.net.node_addr(i), "POST",
                                            "/zscsb/submit?api_token=%s&force=1" % token, b"",
                                            {"Content-Type": "application/octet-stream"},
                                            source=random.choice(cluster.net.sources[i]), timeout=5)
                if status == 400:  # authenticated; the empty body refused after
                    pending.discard(i)
        time.sleep(0.2)
    return ["node %d did not recover by itself within %ds after %s" % (i, RECOVERY_S, what) for i in sorted(pending)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("CHAOS_ROUNDS", "20")))
    ap.add_argument("--bin", default=os.environ.get("SANDGATE_BIN", os.path.join(ROOT, "build", "release", "sandgate")))
    ap.add_argument("--report", default=os.environ.get("CHAOS_REPORT", ""))
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("chaos: needs root (ip netns)", file=sys.stderr)
        return 2
    tag = os.environ.get("CHAOS_TAG") or "sgc%d" % (os.getpid() % 100000)
    used = run("ip", "-4", "addr").stdout
    octet = next(k for k in range(100, 200) if (" 10.%d." % k) not in used)
    net = Net(tag, octet)
    tmp = tempfile.mkdtemp(prefix="sandgate-chaos-")
    cluster = Cluster(os.path.abspath(args.bin), net, tmp)
    stop = threading.Event()

    def on_signal(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    faults = 0
    recovery_failures = []
    rec = Recorder()
    workload = None
    try:
        log("chaos: namespaces %sn1..3 on 10.%d.0.0/16, %d rounds" % (tag, octet, args.rounds))
        net.setup(3)
        cluster.start_pg()
        cluster.start_node(1, demo=True)
        cluster.start_node(2)
        cluster.start_node(3)
        provider = Session(cluster, "provider", cluster.logins["provider"])
        orgs = {}
        settings = {
            "Regen": {}, "Dis": {}, "Exp": {}, "Spare": {},
            "Quota": {"dailyAllowance": 60},
            "Rate": {"ratePerSecond": 2},
            "Hour": {"ratePerHour": 30},
        }
        run_id = "%d" % (time.time() * 1000)
        for name, extra in settings.items():
            o = provider.must("POST", "/api/v1/provider/orgs", {"name": "Chaos%s%s" % (name, run_id)}, ok=(201,))
            oid = o["id"]
            provider.must("POST", "/api/v1/provider/orgs/%d/subscription" % oid, {"action": "activate"})
            body = {"ratePerSecond": 100000, "ratePerHour": 1000000, "disableThreshold": 1000000,
                    "dailyAllowance": 1000000}
            body.update(extra)
            provider.must("PATCH", "/api/v1/provider/orgs/%d" % oid, body)
            uname = ("chaos-%s-%s" % (name, run_id)).lower()
            u = provider.must("POST", "/api/v1/provider/orgs/%d/users" % oid, {"username": uname, "role": "ORG_ADMIN"},
                              ok=(201,))
            admin = Session(cluster, uname, u["password"])
            token = admin.must("GET", "/api/v1/sandbox/token/reveal")["token"]
            orgs[name] = {"id": oid, "tokens": [token], "issued": [(token, 0.0)],
                          "session": provider if name in ("Dis", "Exp") else admin,
                          "allowed": body["dailyAllowance"], "per_second": body["ratePerSecond"],
                          "per_hour": body["ratePerHour"]}
            rec.tokens[token] = name
        workload = Workload(cluster, rec, orgs, stop)
        workload.start()
        time.sleep(2)
        for r in range(1, args.rounds + 1):
            if stop.is_set():
                raise RuntimeError("a client thread failed (above)")
            v = (r - 1) % 3 + 1
            t0 = time.time()
            net.cut_db(v, True)
            time.sleep(CUT_S)
            net.cut_db(v, False)
            faults += 1
            recovery_failures += await_recovery(cluster, orgs, "round %d: node %d cut from PostgreSQL" % (r, v))
            net.cut_clients(v, True)
            time.sleep(CUT_S)
            net.cut_clients(v, False)
            faults += 1
            recovery_failures += await_recovery(cluster, orgs, "round %d: node %d cut from clients" % (r, v))
            cluster.procs[v].send_signal(signal.SIGSTOP)
            time.sleep(STOP_S)
            cluster.procs[v].send_signal(signal.SIGCONT)
            faults += 1
            recovery_failures += await_recovery(cluster, orgs, "round %d: node %d paused" % (r, v))
            cluster.restart_pg(1.0)
            faults += 1
            recovery_failures += await_recovery(cluster, orgs, "round %d: PostgreSQL restarted" % r)
            cluster.kill9(v)
            time.sleep(0.5)
            cluster.start_node(v)
            faults += 1
            recovery_failures += await_recovery(cluster, orgs, "round %d: node %d killed and restarted" % (r, v))
            log("round %d/%d done in %.1fs (victim node %d, %d requests so far, %d recovery failures)"
                % (r, args.rounds, time.time() - t0, v, len(rec.submits) + len(rec.changes), len(recovery_failures)))
        stop.set()
        workload.join()
        violations = check(cluster, rec, orgs, recovery_failures)
        accepted = sum(1 for s in rec.submits if s[5] == 200)
        lines = [
            "chaos report",
            "rounds: %d" % args.rounds,
            "faults injected: %d (per round: cut from PostgreSQL, cut from clients, SIGSTOP %.0fs, "
            "PostgreSQL restart, kill -9 + restart)" % (faults, STOP_S),
            "requests checked: %d (%d submissions, %d accepted; %d changes, %d acknowledged)"
            % (len(rec.submits) + len(rec.changes), len(rec.submits), accepted, len(rec.changes),
               sum(1 for c in rec.changes if c[5] is not None and 200 <= c[5] < 300)),
            "violations: %d" % len(violations),
        ]
        lines += ["  " + v for v in violations[:50]]
        report = "\n".join(lines) + "\n"
        print(report, flush=True)
        if args.report:
            with open(args.report, "w") as f:
                f.write(report)
        return 0 if not violations else 1
    finally:
        stop.set()
        if workload:
            workload.join()
        try:
            cluster.stop_all()
        finally:
            net.remove()
            subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    sys.exit(main())
