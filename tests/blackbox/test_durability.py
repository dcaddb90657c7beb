"""Concurrency, crash durability and graceful shutdown of the real server."""
import os
import re
import signal
import threading
import time
import unittest

from harness import Server, ServerTestCase


class ConcurrentRegenerateTest(ServerTestCase):
    def test_32_concurrent_regenerates_leave_exactly_one_valid_token(self):
        org, admin, viewer = self.new_org("Race Co")
        original = self.reveal(admin)
        seen = {original}
        statuses = []
        lock = threading.Lock()
        start = threading.Barrier(32)

        def worker():
            c = self.server.client()
            c.cookie, c.csrf = admin.cookie, admin.csrf
            start.wait()
            r = c.put("/api/v1/sandbox/token")
            t = c.get("/api/v1/sandbox/token/reveal")
            c.close()
            with lock:
                statuses.append(r.status)
                if t.status == 200:
                    seen.add(t.json["token"])

        threads = [threading.Thread(target=worker) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(statuses, [200] * 32)
        final = self.reveal(admin)
        seen.add(final)
        self.server.secrets.update(seen)
        valid = [t for t in seen if self.server.verify(t)[0]]
        self.assertEqual(valid, [final])
        r = admin.get("/api/v1/auditLog?action=TOKEN_REGENERATE&limit=1000")
        regen = [a for a in r.json["items"] if a["outcome"] == "ALLOWED"]
        self.assertEqual(len(regen), 32)
        # 32 distinct tokens were made, each audited by its fingerprint.
        self.assertEqual(regen[0]["tokenFingerprint"], final[-4:])
        self.server.assert_no_secrets_in_log(self)


class CrashDurabilityTest(unittest.TestCase):
    def test_kill9_after_acknowledged_changes_loses_nothing(self):
        server = Server().start()
        try:
            p = server.login("provider")
            admin = server.login("acme-admin")
            acknowledged = []
            for i in range(25):
                r = p.post("/api/v1/provider/orgs", {"name": f"Durable {i}"})
                self.assertEqual(r.status, 201)
                acknowledged.append(r.json["id"])
            for _ in range(5):
                self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
            last = admin.get("/api/v1/sandbox/token/reveal").json["token"]
            server.secrets.add(last)
            server.kill9()
            server.start()
            p = server.login("provider")
            names = {o["name"] for o in p.get("/api/v1/provider/orgs?search=Durable&pageSize=100").json["items"]}
            self.assertEqual(names, {f"Durable {i}" for i in range(25)})
            r = p.get("/api/v1/provider/auditLog?action=ORG_CREATE&limit=1000")
            created = sorted(a["orgId"] for a in r.json["items"] if a["detail"].startswith("Durable "))
            self.assertEqual(created, sorted(acknowledged))
            r = p.get("/api/v1/provider/auditLog?action=TOKEN_REGENERATE&limit=1000")
            self.assertEqual(len(r.json["items"]), 5)
            # The last regenerated token is the one that verifies after the restart.
            self.assertTrue(server.verify(last)[0])
            server.assert_no_secrets_in_log(self)
        finally:
            server.cleanup()

    def test_org_without_token_at_start_gets_a_working_token(self):
        # The index loads only organizations holding a token; one that adds a token after a
        # restart must still be known with its real state (active subscription).
        server = Server().start()
        try:
            admin = server.login("acme-admin")
            self.assertEqual(admin.delete("/api/v1/sandbox/token").status, 200)
            server.stop()
            server.start()
            admin = server.login("acme-admin")
            self.assertEqual(admin.post("/api/v1/sandbox/token").status, 201)
            token = admin.get("/api/v1/sandbox/token/reveal").json["token"]
            server.secrets.add(token)
            c = server.client()
            r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=b"after a restart")
            self.assertEqual(r.status, 200, r)
            # An early refusal of a small body keeps the connection open for the next request.
            r = c.request("POST", "/zscsb/submit?api_token=sbx_not-a-token", raw=b"x" * 1000)
            self.assertEqual(r.status, 401)
            self.assertNotEqual(r.headers.get("connection", "").lower(), "close")
            self.assertIsNotNone(c.conn)
            time.sleep(1.1)  # the default rate limit is 1 submission per second
            r = c.request("POST", f"/zscsb/discan?api_token={token}", raw=b"same connection")
            self.assertEqual(r.status, 200, r)
            server.assert_no_secrets_in_log(self)
        finally:
            server.cleanup()

    def test_sigterm_drains_and_exits_zero(self):
        server = Server().start()
        try:
            c = server.login("acme-viewer")
            self.assertEqual(c.get("/api/v1/sandbox/token").status, 200)
            rc = server.stop(signal.SIGTERM)
            self.assertEqual(rc, 0)
            self.assertIn("stopped", server.log_text())
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
