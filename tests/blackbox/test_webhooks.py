"""Webhooks (issue 20) with a real HTTP receiver (http.server in this process): signed events for
token changes, delivery after the receiver comes back (in order per endpoint), after a kill -9 of
the server, a slow receiver that holds neither the API nor another endpoint, and the SSRF guard
(at registration, at an edit and again at delivery); the quota.* events once each per day; HTTPS
delivery to a receiver whose certificate a CA made by the test signed (trusted with
--webhook-ca-file; an untrusted one records a TLS error and is retried, never sent in clear).

The server runs with --webhook-allow-cidr 127.0.0.0/8 so that the receivers on loopback are
allowed; the guard itself is checked against a server without it."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BIN, Server, ServerTestCase

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


def attempted_deliveries(client, endpoint_id, timeout=60):
    """The endpoint's deliveries once its newest has been attempted (polled at most `timeout` s);
    the last list read otherwise."""
    deadline = time.monotonic() + timeout
    items = []
    while time.monotonic() < deadline:
        items = client.get(f"/api/v1/sandbox/webhooks/{endpoint_id}/deliveries").json["items"]
        if items and items[0]["attempts"] > 0:
            break
        time.sleep(0.1)
    return items


class Receiver:
    """A webhook receiver on 127.0.0.1: records every request; may answer slowly or fail."""

    def __init__(self, port=0, delay=0.0, status=204, tls=None):
        self.tls = tls  # an ssl.SSLContext (server side): HTTPS only
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
        if self.tls:
            self.httpd.socket = self.tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook"

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

    def test_edit_changes_the_fields_given_with_the_same_checks(self):
        _, admin, viewer = self.new_org("Hook Edit")
        rec = self.receiver()
        ep = self.add_endpoint(admin, "http://127.0.0.1:9/old", events=["token.deleted"])
        path = f"/api/v1/sandbox/webhooks/{ep['id']}"
        # Refused edits change nothing, each with its field's code.
        self.assertError(admin.patch(path, {"url": "http://10.0.0.1/"}), 400, "WEBHOOK_URL_FORBIDDEN")
        self.assertError(admin.patch(path, {"url": "ftp://x/"}), 400, "WEBHOOK_URL_INVALID")
        self.assertError(admin.patch(path, {"events": []}), 400, "INVALID_EVENTS")
        self.assertError(admin.patch(path, {"description": "x" * 201}), 400, "INVALID_DESCRIPTION")
        self.assertError(admin.patch(path, {"secret": "x"}), 400, "UNKNOWN_FIELD")
        self.assertError(viewer.patch(path, {"description": "mine"}), 403, "FORBIDDEN")
        _, other, _ = self.new_org("Hook Edit Other")
        self.assertError(other.patch(path, {"description": "mine"}), 404, "NOT_FOUND")
        items = admin.get("/api/v1/sandbox/webhooks").json["items"]
        self.assertEqual((items[0]["url"], items[0]["events"], items[0]["description"]),
                         ("http://127.0.0.1:9/old", ["token.deleted"], "test receiver"))
        # Only the description: the rest stays.
        r = admin.patch(path, {"description": "renamed"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["url"], r.json["events"], r.json["description"]),
                         ("http://127.0.0.1:9/old", ["token.deleted"], "renamed"))
        self.assertNotIn("secret", r.json)
        # URL and events: the next event goes to the new receiver, signed with the same secret.
        r = admin.patch(path, {"url": rec.url, "events": ["token.regenerated"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        self.assertTrue(rec.wait_for(1))
        self.assertEqual(rec.events()[0]["type"], "token.regenerated")
        self.assertTrue(verify_signature(ep["secret"], rec.requests[0][1], rec.requests[0][2]))
        self.assertIn("WEBHOOK_UPDATE", json.dumps(admin.get("/api/v1/auditLog").json))


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


class WebhookDeliveryGuardTest(unittest.TestCase):
    """The guard runs again at each delivery: an endpoint registered while a range was allowed
    gets nothing once the server runs without it (the address is re-resolved and refused)."""

    def test_delivery_refuses_what_the_guard_no_longer_allows(self):
        rec = Receiver()
        server = Server(extra_args=ALLOW).start()
        try:
            admin = server.login("acme-admin")
            r = admin.post("/api/v1/sandbox/webhooks", {"url": rec.url, "events": ["token.regenerated"]})
            self.assertEqual(r.status, 201, r)
            server.secrets.add(r.json["secret"])
            ep = r.json["id"]
            server.stop()
            server.extra_args = []
            server.start()
            admin = server.login("acme-admin")
            self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
            items = attempted_deliveries(admin, ep)
            self.assertTrue(items and items[0]["attempts"] > 0, items)
            self.assertEqual(items[0]["state"], "pending")
            self.assertIn("127.0.0.1", items[0]["lastError"])
            self.assertIn("--webhook-allow-cidr", items[0]["lastError"])
            self.assertEqual(rec.requests, [])
        finally:
            server.cleanup()
            rec.stop()


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


class WebhookQuotaTest(WebhookTestCase):
    """quota.warning at 80% of the daily allowance, quota.exhausted with the call that uses the
    last unit, quota.threshold_near when the over-quota refusals reach half the disable threshold:
    each once per organization, day and endpoint, also when the line is crossed again that day."""

    def submit(self, token, n, tag):
        c = self.server.client()
        statuses = []
        for i in range(n):
            r = c.request("POST", "/zscsb/submit?api_token=" + token, raw=f"quota {tag} {i} {time.time()}\n".encode())
            statuses.append(r.status)
        return statuses

    def test_quota_events_once_each(self):
        org, admin, _ = self.new_org("Hook Quota")
        p = self.provider()
        r = p.patch(f"/api/v1/provider/orgs/{org}", {"dailyAllowance": 5, "disableThreshold": 4,
                                                     "ratePerSecond": 1000, "ratePerHour": 100000})
        self.assertEqual(r.status, 200, r)
        rec = self.receiver()
        wide = self.receiver()
        ep = self.add_endpoint(admin, rec.url, events=["quota.warning", "quota.exhausted",
                                                        "quota.threshold_near", "token.disabled"])
        wep = self.add_endpoint(p, wide.url, events=["quota.exhausted"], path="/api/v1/provider/webhooks")
        if admin.get("/api/v1/sandbox/token").json.get("token") is None:
            self.assertEqual(admin.post("/api/v1/sandbox/token").status, 201)
        token = self.reveal(admin)
        # 5 accepted (the 4th reaches 80%, the 5th the allowance), then refusals: the 2nd reaches
        # half the threshold of 4, the 5th goes past it and disables the token.
        statuses = self.submit(token, 10, "a")
        self.assertEqual(statuses[:5], [200] * 5, statuses)
        self.assertEqual(statuses[5:10], [429] * 5, statuses)
        want = ["quota.warning", "quota.exhausted", "quota.threshold_near", "token.disabled"]
        self.assertTrue(rec.wait_for(len(want)), rec.events())
        got = rec.events()
        self.assertEqual([e["type"] for e in got], want)
        for _, headers, body in rec.requests:
            self.assertTrue(verify_signature(ep["secret"], headers, body))
        day = time.strftime("%Y-%m-%d", time.gmtime())
        self.assertEqual(got[0]["data"], {"organization": {"id": org, "name": "Hook Quota"}, "actor": "system",
                                          "day": day, "usedToday": 4, "dailyAllowance": 5})
        self.assertEqual(got[1]["data"]["usedToday"], 5)
        self.assertEqual((got[2]["data"]["overQuotaToday"], got[2]["data"]["disableThreshold"]), (2, 4))
        self.assertTrue(wide.wait_for(1))
        self.assertEqual([e["type"] for e in wide.events()], ["quota.exhausted"])
        self.assertEqual(wide.events()[0]["data"]["organization"]["id"], org)
        # The same day, the lines again (a larger allowance, the token enabled): nothing new is
        # queued, for either endpoint (the outbox holds exactly what was delivered).
        self.assertEqual(p.post(f"/api/v1/provider/orgs/{org}/token/enable", {}).status, 200)
        r = p.patch(f"/api/v1/provider/orgs/{org}", {"dailyAllowance": 10, "disableThreshold": 100})
        self.assertEqual(r.status, 200, r)
        statuses = self.submit(token, 5, "b")
        self.assertEqual(statuses, [200] * 5)
        items = admin.get(f"/api/v1/sandbox/webhooks/{ep['id']}/deliveries").json["items"]
        self.assertEqual([i["event"] for i in items], list(reversed(want)), items)
        witems = p.get(f"/api/v1/provider/webhooks/{wep['id']}/deliveries").json["items"]
        self.assertEqual([i["event"] for i in witems], ["quota.exhausted"])
        self.assertEqual(p.delete(f"/api/v1/provider/webhooks/{wep['id']}").status, 204)


def openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + p.stderr)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 it signs, and a self-signed one nobody trusts."""
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Sandgate Test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1",
            cwd=d)
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)


def tls_context(d, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, cert), os.path.join(d, key))
    return ctx


class WebhookHttpsTest(WebhookTestCase):
    """HTTPS delivery verifies the receiver's certificate: trusted through --webhook-ca-file, it is
    delivered and signed; a certificate no trusted CA signed is a TLS error, retried, and nothing
    is ever sent to it in clear."""

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="sandgate-webhook-pki-")
        make_pki(cls.pki)
        cls.server = Server(extra_args=ALLOW + ["--webhook-ca-file", os.path.join(cls.pki, "ca.pem")]).start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.pki, ignore_errors=True)

    def test_trusted_ca_delivers_signed_and_untrusted_is_a_tls_error(self):
        _, admin, _ = self.new_org("Hook Https")
        good = self.receiver(tls=tls_context(self.pki, "srv.pem", "srv.key"))
        bad = self.receiver(tls=tls_context(self.pki, "self.pem", "self.key"))
        self.assertTrue(good.url.startswith("https://127.0.0.1:"))
        gep = self.add_endpoint(admin, good.url, events=["token.regenerated"])
        bep = self.add_endpoint(admin, bad.url, events=["token.regenerated"])
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        self.assertTrue(good.wait_for(1))
        self.assertEqual(good.events()[0]["type"], "token.regenerated")
        self.assertTrue(verify_signature(gep["secret"], good.requests[0][1], good.requests[0][2]))
        items = attempted_deliveries(admin, bep["id"])
        self.assertTrue(items and items[0]["attempts"] > 0, items)
        self.assertEqual(items[0]["state"], "pending")
        self.assertIsNotNone(items[0]["nextAttemptAt"])
        self.assertIsNone(items[0]["lastStatus"])
        self.assertIn("certificate verify failed", items[0]["lastError"])
        self.assertEqual(bad.requests, [])  # no request reached it, in clear or otherwise
        # The config file takes the same setting (webhook_ca_file).
        conf = os.path.join(self.pki, "c.toml")
        ca = os.path.join(self.pki, "ca.pem")
        with open(conf, "w") as f:
            f.write(f'webhook_ca_file = "{ca}"\n')
        pr = subprocess.run([BIN, "config", "check", conf], capture_output=True, text=True, timeout=60)
        self.assertEqual(pr.returncode, 0, pr.stderr)
        self.assertIn(f'webhook_ca_file = "{ca}"', pr.stdout)


class WebhookCaFileTest(unittest.TestCase):
    def test_a_file_without_certificates_is_refused_at_start(self):
        d = tempfile.mkdtemp(prefix="sandgate-webhook-ca-")
        try:
            bad = os.path.join(d, "not-a-ca.pem")
            with open(bad, "w") as f:
                f.write("not a certificate\n")
            server = Server(extra_args=["--webhook-ca-file", bad])
            with self.assertRaises(RuntimeError) as cm:
                server.start()
            self.assertIn("CONFIG_INVALID", str(cm.exception))
            server.cleanup()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
