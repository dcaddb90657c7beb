"""Abuse and faults, round 2 (issue #14, findings 1-10): what an attacker's afternoon found against
one server with default settings. Each test failed against the build before its fix (see
docs/SECURITY.md, "Findings of the attack session"). Raw sockets where the HTTP framing itself is
the attack; every wait is bounded."""
import concurrent.futures
import gzip
import json
import os
import re
import socket
import stat
import time
import unittest

from harness import ServerTestCase


def raw_exchange(port, data, timeout=5.0, source=None):
    """Sends raw bytes, returns what the server answers until it closes, stops sending for
    `timeout` seconds, or 64 KiB arrived."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    try:
        s.sendall(data)
        out = b""
        while len(out) < 65536:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


class AbuseRound2Test(ServerTestCase):
    def org(self, name, **settings):
        org, admin, viewer = self.new_org(name)
        if settings:
            r = self.provider().patch(f"/api/v1/provider/orgs/{org}", settings)
            self.assertEqual(r.status, 200, r)
        return org, admin, viewer, self.reveal(admin)

    def submit(self, token, body, headers=None, client=None):
        c = client or self.server.client()
        h = {"Content-Type": "application/octet-stream"}
        h.update(headers or {})
        r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=body, headers=h)
        if client is None:
            c.close()
        return r

    def used_today(self, admin):
        return admin.get("/api/v1/sandbox/report/quota").json[0]["used"]

    # --- Finding 1: a burst must not disable the token.
    def test_1_a_burst_is_rate_limited_and_never_disables_the_token(self):
        # Default limits: 1/s, 400/h, 100 a day, threshold 100 over-quota attempts.
        self.server.clear_of_midnight()
        org, admin, viewer, token = self.org("Burst Co")
        statuses = []

        def worker(i):
            c = self.server.client()
            got = []
            for j in range(40):
                got.append(self.submit(token, b"burst %d %d" % (i, j), client=c).status)
            c.close()
            return got

        # Bursts of 8 x 40 requests until at least 101 were refused by the rate (bounded: 5 rounds).
        for _ in range(5):
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                for got in ex.map(worker, range(8)):
                    statuses += got
            if statuses.count(429) > 100:
                break
        self.assertGreater(statuses.count(429), 100, statuses)
        self.assertEqual(set(statuses) - {200, 429}, set(), statuses)
        accepted = statuses.count(200)
        page = admin.get("/api/v1/sandbox/token").json
        self.assertEqual(page["status"], "ENABLED", page)
        self.assertIn("REGENERATE", page["allowedActions"])
        self.assertEqual(self.used_today(admin), accepted)
        # The provider sees the refusals in their own figure, apart from the quota.
        detail = self.provider().get(f"/api/v1/provider/orgs/{org}").json
        self.assertEqual(detail["rateLimitedToday"], statuses.count(429), detail)
        self.assertEqual(detail["status"], "ENABLED", detail)
        audit = self.provider().get(f"/api/v1/provider/auditLog?orgId={org}&action=TOKEN_DISABLE").json
        self.assertEqual(audit["items"], [])
        self.server.advance(2)
        self.assertEqual(self.submit(token, b"after the burst").status, 200)

    # --- Findings 4 and 5: the login throttle.
    def login_user(self, org_name):
        org, admin, viewer = self.new_org(org_name)
        name = admin.get("/api/v1/authenticatedSession").json["user"]["username"]
        return name, self.server.logins[name]

    def login_attempt(self, source, username, password, client=None):
        c = client or self.server.client(source)
        r = c.request("POST", "/api/v1/authenticatedSession",
                      raw=json.dumps({"username": username, "password": password}).encode(),
                      headers={"Content-Type": "application/json"})
        if client is None:
            c.close()
        return r

    def login_audit(self, actor):
        items = self.provider().get(f"/api/v1/provider/auditLog?action=LOGIN&actor={actor}&limit=1000").json["items"]
        return [a for a in items if a["actor"] in (actor, "*")]

    def test_4_throttle_refusals_are_summarised_in_the_audit_trail(self):
        name, pw = self.login_user("Flood Co")
        c = self.server.client("127.0.0.51")
        statuses = [self.login_attempt(None, name, "wrong-%d" % i, client=c).status for i in range(1000)]
        c.close()
        self.assertEqual(set(statuses), {401, 429})
        refused = statuses.count(429)
        self.assertGreater(refused, 900)
        # The minute is over; the next sign-in attempt (from anywhere) writes the summary.
        self.server.advance(61)
        self.login_attempt("127.0.0.52", "someone-else", "x")
        records = self.login_audit(name)
        too_many = [a for a in records if a["outcome"] == "TOO_MANY_ATTEMPTS"]
        failures = [a for a in records if a["outcome"] == "INVALID_CREDENTIALS"]
        # Real failures stay audited, one by one; refusals are a few records with their counts.
        self.assertEqual(len(failures), statuses.count(401))
        self.assertLessEqual(len(too_many), 4, too_many[:3])
        counted = sum(int(re.search(r"refused: (\d+)", a["detail"]).group(1)) for a in too_many)
        self.assertEqual(counted, refused, too_many)
        self.assertTrue(all(a["clientAddress"] == "127.0.0.51" for a in too_many), too_many)

    def test_5_a_known_user_cannot_be_locked_out_from_elsewhere(self):
        name, pw = self.login_user("Lockout Co")
        attacker, user = "127.0.0.61", "127.0.0.62"
        for _ in range(5):
            self.assertEqual(self.login_attempt(attacker, name, "guess").status, 401)
        # One failure per wait period, several times: the wait grows for the attacker...
        for _ in range(4):
            r = self.login_attempt(attacker, name, "guess")
            if r.status == 429:
                self.server.advance(int(r.headers["retry-after"]))
                r = self.login_attempt(attacker, name, "guess")
            self.assertEqual(r.status, 401, r)
        # Checks that a pair or an address still waits look from just after its last failure (the
        # test clock moved back a little): an argon2 check on a loaded machine can take seconds.
        self.server.advance(-30)
        try:
            r = self.login_attempt(attacker, name, pw)
            self.assertError(r, 429, "TOO_MANY_ATTEMPTS")  # guessing stays throttled, right or wrong
            self.assertGreaterEqual(int(r.headers["retry-after"]), 16)
        finally:
            self.server.advance(30)
        # ...while the user, from an address with no recent failures, signs in.
        self.assertEqual(self.login_attempt(user, name, pw).status, 200)
        self.assertEqual(self.login_attempt(user, name.upper(), pw).status, 200)
        # Per address: guessing many usernames from one address is throttled as a whole.
        statuses = [self.login_attempt("127.0.0.63", "nobody-%d" % i, "x").status for i in range(20)]
        self.server.advance(-30)
        try:
            statuses += [self.login_attempt("127.0.0.63", "nobody-%d" % i, "x").status for i in range(20, 22)]
            self.assertEqual(statuses, [401] * 20 + [429] * 2)
            self.assertEqual(self.login_attempt("127.0.0.63", name, pw).status, 429)
        finally:
            self.server.advance(30)

    # --- Finding 3: forged log lines.
    def test_3_client_text_cannot_forge_log_lines(self):
        marker = "forged-%d" % os.getpid()
        c = self.server.client()
        for target in (f"/x%0d%0a2026-12-02T21:00:00.000Z%20info%20{marker}",
                       f"/x%0a2026-12-02T21:00:00.000Z%20warn%20{marker}",
                       f"/api/v1/%1b[31m{marker}%1b[0m"):
            r = c.get(target)
            self.assertEqual(r.status, 400, (target, r))
        c.close()
        # A path that is accepted (404) but carries non-ASCII text is escaped too.
        self.assertEqual(self.server.client().get(f"/%E2%80%AE{marker}").status, 404)
        time.sleep(1.2)  # request lines reach the file within a second
        log = self.server.log_text()
        self.assertIn(marker, log)  # the refused targets are logged, escaped
        for line in log.splitlines():
            self.assertFalse(line.startswith("2026-12-02T21:00:00.000Z"), line)
            if marker in line:
                self.assertRegex(line, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line)
        self.assertNotIn("\x1b", log)
        self.assertNotIn("\u202e", log)
        self.assertIn("\\x0d\\x0a2026-12-02T21:00:00.000Z", log)

    # --- Finding 6: truncated gzip, trailing data.
    def test_6_truncated_gzip_or_trailing_data_is_400_and_charges_nothing(self):
        org, admin, viewer, token = self.org("Gzip Co", ratePerSecond=1000, ratePerHour=100000)
        payload = os.urandom(50_000)
        packed = gzip.compress(payload)
        ge = {"Content-Encoding": "gzip"}
        r = self.submit(token, packed[:1000], headers=ge)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["code"], 400)
        r = self.submit(token, packed + b"trailing bytes", headers=ge)
        self.assertEqual(r.status, 400, r)
        r = self.submit(token, packed + gzip.compress(b"second member"), headers=ge)
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.used_today(admin), 0)
        r = self.submit(token, packed, headers=ge)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.used_today(admin), 1)

    # --- Finding 7: Expect: 100-continue with a refused request.
    def test_7_refused_upload_gets_its_status_without_100_continue(self):
        org, admin, viewer, token = self.org("Expect Co")
        for tok, want in (("sbx_" + "A" * 49, b"HTTP/1.1 401"), (token, None)):
            head = (f"POST /zscsb/submit?api_token={tok} HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n"
                    "Expect: 100-continue\r\n\r\n").encode()
            if want is None:
                # A valid token: the server asks for the body.
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
                s.sendall(head)
                first = s.recv(4096)
                self.assertTrue(first.startswith(b"HTTP/1.1 100 Continue"), first)
                s.sendall(b"x" * 1000)
                rest = b""
                while b'"code"' not in rest:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    rest += chunk
                s.close()
                self.assertIn(b"HTTP/1.1 200", first + rest)
                continue
            got = raw_exchange(self.server.port, head, timeout=5)
            self.assertTrue(got.startswith(want), got)
            self.assertNotIn(b"100 Continue", got)
        # Over quota: refused (429) without 100 either.
        self.server.clear_of_midnight()  # the allowance of 1 must still be spent after 2 s
        org2, admin2, viewer2, token2 = self.org("Expect Quota Co", dailyAllowance=1)
        self.assertEqual(self.submit(token2, b"the one").status, 200)
        self.server.advance(2)
        head = (f"POST /zscsb/submit?api_token={token2} HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n").encode()
        got = raw_exchange(self.server.port, head, timeout=5)
        self.assertTrue(got.startswith(b"HTTP/1.1 429"), got)

    def test_7_api_route_without_session_gets_401_without_100_continue(self):
        """The JSON API too: a request that waits for `100 Continue` without a session (none, a
        stale one) gets its 401 at once, without 100 and without its body being read, and nothing
        is created; with a session, and for the sign-in itself, the server asks for the body."""
        def head(path, body, extra=""):
            return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n{extra}Expect: 100-continue\r\n\r\n").encode()

        body = json.dumps({"name": "Expect Api Co"}).encode()
        for cookie in ("", "Cookie: sg_session=not-a-session\r\n"):
            got = raw_exchange(self.server.port, head("/api/v1/provider/orgs", body, cookie), timeout=5)
            self.assertTrue(got.startswith(b"HTTP/1.1 401"), got)
            self.assertNotIn(b"100 Continue", got)
        p = self.provider()
        self.assertEqual(p.get("/api/v1/provider/orgs?search=Expect%20Api").json["total"], 0)

        def asks_for_body(data, body):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
            try:
                s.sendall(data)
                first = s.recv(4096)
                self.assertTrue(first.startswith(b"HTTP/1.1 100 Continue"), first)
                s.sendall(body)
                rest = b""
                while b"\r\n\r\n" not in rest:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    rest += chunk
                return rest
            finally:
                s.close()

        signed_in = f"Cookie: sg_session={p.cookie}\r\nX-CSRF-Token: {p.csrf}\r\n"
        rest = asks_for_body(head("/api/v1/provider/orgs", body, signed_in), body)
        self.assertTrue(rest.startswith(b"HTTP/1.1 201"), rest)
        login = json.dumps({"username": "nobody-here", "password": "wrong"}).encode()
        rest = asks_for_body(head("/api/v1/authenticatedSession", login), login)
        self.assertTrue(rest.startswith(b"HTTP/1.1 401"), rest)

    # --- Finding 8: broken chunked bodies and bare-LF headers.
    def test_8_broken_chunked_bodies_get_400(self):
        org, admin, viewer, token = self.org("Chunk Co", ratePerSecond=1000, ratePerHour=100000)
        broken = [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcXY\r\n0\r\n\r\n", b"3;\x01\r\nabc\r\n0\r\n\r\n"]
        for body in broken:
            for path in (f"/zscsb/submit?api_token={token}", "/api/v1/authenticatedSession"):
                got = raw_exchange(self.server.port,
                                   (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    "Transfer-Encoding: chunked\r\n\r\n").encode() + body)
                self.assertTrue(got.startswith(b"HTTP/1.1 400"), (path, body, got))
        self.assertEqual(self.used_today(admin), 0)

    def test_8_bare_lf_header_block_gets_400_at_once(self):
        for head in (b"GET /healthz HTTP/1.1\nHost: x\n\n", b"GET /healthz HTTP/1.1\r\nHost: x\n\n"):
            # Within 5 s, half the 10 s header timeout: answered, not timed out.
            got = raw_exchange(self.server.port, head, timeout=5)
            self.assertTrue(got.startswith(b"HTTP/1.1 400"), (head, got))

    # --- Finding 9: log file mode, duplicate JSON keys, bidi names, duplicate session cookies.
    def test_9_log_file_is_private(self):
        mode = stat.S_IMODE(os.stat(os.path.join(self.server.data, "sandgate.log")).st_mode)
        self.assertEqual(mode & 0o037, 0, oct(mode))  # 0600 (0640 would be allowed)

    def test_9_duplicate_json_keys_are_refused(self):
        p = self.provider()
        raw = b'{"name":"Dup One","name":"Dup Two"}'
        r = p.request("POST", "/api/v1/provider/orgs", raw=raw, headers={"Content-Type": "application/json"})
        self.assertError(r, 400, "DUPLICATE_FIELD")
        names = [o["name"] for o in p.get("/api/v1/provider/orgs?pageSize=500").json["items"]]
        self.assertNotIn("Dup One", names)
        self.assertNotIn("Dup Two", names)
        raw = b'{"username":"someone","username":"provider","password":"x"}'
        r = self.server.client().request("POST", "/api/v1/authenticatedSession", raw=raw,
                                         headers={"Content-Type": "application/json"})
        self.assertError(r, 400, "DUPLICATE_FIELD")

    def test_9_bidi_and_control_characters_are_refused_in_names(self):
        p = self.provider()
        for name in ("Acme\u202egnp.exe", "Acme\u2066x\u2069", "Zero\u200bWidth", "C1\u0085ctl"):
            self.assertError(p.post("/api/v1/provider/orgs", {"name": name}), 400, "INVALID_NAME")
        org, admin, viewer = self.new_org("Bidi Co")
        self.assertError(p.patch(f"/api/v1/provider/orgs/{org}", {"name": "Bidi\u202eoC"}), 400, "INVALID_NAME")
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/users",
                                {"username": "ev\u202eil", "role": "ORG_ADMIN"}), 400, "INVALID_USERNAME")
        self.assertEqual(p.post("/api/v1/provider/orgs", {"name": "Zürich Café"}).status, 201)

    def test_9_audit_actor_names_are_reserved_usernames(self):
        """`system` (the threshold's disable), `cli`, `secret-scanning` and, for organization users,
        `provider` name actors in the audit trail: no user can take them, in any letter case (400
        INVALID_USERNAME, "reserved"), and nothing is created."""
        p = self.provider()
        org, admin, viewer = self.new_org("Reserved Co")
        before = p.get(f"/api/v1/provider/orgs/{org}/users").json
        for name in ("system", "System", "SYSTEM", "cli", "provider", "Provider", "secret-scanning",
                     "Secret-Scanning"):
            for role in ("ORG_ADMIN", "ORG_READONLY"):
                r = p.post(f"/api/v1/provider/orgs/{org}/users", {"username": name, "role": role})
                self.assertError(r, 400, "INVALID_USERNAME")
                self.assertIn("reserved", r.json["message"])
        self.assertEqual(p.get(f"/api/v1/provider/orgs/{org}/users").json, before)
        # Names that merely contain them are ordinary.
        for name in ("systems", "provider2", "cli-user"):
            r = p.post(f"/api/v1/provider/orgs/{org}/users", {"username": name, "role": "ORG_READONLY"})
            self.assertEqual(r.status, 201, r)

    def test_9_two_session_cookies_are_refused_whatever_their_order(self):
        org, admin, viewer = self.new_org("Cookie Co")
        # Two session cookies: refused whichever comes first and whichever is valid.
        c = self.server.client()
        for cookie in (f"sg_session=bogus; sg_session={admin.cookie}",
                       f"sg_session={admin.cookie}; sg_session=bogus",
                       f"sg_session={admin.cookie}; sg_session={admin.cookie}"):
            r = c.request("GET", "/api/v1/sandbox/token", headers={"Cookie": cookie})
            self.assertError(r, 400, "AMBIGUOUS_SESSION")
            self.assertIn("sg_session=;", r.headers.get("set-cookie", ""))
        r = c.request("GET", "/api/v1/sandbox/token", headers={"Cookie": f"sg_session={admin.cookie}"})
        self.assertEqual(r.status, 200, r)

    # --- Finding 10: what the organization sees of a provider disable; read-only users.
    def test_10_org_audit_log_matches_the_token_page_and_viewers_cannot_read_it(self):
        org, admin, viewer, token = self.org("Audit View Co")
        code, out, err = self.server.cli("user", "create", "ops-alice", "--role", "PROVIDER_ADMIN")
        self.assertEqual(code, 0, err)
        pw = re.search(r"password \(shown once\): (\S+)", out).group(1)
        p = self.server.login("ops-alice", pw, source="127.0.0.9")
        r = p.post(f"/api/v1/provider/orgs/{org}/token/disable",
                   {"reason": "TERMS_VIOLATION", "note": "ticket 4711 internal"})
        self.assertEqual(r.status, 200, r)
        page = admin.get("/api/v1/sandbox/token").json
        self.assertNotIn("disabledBy", page)
        self.assertNotIn("disableNote", page)
        items = admin.get("/api/v1/auditLog?action=TOKEN_DISABLE").json["items"]
        self.assertEqual(len(items), 1, items)
        self.assertEqual((items[0]["actor"], items[0]["actorRole"], items[0]["clientAddress"]),
                         ("provider", "PROVIDER", ""), items[0])
        text = json.dumps(admin.get("/api/v1/auditLog?limit=1000").json)
        self.assertNotIn("ticket 4711", text)
        self.assertNotIn("ops-alice", text)
        self.assertNotIn("127.0.0.9", text)
        self.assertNotIn("PROVIDER_ADMIN", text)
        # The provider still sees who did it and from where.
        prov = p.get(f"/api/v1/provider/auditLog?orgId={org}&action=TOKEN_DISABLE").json["items"]
        self.assertEqual((prov[0]["actor"], prov[0]["clientAddress"]), ("ops-alice", "127.0.0.9"))
        self.assertEqual(prov[0]["actorRole"], "PROVIDER_ADMIN")
        # Read-only users: no audit log (README's rules table), and the refusal is audited.
        self.assertError(viewer.get("/api/v1/auditLog"), 403, "FORBIDDEN")
        self.assertNotIn("READ_AUDIT", viewer.get("/api/v1/sandbox/token").json["allowedActions"])
        refused = admin.get("/api/v1/auditLog?action=AUDIT_READ").json["items"]
        self.assertEqual([(a["actor"], a["outcome"]) for a in refused][:1],
                         [("auditviewco-viewer", "FORBIDDEN")])

    def test_zz_no_secret_in_log(self):
        self.server.assert_no_secrets_in_log(self)


def zero_bombs():
    """A gzip and a zip of 400 MiB of zeros (about 400 KB each), built in memory."""
    import io
    import zipfile
    zeros = b"\0" * (1 << 20)
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", compresslevel=9) as f:
        for _ in range(400):
            f.write(zeros)
    zp = io.BytesIO()
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("zeros.bin", "w") as f:
            for _ in range(400):
                f.write(zeros)
    return gz.getvalue(), zp.getvalue()


class DecompressionBombTest(ServerTestCase):
    """Finding 2: content that expands in the scanner. Its own server, so that its memory baseline
    is its own."""

    def rss_kib(self):
        with open(f"/proc/{self.server.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1))

    def spool_bytes(self):
        total = 0
        for root, dirs, files in os.walk(os.path.join(self.server.data, "spool")):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_blocks * 512
                except FileNotFoundError:
                    pass
        return total

    def test_2_ten_bombs_at_once_get_a_limits_verdict_in_bounded_memory_and_spool(self):
        org, admin, viewer = self.new_org("Bomb Co")
        self.provider().patch(f"/api/v1/provider/orgs/{org}",
                              {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000})
        token = self.reveal(admin)
        gz, zp = zero_bombs()
        self.assertLess(max(len(gz), len(zp)), 1 << 20)

        def submit(i, body):
            c = self.server.client()
            r = c.request("POST", f"/zscsb/submit?api_token={token}&force=1", raw=body,
                          headers={"Content-Type": "application/octet-stream"})
            c.close()
            return r

        # Warm up (engine, pools, page cache), then take the idle figure.
        for i in range(3):
            self.assertEqual(submit(i, b"warm-up %d" % i).status, 200)
        idle = self.rss_kib()
        peak_rss, peak_spool = idle, 0
        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            futures = [ex.submit(submit, i, gz if i % 2 == 0 else zp) for i in range(10)]
            deadline = time.time() + 300
            while not all(f.done() for f in futures) and time.time() < deadline:
                peak_rss = max(peak_rss, self.rss_kib())
                peak_spool = max(peak_spool, self.spool_bytes())
                time.sleep(0.02)
            results = [f.result(timeout=60) for f in futures]
        import sys
        print(f"\n10 bombs: RSS idle {idle} KiB, peak {peak_rss} KiB (+{(peak_rss - idle) // 1024} MiB); "
              f"spool peak {peak_spool >> 20} MiB", file=sys.stderr)
        for r in results:
            self.assertEqual(r.status, 200, r)
            self.assertTrue(r.json["virusName"].startswith("Heuristics.Limits.Exceeded"), r)
            self.assertEqual(r.json["sandboxSubmission"], "Suspicious", r)
        self.assertLessEqual(peak_rss - idle, 128 * 1024, (idle, peak_rss))
        # The spool's budget: the uploads themselves plus, per AV scan running at once (4), what
        # one scan may unpack (64 MiB).
        budget = 10 * max(len(gz), len(zp)) + 4 * (64 << 20)
        self.assertLessEqual(peak_spool, budget, (peak_spool, budget))
        # The report says why.
        md5 = results[0].json["md5"]
        rep = admin.get(f"/api/v1/sandbox/report/{md5}?details=summary").json
        self.assertEqual(rep["Summary"]["Classification"]["Type"], "SUSPICIOUS", rep)

    def test_2_too_many_files_in_one_archive_is_a_limits_verdict(self):
        import io
        import zipfile
        org, admin, viewer = self.new_org("Many Files Co")
        token = self.reveal(admin)
        zp = io.BytesIO()
        with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
            for i in range(1500):
                z.writestr("f%04d.txt" % i, "file %d\n" % i)
        c = self.server.client()
        r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=zp.getvalue(),
                      headers={"Content-Type": "application/octet-stream"})
        c.close()
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json["virusName"].startswith("Heuristics.Limits.Exceeded"), r)

    def test_zz_no_secret_in_log(self):
        self.server.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
