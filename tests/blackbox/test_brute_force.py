"""Brute force (issue #6): the login throttle (per username, letter case folded, and per address)
and the Submission API's invalid-token throttle (per address) cannot be sidestepped by letter
case, extra or duplicate parameters and fields, or by spreading attempts over several keep-alive
connections, one after another or all at once. Each test uses its own source address (127.0.0.x)
so the per-address counters do not mix.

The strongest check: once throttled, even the *right* password or token is refused (429) in every
disguise; a 200 would mean the guess got through."""
import contextlib
import http.client
import json
import threading

from harness import Server, ServerTestCase


def parallel(n, fn):
    """Runs fn(i) on n threads released together; returns the results in order."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


class LoginBruteForceTest(ServerTestCase):
    def user(self, org_name):
        org, admin, viewer = self.new_org(org_name)
        r = admin.get("/api/v1/authenticatedSession")
        name = r.json["user"]["username"]
        return name, self.server.logins[name]

    @contextlib.contextmanager
    def just_after_the_failures(self):
        """After its 5th failure a pair waits 1 s, and argon2 checks on a loaded machine can take
        longer than that: the checks inside look from just after the failures (the test clock
        moved back a little, never past the failures' 15-minute window)."""
        self.server.advance(-30)
        try:
            yield
        finally:
            self.server.advance(30)

    def attempt(self, source, username, password, path="/api/v1/authenticatedSession", raw=None, client=None):
        c = client or self.server.client(source)
        body = raw if raw is not None else json.dumps({"username": username, "password": password}).encode()
        r = c.request("POST", path, raw=body, headers={"Content-Type": "application/json"})
        if client is None:
            c.close()
        return r

    def test_letter_case_does_not_reset_the_username_counter(self):
        name, pw = self.user("Case Co")
        for _ in range(5):
            self.assertEqual(self.attempt("127.0.0.21", name, "wrong").status, 401)
        with self.just_after_the_failures():
            for variant in (name.upper(), name.title(), name.swapcase(), name):
                r = self.attempt("127.0.0.21", variant, pw)
                self.assertEqual(r.status, 429, (variant, r))
                self.assertIn("retry-after", r.headers)
        # The throttle is per (username, address) pair (issue #14, finding 5): another address
        # with no failures is not locked out, in any letter case.
        self.assertEqual(self.attempt("127.0.0.22", name.upper(), pw).status, 200)
        # The variants do name the same account (so folding them together is what matters).
        self.server.advance(3)
        self.assertEqual(self.attempt("127.0.0.21", name.upper(), pw).status, 200)

    def test_extra_fields_parameters_and_disguises_do_not_bypass(self):
        name, pw = self.user("Extra Co")
        for _ in range(5):
            self.assertEqual(self.attempt("127.0.0.23", name, "wrong").status, 401)
        disguises = [
            ("/api/v1/authenticatedSession?username=someone-else&x=1", None),
            ("/api/v1/authenticatedSession?", None),
            ("/api/v1/authenticatedSession/", None),
            ("/api/v1/authenticatedSession", json.dumps({"password": pw, "username": name.upper()}).encode()),
            ("/api/v1/authenticatedSession", ('{"username":"someone-else","username":%s,"password":%s}'
                                              % (json.dumps(name), json.dumps(pw))).encode()),
            ("/api/v1/authenticatedSession", ('{"username":%s,"password":"x","password":%s}'
                                              % (json.dumps(name), json.dumps(pw))).encode()),
            ("/api/v1/authenticatedSession", json.dumps({"username": name, "password": pw, "remember": True}).encode()),
            ("/api/v1/authenticatedSession", json.dumps({"username": name, "password": pw, "Username": "x"}).encode()),
        ]
        with self.just_after_the_failures():
            for path, raw in disguises:
                r = self.attempt("127.0.0.23", name, pw, path=path, raw=raw)
                self.assertNotEqual(r.status, 200, (path, raw, r))
                self.assertIn(r.status, (400, 404, 429), (path, raw, r))
            # Another connection from the same address: the pair still waits.
            self.assertEqual(self.attempt("127.0.0.23", name, pw).status, 429)

    def test_attempts_spread_over_keepalive_connections(self):
        name, pw = self.user("Spread Co")
        clients = [self.server.client("127.0.0.25") for _ in range(4)]
        statuses = [self.attempt(None, name, "wrong-%d" % i, client=clients[i % 4]).status for i in range(5)]
        with self.just_after_the_failures():
            statuses += [self.attempt(None, name, "wrong-%d" % i, client=clients[i % 4]).status
                         for i in range(5, 12)]
            self.assertEqual(statuses, [401] * 5 + [429] * 7)
            for c in clients:
                self.assertEqual(self.attempt(None, name, pw, client=c).status, 429)
                c.close()

    def test_attempts_on_many_connections_at_once(self):
        name, pw = self.user("Burst Co")
        clients = [self.server.client("127.0.0.26") for _ in range(16)]
        statuses = parallel(16, lambda i: self.attempt(None, name, "wrong-%d" % i, client=clients[i]).status)
        self.assertEqual(sorted(statuses), [401] * 5 + [429] * 11, statuses)
        # Right after the burst the pair waits (1 s after its 5th failure).
        with self.just_after_the_failures():
            self.assertEqual(self.attempt("127.0.0.26", name, pw).status, 429)
        # The per-address limit (20 failures) holds the same way across usernames.
        names = ["nobody-%d" % i for i in range(30)]
        statuses = parallel(30, lambda i: self.attempt("127.0.0.27", names[i], "wrong").status)
        self.assertEqual(sorted(statuses), [401] * 20 + [429] * 10, statuses)
        for c in clients:
            c.close()


class TokenBruteForceTest(ServerTestCase):
    def org_token(self, name):
        org, admin, viewer = self.new_org(name)
        r = self.provider().patch(f"/api/v1/provider/orgs/{org}",
                                  {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000})
        self.assertEqual(r.status, 200, r)
        return self.reveal(admin)

    def submit(self, source, query, client=None):
        c = client or self.server.client(source)
        r = c.request("POST", "/zscsb/submit?" + query, raw=b"brute force test file\n",
                      headers={"Content-Type": "application/octet-stream"})
        if client is None:
            c.close()
        return r

    def assertThrottled(self, r):
        self.assertEqual(r.status, 429, r)
        self.assertIn("invalid API token", r.json["message"])
        self.assertIn("retry-after", r.headers)

    def test_case_and_parameter_disguises_count_and_do_not_bypass(self):
        token = self.org_token("Token Case Co")
        self.assertEqual(self.submit("127.0.0.31", "api_token=" + token).status, 200)
        wrong = [token.lower(), token.upper(), token.swapcase(), token[:-1], token + "x", "sbx_nope", ""]
        clients = [self.server.client("127.0.0.31") for _ in range(3)]
        attempts = ["api_token=" + w for w in wrong] + [
            "API_TOKEN=" + token,                            # names are case-sensitive: no token given
            "Api_Token=" + token,
            "api_token=%s&api_token=%s" % (token, token),    # twice: refused, and counted
            "api_token=sbx_nope&api_token=" + token,
            "api%5Ftoken=sbx_nope&api_token=" + token,
            "force=1",
        ]
        statuses = []
        for i in range(20):
            q = attempts[i % len(attempts)]
            statuses.append(self.submit(None, q, client=clients[i % 3]).status)
        self.assertTrue(all(s in (400, 401) for s in statuses), statuses)
        # Twenty failures from this address: now even the right token waits, in every spelling.
        for q in ("api_token=" + token, "api_token=%s&api_token=%s" % (token, token), "API_TOKEN=" + token,
                  "api_token=%s&force=1" % token, "api_token=%s&x=1" % token):
            for c in clients + [None]:
                self.assertThrottled(self.submit("127.0.0.31", q, client=c))
        # Another address is not affected.
        self.assertEqual(self.submit("127.0.0.32", "api_token=" + token).status, 200)
        for c in clients:
            c.close()

    def test_duplicate_token_parameters_are_refused(self):
        token = self.org_token("Token Dup Co")
        for q in ("api_token=%s&api_token=%s" % (token, token), "api_token=sbx_nope&api_token=" + token,
                  "api_token=%s&api_token=sbx_nope" % token, "api%5Ftoken=sbx_nope&api_token=" + token):
            r = self.submit("127.0.0.33", q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.json["code"], 400)
        # An unrelated parameter named like the token in another case is just ignored.
        self.assertEqual(self.submit("127.0.0.33", "API_TOKEN=sbx_nope&api_token=" + token).status, 200)

    def test_invalid_tokens_on_many_connections_at_once(self):
        token = self.org_token("Token Burst Co")
        statuses = parallel(40, lambda i: self.submit("127.0.0.34", "api_token=sbx_guess%d" % i).status)
        self.assertEqual(sorted(statuses), [401] * 20 + [429] * 20, statuses)
        self.assertThrottled(self.submit("127.0.0.34", "api_token=" + token))


class TokenLimitSettingTest(ServerTestCase):
    """--invalid-token-limit sets how many invalid tokens an address may present per minute."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=["--invalid-token-limit", "3"]).start()

    def test_the_fourth_invalid_token_is_throttled(self):
        statuses = []
        for i in range(5):
            c = self.server.client("127.0.0.41")
            r = c.request("POST", "/zscsb/submit?api_token=sbx_guess%d" % i, raw=b"x\n",
                          headers={"Content-Type": "application/octet-stream"})
            c.close()
            statuses.append(r.status)
        self.assertEqual(statuses, [401, 401, 401, 429, 429])

    def test_an_out_of_range_limit_is_refused(self):
        code, _, err = self.server.cli("serve", "--invalid-token-limit", "0")
        self.assertNotEqual(code, 0)
        self.assertIn("invalid-token-limit", err)
