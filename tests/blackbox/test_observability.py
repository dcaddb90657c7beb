"""Observability (issue 16): /metrics proven by a real Prometheus (Debian's `prometheus`, its own
data directory and port, scrape interval 1 s) scraping a real `sandgate serve`; the alert rules
loaded by it; every Grafana dashboard expression run against it; JSON logs, --log-file -,
X-Request-Id from a trusted proxy, /readyz checks."""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from harness import BIN, Server, ServerTestCase

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
RULES = os.path.join(ROOT, "deploy", "prometheus", "sandgate-rules.yml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "sandgate.json")

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """[(name, {label: value}, float)] of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, "not an exposition line: " + line
        out.append((m.group(1), dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, fn, timeout=60, interval=0.2):
    """Polls fn() until it returns a true value (bounded in time); returns it."""
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


class Prometheus:
    """Debian's prometheus binary with its own temporary data directory and port, scraping one
    target every second and evaluating the Sandgate alert rules every second."""

    def __init__(self, target):
        self.dir = tempfile.mkdtemp(prefix="sandgate-prometheus-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    f"rule_files:\n  - {RULES}\n"
                    "scrape_configs:\n  - job_name: sandgate\n    static_configs:\n"
                    f"      - targets: ['{target}']\n")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(self.dir, "data"),
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("prometheus to be ready", self.ready, timeout=60)

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("prometheus exited: " + open(self.log.name).read()[-2000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def api(self, path, **params):
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:  # 400 for a bad expression: the body says why
            return json.load(e)

    def query(self, expr):
        """The instant vector of expr as {frozenset(labels without __name__): value}."""
        r = self.api("query", query=expr)
        assert r["status"] == "success", (expr, r)
        return {frozenset((k, v) for k, v in s["metric"].items() if k != "__name__"): float(s["value"][1])
                for s in r["data"]["result"]}

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrometheusTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prom = Prometheus(f"127.0.0.1:{cls.server.port}")
        wait_for("the first scrape", lambda: cls.prom.query('sandgate_build_info{job="sandgate"}'))

    @classmethod
    def tearDownClass(cls):
        cls.prom.stop()
        super().tearDownClass()

    def metrics_text(self):
        r = self.server.client().get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        return r.raw

    def direct(self, name, **labels):
        """The value sandgate itself exposes now for name{labels} (exactly one series)."""
        found = [v for n, l, v in parse_exposition(self.metrics_text())
                 if n == name and all(l.get(k) == w for k, w in labels.items())]
        self.assertEqual(len(found), 1, (name, labels, found))
        return found[0]

    def scraped(self, name, **labels):
        """The value Prometheus holds for name{labels} (one series), or None."""
        sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
        res = self.prom.query(f'{name}{{job="sandgate",{sel}}}' if sel else f'{name}{{job="sandgate"}}')
        return list(res.values())[0] if len(res) == 1 else None

    def test_promtool_accepts_the_exposition(self):
        text = self.metrics_text()
        p = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        names = {n for n, _, _ in parse_exposition(text)}
        for required in ("sandgate_http_requests_total", "sandgate_http_request_duration_seconds_bucket",
                         "sandgate_http_requests_in_flight", "sandgate_http_connections_open",
                         "sandgate_http_connections_refused_total", "sandgate_http_tls_handshake_failures_total",
                         "sandgate_token_verifications_total", "sandgate_token_changes_total",
                         "sandgate_token_threshold_disables_total", "sandgate_quota_refusals_total",
                         "sandgate_quota_over_attempts_total", "sandgate_submissions_total",
                         "sandgate_submission_received_bytes_total", "sandgate_submission_verdicts_total",
                         "sandgate_analysis_stage_duration_seconds_bucket", "sandgate_analysis_queue_depth",
                         "sandgate_analysis_queue_full_total", "sandgate_spool_bytes",
                         "sandgate_store_transaction_duration_seconds_bucket",
                         "sandgate_store_transaction_failures_total", "sandgate_store_group_commit_batch_size_bucket",
                         "sandgate_store_follower_lag_entries", "sandgate_store_index_trusted",
                         "sandgate_store_propagation_wait_seconds_bucket", "process_resident_memory_bytes",
                         "process_open_fds", "process_threads", "process_start_time_seconds", "sandgate_build_info"):
            self.assertIn(required, names)
        # Bounded labels: route templates, never a concrete path or an organization.
        for n, labels, _ in parse_exposition(text):
            self.assertNotIn("org", labels, n)
            if "route" in labels:
                self.assertNotRegex(labels["route"], r"/\d+(/|$)", n)
        self.assertIn('route="/api/v1/provider/orgs/{id}"', text)
        self.assertEqual(self.direct("sandgate_build_info", store="sqlite"), 1)

    def test_counters_move_by_the_right_amount_in_prometheus(self):
        org, admin, _ = self.new_org("Metrics Co")
        self.assertEqual(self.provider().patch(f"/api/v1/provider/orgs/{org}",
                                               {"ratePerSecond": 1000, "dailyAllowance": 1}).status, 200)
        token = self.reveal(admin)
        watched = [
            ("sandgate_token_verifications_total", {"outcome": "accepted"}, 2),  # the 429's too
            ("sandgate_token_verifications_total", {"outcome": "invalid"}, 2),
            ("sandgate_submissions_total", {"endpoint": "submit", "result": "accepted"}, 1),
            ("sandgate_submissions_total", {"endpoint": "submit", "result": "invalid_token"}, 2),
            ("sandgate_submissions_total", {"endpoint": "submit", "result": "quota"}, 1),
            ("sandgate_quota_refusals_total", {"kind": "daily"}, 1),
            ("sandgate_quota_over_attempts_total", {}, 1),
            ("sandgate_token_changes_total", {"action": "regenerate"}, 2),
            ("sandgate_submission_received_bytes_total", {}, len(b"metrics file one")),
            ("sandgate_http_requests_total", {"route": "/zscsb/submit", "method": "POST", "code": "2xx"}, 1),
            ("sandgate_http_requests_total", {"route": "/zscsb/submit", "method": "POST", "code": "4xx"}, 3),
            ("sandgate_http_requests_total", {"route": "/api/v1/sandbox/token", "method": "PUT", "code": "2xx"}, 2),
            ("sandgate_http_request_duration_seconds_count", {"route": "/zscsb/submit", "method": "POST"}, 4),
        ]
        # The starting point, as sandgate shows it and once Prometheus has scraped it.
        before = [self.direct(n, **l) for n, l, _ in watched]
        for (n, l, _), v in zip(watched, before):
            wait_for(f"{n}{l} == {v} in prometheus", lambda: self.scraped(n, **l) == v, timeout=30)

        def submit(tok, body):
            c = self.server.client()
            r = c.request("POST", f"/zscsb/submit?api_token={tok}", raw=body,
                          headers={"Content-Type": "application/octet-stream"})
            c.close()
            return r

        self.assertEqual(submit(token, b"metrics file one").status, 200)
        self.assertEqual(submit("sbx_" + "A" * 49, b"bad").status, 401)
        self.assertEqual(submit(token[:-1] + ("A" if token[-1] != "A" else "B"), b"bad").status, 401)
        r = submit(token, b"metrics file two")
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["code"], 429)
        for _ in range(2):
            self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)

        for (n, l, delta), v in zip(watched, before):
            self.assertEqual(self.direct(n, **l), v + delta, (n, l))
            wait_for(f"{n}{l} == {v + delta} in prometheus", lambda: self.scraped(n, **l) == v + delta, timeout=30)
        # And as an operator would ask: the increase over the window that holds the traffic.
        inc = self.prom.query('sum(increase(sandgate_token_changes_total{job="sandgate",action="regenerate"}[5m]))')
        self.assertGreater(list(inc.values())[0], 0)

    def test_dashboard_expressions_run_against_prometheus(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        exposed = {n for n, _, _ in parse_exposition(self.metrics_text())} | {"up"}
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        exprs += [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
        self.assertGreaterEqual(len(exprs), 20)
        for e in exprs:
            q = (e.replace("$__rate_interval", "1m").replace('"$job"', '"sandgate"')
                  .replace('"$instance"', '".*"').replace("$job", "sandgate"))
            if q.startswith("label_values("):  # a Grafana variable query: its series selector
                q = re.match(r"label_values\((.*), *\w+\)$", q).group(1)
            self.assertNotIn("$", q, e)
            r = self.prom.api("query", query=q)
            self.assertEqual(r.get("status"), "success", (e, r))
            # Every metric the panel reads exists (a misspelt name would chart nothing, silently).
            for name in re.findall(r"\b((?:sandgate|process)_[a-z_]+)\b", q):
                self.assertIn(name, exposed, e)

    def test_alert_rules_load_and_evaluate_in_prometheus(self):
        def groups():
            r = self.prom.api("rules")
            return r["data"]["groups"] if r.get("status") == "success" else None
        g = wait_for("the rule groups", groups, timeout=30)
        names = {rule["name"] for grp in g for rule in grp["rules"]}
        self.assertEqual(names, {"SandgateTargetDown", "SandgateHigh5xxRatio", "SandgateStoreUnavailable",
                                 "SandgateIndexNotTrusted", "SandgateTokenDisabledByThreshold",
                                 "SandgateRuleQueueSaturated", "SandgateSpoolNearlyFull"})
        # Evaluated without error, and nothing fires on a healthy server.
        wait_for("an evaluation of every rule", lambda: all(
            rule["health"] == "ok" and rule.get("lastEvaluation", "0001").startswith("20")
            for grp in self.prom.api("rules")["data"]["groups"] for rule in grp["rules"]), timeout=30)
        firing = [a for a in self.prom.api("alerts")["data"]["alerts"] if a["state"] == "firing"]
        self.assertEqual(firing, [])


class MetricsOptionsTest(unittest.TestCase):
    def test_metrics_off_serves_no_metrics(self):
        s = Server(extra_args=["--metrics", "off"]).start()
        try:
            r = s.client().get("/metrics")
            self.assertEqual(r.status, 404, r)
            self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f]{24}$")
            self.assertEqual(r.request_id, r.headers["x-request-id"])
        finally:
            s.cleanup()

    def test_metrics_listen_with_a_bearer_token(self):
        port = free_port()
        bearer_dir = tempfile.mkdtemp(prefix="sandgate-bearer-")
        bearer_file = os.path.join(bearer_dir, "bearer")
        secret = "metrics-bearer-0123456789abcdef"
        with open(bearer_file, "w") as f:
            f.write(secret + "\n")
        s = Server(extra_args=["--metrics-listen", f"127.0.0.1:{port}", "--metrics-bearer-file", bearer_file])
        s.secrets.add(secret)
        s.start()
        try:
            self.assertEqual(s.client().get("/metrics").status, 404)  # not on the main listener
            wait_for("the metrics listener", lambda: f"metrics on http://127.0.0.1:{port}/metrics" in s.log_text())
            req = lambda h: urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers=h), timeout=10)
            for h in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer " + secret + "x"}):
                with self.assertRaises(urllib.error.HTTPError) as cm:
                    req(h)
                self.assertEqual(cm.exception.code, 401)
                self.assertEqual(cm.exception.headers["WWW-Authenticate"], 'Bearer realm="metrics"')
            with req({"Authorization": "Bearer " + secret}) as r:
                self.assertEqual(r.status, 200)
                self.assertIn("sandgate_build_info", r.read().decode())
            s.assert_no_secrets_in_log(self)
        finally:
            s.cleanup()
            shutil.rmtree(bearer_dir, ignore_errors=True)

    def test_bad_flags_are_refused(self):
        for args in (["--metrics", "maybe"], ["--log-format", "xml"], ["--trusted-proxy", "10.0.0.1/8"],
                     ["--trusted-proxy", "nonsense"]):
            p = subprocess.run([BIN, "serve", "--data", "/nonexistent-sandgate"] + args,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, (args, p.stderr))


class LogsAndRequestIdTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=["--log-format", "json", "--trusted-proxy", "127.0.0.2/32"]).start()

    def log_lines(self):
        time.sleep(1.2)  # request lines reach the file within a second
        return [json.loads(line) for line in self.server.log_text().splitlines() if line]

    def access(self, request_id):
        return [l for l in self.log_lines() if l.get("requestId") == request_id]

    def test_every_line_is_one_json_object(self):
        c = self.server.client()
        c.get("/no/such/path%22%0A%C3%A9?api_token=sbx_secretish")
        lines = self.server.log_text().splitlines()
        self.assertGreater(len(lines), 3)
        for line in self.log_lines():
            self.assertEqual({"time", "level", "logger", "message"} - set(line), set(), line)
            self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertNotIn("api_token", self.server.log_text())
        self.assertNotIn("sbx_secretish", self.server.log_text())

    def test_request_id_from_a_trusted_proxy_flows_to_header_body_and_access_line(self):
        org, admin, _ = self.new_org("Proxy Co")
        token = self.reveal(admin)
        proxy = self.server.client(source="127.0.0.2")
        rid = "proxy-req-0001"
        r = proxy.request("POST", f"/zscsb/submit?api_token={token}x", raw=b"x",
                          headers={"X-Request-Id": rid, "X-Forwarded-For": "198.51.100.1, 203.0.113.7"})
        self.assertEqual(r.status, 401, r)
        self.assertEqual(r.headers["x-request-id"], rid)
        self.assertEqual(r.request_id, rid)
        [line] = self.access(rid)
        self.assertEqual((line["logger"], line["method"], line["route"], line["status"], line["client"]),
                         ("access", "POST", "/zscsb/submit", 401, "203.0.113.7"))
        self.assertNotIn(token, json.dumps(line))
        # An organization user's request: the access line names the organization.
        rid2 = "proxy-req-0002"
        cookie_client = self.server.login("proxyco-admin", source="127.0.0.2")
        r = cookie_client.request("PUT", "/api/v1/sandbox/token", headers={"X-Request-Id": rid2})
        self.assertEqual((r.status, r.headers["x-request-id"]), (200, rid2))
        [line] = self.access(rid2)
        self.assertEqual((line["route"], line["orgId"]), ("/api/v1/sandbox/token", org))
        audit = self.provider().get(f"/api/v1/provider/auditLog?orgId={org}&action=TOKEN_REGENERATE").json["items"]
        self.assertEqual(audit[0]["requestId"], rid2)

    def test_request_id_reaches_sign_in_and_threshold_disable_audit_records(self):
        org, admin, _ = self.new_org("Rid Audit Co")
        self.provider().patch(f"/api/v1/provider/orgs/{org}",
                              {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1,
                               "disableThreshold": 1})
        token = self.reveal(admin)
        proxy = self.server.client(source="127.0.0.2")
        # A failed and a successful sign-in through the proxy.
        r = proxy.request("POST", "/api/v1/authenticatedSession",
                          {"username": "ridauditco-admin", "password": "wrong-password"},
                          headers={"X-Request-Id": "rid-login-bad"})
        self.assertEqual(r.status, 401, r)
        r = proxy.request("POST", "/api/v1/authenticatedSession",
                          {"username": "ridauditco-admin", "password": self.server.logins["ridauditco-admin"]},
                          headers={"X-Request-Id": "rid-login-ok"})
        self.assertEqual(r.status, 200, r)
        self.server.secrets.add(re.search(r"sg_session=([^;]*)", r.headers["set-cookie"]).group(1))
        logins = self.provider().get(f"/api/v1/provider/auditLog?orgId={org}&action=LOGIN").json["items"]
        self.assertIn("rid-login-ok", [a["requestId"] for a in logins if a["outcome"] == "ALLOWED"])
        failed = self.provider().get("/api/v1/provider/auditLog?action=LOGIN").json["items"]
        self.assertIn("rid-login-bad", [a["requestId"] for a in failed if a["outcome"] == "INVALID_CREDENTIALS"])
        # The refusal that crosses the over-quota threshold names its request in the disable record.
        for i, rid in enumerate(["rid-sub-1", "rid-sub-2", "rid-sub-3"]):
            r = proxy.request("POST", f"/zscsb/submit?api_token={token}&force=1", raw=b"rid %d" % i,
                              headers={"X-Request-Id": rid, "Content-Type": "application/octet-stream"})
            self.assertIn(r.status, (200, 429), r)
        disables = self.provider().get(f"/api/v1/provider/auditLog?orgId={org}&action=TOKEN_DISABLE").json["items"]
        self.assertEqual(len(disables), 1, disables)
        self.assertEqual(disables[0]["actor"], "system")
        self.assertIn(disables[0]["requestId"], ("rid-sub-2", "rid-sub-3"))

    def test_an_untrusted_client_cannot_choose_its_id_or_address(self):
        c = self.server.client()  # 127.0.0.1: not a trusted proxy
        r = c.get("/api/v1/sandbox/token", headers={"X-Request-Id": "forged-id", "X-Forwarded-For": "203.0.113.9"})
        self.assertEqual(r.status, 401)
        rid = r.headers["x-request-id"]
        self.assertNotEqual(rid, "forged-id")
        self.assertRegex(rid, r"^[0-9a-f]{24}$")
        self.assertEqual(r.request_id, rid)
        [line] = self.access(rid)
        self.assertEqual(line["client"], "127.0.0.1")
        # A malformed id from a trusted proxy is replaced too.
        r = self.server.client(source="127.0.0.2").get("/healthz", headers={"X-Request-Id": "bad id\"{}"})
        self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f]{24}$")

    def test_readyz_reports_each_check(self):
        r = self.server.client().get("/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "ready")
        self.assertEqual({k: v["state"] for k, v in r.json["checks"].items()},
                         {"storeReads": "ok", "storeWrites": "ok", "indexTrusted": "ok", "engineLoaded": "ok"})

    def test_zz_no_secret_in_log(self):
        self.server.assert_no_secrets_in_log(self)


class LogToStdoutTest(unittest.TestCase):
    def test_log_file_dash_logs_json_to_standard_output(self):
        data = tempfile.mkdtemp(prefix="sandgate-test-")
        out_path = data + ".stdout"
        with open(out_path, "w") as out:
            p = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data, "--log-file", "-",
                                  "--log-format", "json"], stdout=out, stderr=subprocess.PIPE, text=True)
        try:
            def port():
                if p.poll() is not None:
                    raise AssertionError("server exited")
                with open(out_path) as f:
                    m = re.search(r"listening on http://127\.0\.0\.1:(\d+) ", f.read())
                return m and int(m.group(1))
            port = wait_for("the server to listen", port, timeout=30)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                rid = r.headers["X-Request-Id"]
            def access_line():
                with open(out_path) as f:
                    text = f.read()
                for line in text.splitlines():
                    if line.startswith("{") and json.loads(line).get("requestId") == rid:
                        return json.loads(line)
            line = wait_for("the request line on stdout", access_line, timeout=10)
            self.assertEqual((line["route"], line["status"]), ("/healthz", 200))
            self.assertFalse(os.path.exists(os.path.join(data, "sandgate.log")))
        finally:
            p.terminate()
            p.wait(30)
            self.assertEqual(p.stderr.read(), "")  # nothing on stderr: stdout only
            p.stderr.close()
            shutil.rmtree(data, ignore_errors=True)
            os.remove(out_path)


if __name__ == "__main__":
    unittest.main()
