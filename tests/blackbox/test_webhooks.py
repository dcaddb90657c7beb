"""Webhooks (issue 20) with a real HTTP receiver (http.server in this process): signed events for
token changes, delivery after the receiver comes back (in order per endpoint), after a kill -9 of
the server, a slow receiver that holds neither the API nor another endpoint, and the SSRF guard.

The server runs with --webhook-allow-cidr 127.0.0.0/8 so that the receivers on loopback are
allowed; the guard itself is checked against a server without it."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import threading
import time
import unittest

from harness import Server, ServerTestCase

ALLOW = ["--webhook-allow-cidr", "127.0.0.0/8"]


def verify_signature(secret, headers, body):
    """The receiver's recipe (README, "Webhooks"): HMAC-SHA256 with the base64-decoded part of
    whsec_..., over "<webhook-id>.<webhook-timestamp>.<body>", base64, compared with each v1,
    signature of the space-separated webhook-signature header."""
    key = base64.b64decode(secret[len("whsec_"):])
    signed = (headers["webhook-id"] + "." + headers["webhook-timestamp"] + ".").encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    sigs = [s[3:] for s in headers["webhook-signature"].split(" ") if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, s) for s in sigs)


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request; may answer slowly or fail."""

    def __init__(self, port=0, delay=0.0, status=204):
        self.delay = delay
        self.status = status
        self.requests = []  # (monotonic arrival, headers dict lower-case, body bytes)
        self.in_flight = 0
        self.lock = threading.Lock()
        self.port = port
        self.httpd = None
        self.start()

    def start(self):
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with rec.lock:
                    rec.requests.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                    rec.in_flight += 1
                try:
                    if rec.delay:
                        time.sleep(rec.delay)
                    self.send_response(rec.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    with rec.lock:
                        rec.in_flight -= 1

            def log_message(self, *args):
                pass

        class Httpd(http.server.ThreadingHTTPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.httpd = Httpd(("127.0.0.1", self.port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def events(self):
        with self.lock:
            return [json.loads(b) for _, _, b in self.requests]

    def wait_for(self, count, seconds=90):
        """Waits (bounded) until `count` requests arrived; returns whether they did."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return True
            time.sleep(0.05)
        return False


class WebhookTestCase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=ALLOW).start()

    def setUp(self):
        self.receivers = []

    def tearDown(self):
        for r in self.receivers:
            r.stop()

    def receiver(self, **kw):
        r = Receiver(**kw)
        self.receivers.append(r)
        return r

    def add_endpoint(self, client, url, events=None, path="/api/v1/sandbox/webhooks"):
        body = {"url": url, "description": "test receiver"}
        if events is not None:
            body["events"] = events
        r = client.post(path, body)
        self.assertEqual(r.status, 201, r)
        self.assertTrue(r.json["secret"].startswith("whsec_"), r)
        self.server.secrets.add(r.json["secret"])
        return r.json


class WebhookEventsTest(WebhookTestCase):
    def test_every_token_event_arrives_signed_in_order(self):
        org, admin, viewer = self.new_org("Hook Events")
        rec = self.receiver()
        ep = self.add_endpoint(admin, rec.url, events=[
            "token.added", "token.regenerated", "token.deleted", "token.revealed", "token.disabled",
            "token.enabled", "subscription.expired", "subscription.renewed"])
        secret = ep["secret"]
        self.assertNotIn("secret", admin.get("/api/v1/sandbox/webhooks").json["items"][0])
        # Read-only users see the endpoints but do not change them.
        self.assertEqual(viewer.get("/api/v1/sandbox/webhooks").status, 200)
        self.assertError(viewer.post("/api/v1/sandbox/webhooks", {"url": rec.url}), 403, "FORBIDDEN")
        p = self.provider()
        self.reveal(admin)
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        r = p.post(f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "TERMS_VIOLATION", "note": "abuse"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(p.post(f"/api/v1/provider/orgs/{org}/token/enable", {}).status, 200)
        self.assertEqual(admin.delete("/api/v1/sandbox/token").status, 200)
        self.assertEqual(admin.post("/api/v1/sandbox/token").status, 201)
        r = p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "expire"})
        self.assertEqual(r.status, 200, r)
        r = p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "renew"})
        self.assertEqual(r.status, 200, r)
        r = admin.post(f"/api/v1/sandbox/webhooks/{ep['id']}/test", {})
        self.assertEqual(r.status, 202, r)
        want = ["token.revealed", "token.regenerated", "token.disabled", "token.enabled", "token.deleted",
                "token.added", "subscription.expired", "subscription.renewed", "webhook.test"]
        self.assertTrue(rec.wait_for(len(want)), rec.events())
        got = rec.events()
        self.assertEqual([e["type"] for e in got], want)
        ids = set()
        for _, headers, body in rec.requests:
            self.assertTrue(verify_signature(secret, headers, body), headers)
            self.assertTrue(headers["webhook-id"].startswith("msg_"))
            ids.add(headers["webhook-id"])
        self.assertEqual(len(ids), len(want))
        for e in got[:-1]:
            self.assertEqual(e["data"]["organization"], {"id": org, "name": "Hook Events"})
            self.assertRegex(e["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(got[2]["data"]["reason"], "TERMS_VIOLATION")
        self.assertEqual(got[2]["data"]["actor"], "provider")
        # A wrong secret does not verify (the check can fail).
        self.assertFalse(verify_signature("whsec_" + base64.b64encode(b"x" * 32).decode(),
                                          rec.requests[0][1], rec.requests[0][2]))
        # The deliveries page shows them delivered, newest first.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            items = admin.get(f"/api/v1/sandbox/webhooks/{ep['id']}/deliveries").json["items"]
            if all(i["state"] == "delivered" for i in items):
                break
            time.sleep(0.1)
        self.assertEqual([i["event"] for i in items], list(reversed(want)))
        self.assertTrue(all(i["state"] == "delivered" and i["lastStatus"] == 204 for i in items), items)
        self.assertEqual([i["body"] for i in items], list(reversed(got)))
        # Audited; another organization cannot see or delete it.
        audit = admin.get("/api/v1/auditLog").json
        self.assertIn("WEBHOOK_CREATE", json.dumps(audit))
        _, other, _ = self.new_org("Hook Other")
        self.assertError(other.delete(f"/api/v1/sandbox/webhooks/{ep['id']}"), 404, "NOT_FOUND")
        self.assertError(other.get(f"/api/v1/sandbox/webhooks/{ep['id']}/deliveries"), 404, "NOT_FOUND")
        self.assertEqual(admin.delete(f"/api/v1/sandbox/webhooks/{ep['id']}").status, 204)
        self.assertEqual(admin.get("/api/v1/sandbox/webhooks").json["items"], [])
        self.server.assert_no_secrets_in_log(self)

    def test_revealed_is_opt_in_and_provider_wide_endpoints_get_every_org(self):
        _, admin, _ = self.new_org("Hook Default")
        mine = self.receiver()
        self.add_endpoint(admin, mine.url)  # default events: not token.revealed
        wide = self.receiver()
        p = self.provider()
        ep = self.add_endpoint(p, wide.url, events=["token.regenerated"], path="/api/v1/provider/webhooks")
        self.assertEqual(ep["scope"], "provider")
        self.assertError(admin.get("/api/v1/provider/webhooks"), 404, "NOT_FOUND")
        self.reveal(admin)
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        self.assertTrue(mine.wait_for(1))
        self.assertTrue(wide.wait_for(1))
        self.assertEqual([e["type"] for e in mine.events()], ["token.regenerated"])
        self.assertEqual([e["type"] for e in wide.events()], ["token.regenerated"])
        self.assertTrue(verify_signature(ep["secret"], wide.requests[0][1], wide.requests[0][2]))
        self.assertEqual(p.delete(f"/api/v1/provider/webhooks/{ep['id']}").status, 204)

    def test_secret_rotation_signs_with_both_during_the_overlap(self):
        _, admin, _ = self.new_org("Hook Rotate")
        rec = self.receiver()
        ep = self.add_endpoint(admin, rec.url, events=["token.regenerated"])
        r = admin.post(f"/api/v1/sandbox/webhooks/{ep['id']}/secret", {})
        self.assertEqual(r.status, 200, r)
        new = r.json["secret"]
        self.server.secrets.add(new)
        self.assertNotEqual(new, ep["secret"])
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        self.assertTrue(rec.wait_for(1))
        _, headers, body = rec.requests[0]
        self.assertEqual(len(headers["webhook-signature"].split(" ")), 2)
        self.assertTrue(verify_signature(new, headers, body))
        self.assertTrue(verify_signature(ep["secret"], headers, body))

    def test_bad_endpoints_are_refused(self):
        _, admin, _ = self.new_org("Hook Bad")
        for url in ("ftp://example.com/", "http://user:pw@example.com/", "not a url", "http:///x"):
            self.assertError(admin.post("/api/v1/sandbox/webhooks", {"url": url}), 400, "WEBHOOK_URL_INVALID")
        for url in ("http://10.1.2.3/", "http://169.254.169.254/latest/meta-data/", "http://192.168.0.1:8080/",
                    "http://[fd00:ec2::254]/", "http://[::ffff:10.0.0.1]/", "http://0.0.0.0/"):
            self.assertError(admin.post("/api/v1/sandbox/webhooks", {"url": url}), 400, "WEBHOOK_URL_FORBIDDEN")
        self.assertError(admin.post("/api/v1/sandbox/webhooks", {"url": "http://127.0.0.1/", "events": ["nope"]}),
                         400, "INVALID_EVENTS")
        self.assertError(admin.post("/api/v1/sandbox/webhooks", {"url": "http://127.0.0.1/", "events": "token.added"}),
                         400, "INVALID_FIELD")
        for n in range(5):
            self.add_endpoint(admin, f"http://127.0.0.1:9/{n}")
        self.assertError(admin.post("/api/v1/sandbox/webhooks", {"url": "http://127.0.0.1:9/x"}), 409, "WEBHOOK_LIMIT")
        self.assertEqual(len(admin.get("/api/v1/sandbox/webhooks").json["items"]), 5)


class WebhookSsrfTest(unittest.TestCase):
    """Without --webhook-allow-cidr, loopback is refused too (the switch the other tests use)."""

    def test_loopback_refused_without_the_switch(self):
        server = Server().start()
        try:
            admin = server.login("acme-admin")
            for url in ("http://127.0.0.1:8080/", "http://localhost/", "http://[::1]/"):
                r = admin.post("/api/v1/sandbox/webhooks", {"url": url})
                self.assertEqual(r.status, 400, r)
                self.assertEqual(r.json["code"], "WEBHOOK_URL_FORBIDDEN", r)
            self.assertEqual(admin.get("/api/v1/sandbox/webhooks").json["items"], [])
        finally:
            server.cleanup()


class WebhookDeliveryTest(WebhookTestCase):
    def test_receiver_down_then_up_gets_everything_in_order(self):
        _, admin, _ = self.new_org("Hook Down")
        rec = self.receiver()
        rec.stop()  # down: connections are refused
        ep = self.add_endpoint(admin, rec.url, events=["token.regenerated"])
        last4 = []
        for _ in range(5):
            r = admin.put("/api/v1/sandbox/token")
            self.assertEqual(r.status, 200, r)
            last4.append(r.json["token"]["last4"])
        # Wait until the first attempt failed (bounded), then bring the receiver back.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            items = admin.get(f"/api/v1/sandbox/webhooks/{ep['id']}/deliveries").json["items"]
            if any(i["attempts"] > 0 for i in items):
                break
            time.sleep(0.1)
        failed = [i for i in items if i["attempts"] > 0]
        self.assertTrue(failed and failed[0]["lastError"] and failed[0]["state"] == "pending", items)
        self.assertIsNotNone(failed[0]["nextAttemptAt"])
        self.assertEqual(len(rec.requests), 0)
        rec.start()
        # The first retry comes within 5 s (backoff 2.5-5 s), the rest follow it.
        self.assertTrue(rec.wait_for(5, seconds=120), rec.events())
        got = rec.events()
        self.assertEqual([e["data"]["tokenLast4"] for e in got[:5]], last4)
        for _, headers, body in rec.requests:
            self.assertTrue(verify_signature(ep["secret"], headers, body))

    def test_kill9_between_change_and_delivery(self):
        _, admin, _ = self.new_org("Hook Kill")
        rec = self.receiver()
        rec.stop()
        ep = self.add_endpoint(admin, rec.url, events=["token.regenerated", "token.disabled"])
        r = admin.put("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        last4 = r.json["token"]["last4"]
        self.server.kill9()
        rec.start()
        self.server.start()
        try:
            self.assertTrue(rec.wait_for(1, seconds=120))
            self.assertEqual(rec.events()[0]["type"], "token.regenerated")
            self.assertEqual(rec.events()[0]["data"]["tokenLast4"], last4)
            self.assertTrue(verify_signature(ep["secret"], rec.requests[0][1], rec.requests[0][2]))
        finally:
            pass

    def test_slow_receiver_holds_neither_the_api_nor_other_endpoints(self):
        _, admin, _ = self.new_org("Hook Slow")
        slow = self.receiver(delay=10)
        fast = self.receiver()
        self.add_endpoint(admin, slow.url, events=["token.regenerated"])
        self.add_endpoint(admin, fast.url, events=["token.regenerated"])
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        self.assertTrue(slow.wait_for(1))
        # The slow receiver is now inside its 10 s answer: the API answers meanwhile and the other
        # endpoint gets every event. Each step is checked against the slow request still being in
        # flight, not against a clock.
        for _ in range(3):
            self.assertEqual(slow.in_flight, 1)
            self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        self.assertTrue(fast.wait_for(4, seconds=60))
        # Per endpoint, one message at a time: the slow one has not been sent a second event
        # while its first was unanswered (its second request, if any, came after the fast
        # receiver had all four).
        with slow.lock:
            later = [t for t, _, _ in slow.requests[1:]]
        with fast.lock:
            fast_done = fast.requests[3][0]
        self.assertTrue(all(t > fast_done for t in later), (later, fast_done))


class WebhookScheduleTest(WebhookTestCase):
    """subscription.expiring 14, 3 and 1 days before the end, subscription.expired when it passes:
    each once, also after a restart (a second process: what several nodes would do)."""

    def test_expiring_then_expired_once_each(self):
        ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 20 * 86400))
        org, admin, _ = self.new_org("Hook Schedule", ends_at=ends)
        rec = self.receiver()
        ep = self.add_endpoint(admin, rec.url, events=["subscription.expiring", "subscription.expired"])
        expected = []
        for days_forward, want in ((7, ("subscription.expiring", 14)), (10.5, ("subscription.expiring", 3)),
                                   (2, ("subscription.expiring", 1)), (1, ("subscription.expired", None))):
            self.server.advance(days_forward * 86400)
            expected.append(want)
            self.assertTrue(rec.wait_for(len(expected), seconds=60), rec.events())
        got = rec.events()
        self.assertEqual([(e["type"], e["data"].get("daysLeft")) for e in got], expected)
        for e in got:
            self.assertEqual(e["data"]["organization"]["id"], org)
            self.assertEqual(e["data"]["endsAt"], ends)
        for _, headers, body in rec.requests:
            self.assertTrue(verify_signature(ep["secret"], headers, body))
        # A new process (its memory of what it fired is empty) queues none of them again.
        self.server.stop()
        self.server.start()
        admin = self.server.login("hookschedule-admin")
        r = admin.post(f"/api/v1/sandbox/webhooks/{ep['id']}/test", {})
        self.assertEqual(r.status, 202, r)
        self.assertTrue(rec.wait_for(len(expected) + 1, seconds=60))
        time.sleep(1)
        self.assertEqual([e["type"] for e in rec.events()][len(expected):], ["webhook.test"])
        items = admin.get(f"/api/v1/sandbox/webhooks/{ep['id']}/deliveries").json["items"]
        self.assertEqual(len(items), len(expected) + 1)


if __name__ == "__main__":
    unittest.main()
