"""Per-node read caches on PostgreSQL stay exact (issue 19, target 6): three `sandgate serve` nodes
on one throwaway PostgreSQL (started as in test_cluster.py). Each node answers the token page, the
session lookup, the organization's limits and today's usage from caches that the change log
empties; there is no time-to-live. So a change that returned on node 1 must show in the very next
page or submission on nodes 2 and 3, every round (ROUNDS rounds, no miss):

- the token page (a regenerate, a disable) through the same session on every node;
- the organization's limits (daily allowance 0 / plenty): the next submission's 429 or admission;
- today's usage and the last use after a submission on node 1, on the page of nodes 2 and 3;
- a sign-out on node 1: the session refused by nodes 2 and 3.

The rounds touch the same keys on nodes 2 and 3 just before each change, so that every one of them
holds a cached entry that the change must evict.
"""
import json
import unittest

import test_cluster as tc
from harness import Client, advance_clocks, clear_of_midnight

ROUNDS = tc.ROUNDS
SIGN_OUT_ROUNDS = 40 if tc.SANITIZED else 100  # each round signs in (argon2id)


class ClusterCacheTest(unittest.TestCase):
    # The cluster of test_cluster.py: PostgreSQL, three nodes (and nginx, unused here).
    setUpClass = classmethod(tc.ClusterTest.setUpClass.__func__)
    set_up_cluster = classmethod(tc.ClusterTest.set_up_cluster.__func__)
    start_nginx = classmethod(tc.ClusterTest.start_nginx.__func__)
    tearDownClass = classmethod(tc.ClusterTest.tearDownClass.__func__)
    client = tc.ClusterTest.client
    login = tc.ClusterTest.login
    new_org = tc.ClusterTest.new_org
    reveal = tc.ClusterTest.reveal

    def on(self, c, node):
        """The same session as `c`, on another node."""
        other = Client(self.nodes[node].port)
        other.cookie, other.csrf = c.cookie, c.csrf
        return other

    def page(self, c, what, i, node):
        """The token page on `node`, its own address (in the URLs it shows) replaced by BASE."""
        r = c.request("GET", "/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, "%s round %d: node %d: %r" % (what, i, node + 1, r))
        return json.loads(r.raw.replace("127.0.0.1:%d" % self.nodes[node].port, "BASE"))

    def test_1_token_page_follows_a_change_on_another_node(self):
        org, admin, provider = self.new_org("CachePage")
        others = [self.on(admin, 1), self.on(admin, 2)]
        for i in range(ROUNDS):
            for k, o in enumerate(others):  # cached on nodes 2 and 3
                self.page(o, "page", i, k + 1)
            if i % 4 in (0, 3):
                r = admin.request("PUT", "/api/v1/sandbox/token")  # regenerate
                self.assertEqual(r.status, 200, r)
            else:  # disable, then enable (the page's state and allowed actions)
                action = "disable" if i % 4 == 1 else "enable"
                body = {"reason": "TERMS_VIOLATION"} if action == "disable" else None
                r = provider.request("POST", "/api/v1/provider/orgs/%d/token/%s" % (org, action), body)
                self.assertEqual(r.status, 200, r)
            want = self.page(admin, "page", i, 0)
            for k, o in enumerate(others):
                got = self.page(o, "page", i, k + 1)
                self.assertEqual(got, want, "page round %d: node %d shows a stale token page"
                                 % (i, k + 2))

    def test_2_limits_follow_a_change_on_another_node(self):
        org, admin, provider = self.new_org("CacheLimits")
        token = self.reveal(admin)
        for i in range(ROUNDS):
            allowance = 0 if i % 2 == 0 else 1000000
            r = provider.request("PATCH", "/api/v1/provider/orgs/%d" % org,
                                 {"dailyAllowance": allowance})
            self.assertEqual(r.status, 200, r)
            # Allowance 0: refused by the quota (429). Plenty: admitted, then 400 for the
            # missing body (the admission is given back).
            expect = 429 if allowance == 0 else 400
            for node in (1, 2):
                status, body = tc.submit(self.nodes[node].port, token, b"", source=self.src.next())
                self.assertEqual(status, expect, "limits round %d: node %d answered %d %r with a "
                                 "daily allowance of %d" % (i, node + 1, status, body[:200], allowance))

    def test_3_usage_and_last_use_follow_a_submission_on_another_node(self):
        org, admin, _ = self.new_org("CacheUsage", dailyAllowance=1000000)
        token = self.reveal(admin)
        others = [self.on(admin, 1), self.on(admin, 2)]
        # The rounds move the nodes' clocks 2 s each (400 s in all): a run that starts within
        # that of a UTC midnight would see the daily count start again. So the clocks first jump
        # past such a midnight, and every round's count is i + 1 on one day.
        clear_of_midnight(self.nodes, 2 * ROUNDS + 120)
        for i in range(ROUNDS):
            for k, o in enumerate(others):
                self.page(o, "usage", i, k + 1)
            # The clock moves 2 s on every node, so the last use (seconds) differs every round.
            advance_clocks(self.nodes, 2)
            status, body = tc.submit(self.nodes[0].port, token, ("usage %d\n" % i).encode())
            self.assertEqual(status, 200, body[:200])
            want = self.page(admin, "usage", i, 0)
            self.assertEqual(want["usage"]["used"], i + 1, want)
            for k, o in enumerate(others):
                got = self.page(o, "usage", i, k + 1)
                self.assertEqual((got["usage"], got["lastUsedOn"]), (want["usage"], want["lastUsedOn"]),
                                 "usage round %d: node %d shows stale usage" % (i, k + 2))

    def test_4_sign_out_on_one_node_is_everywhere(self):
        org, admin, _ = self.new_org("CacheSession")
        uname = "cachesession-admin"
        for i in range(SIGN_OUT_ROUNDS):
            c = self.login(uname)
            others = [self.on(c, 1), self.on(c, 2)]
            for k, o in enumerate(others):  # the session cached on nodes 2 and 3
                self.page(o, "sign-out", i, k + 1)
            r = c.request("DELETE", "/api/v1/authenticatedSession")
            self.assertIn(r.status, (200, 204), r)
            for k, o in enumerate(others):
                r = o.request("GET", "/api/v1/sandbox/token")
                self.assertEqual(r.status, 401, "sign-out round %d: node %d still accepts the "
                                 "session: %r" % (i, k + 2, r))

    def test_9_no_secrets_in_the_logs(self):
        for n in self.nodes:
            n.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
