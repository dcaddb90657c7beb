"""Leaked-token reports (issue 20): GitHub's secret scanning partner endpoint with a test key pair
made here with the openssl CLI (ECDSA P-256, SHA-256 over the raw body, DER, base64), the keys
from a file and from a URL on 127.0.0.1; the organization's leak policy (REVOKE, NOTIFY); the
provider API and the CLI for other scanners.

A signed report of a live token: the Submission API refuses the token on the next request, the
audit trail names secret-scanning and the URL, a webhook receiver gets token.leaked (signed), the
token page returns the report for its banner. Wrong signature, unknown key id, no headers: 401 and
nothing changes. A replay is harmless."""
import base64
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

from harness import Server, ServerTestCase
from test_webhooks import ALLOW, Receiver, verify_signature

PATH = "/api/v1/secret-scanning/github"


def openssl(*args, input=None):
    p = subprocess.run(["openssl", *args], capture_output=True, input=input, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + p.stderr.decode())
    return p.stdout


class KeyPair:
    """An EC P-256 key pair in a temporary directory; signs as GitHub does."""

    def __init__(self, directory, name):
        self.private = os.path.join(directory, name + ".key")
        self.public = os.path.join(directory, name + ".pub")
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", self.private)
        openssl("ec", "-in", self.private, "-pubout", "-out", self.public)
        with open(self.public) as f:
            self.pem = f.read()

    def sign(self, body):
        der = openssl("dgst", "-sha256", "-sign", self.private, input=body)
        return base64.b64encode(der).decode()


def key_document(pairs):
    """GitHub's format: {"public_keys":[{"key_identifier","key","is_current"}]}."""
    return json.dumps({"public_keys": [
        {"key_identifier": kid, "key": kp.pem, "is_current": i == 0} for i, (kid, kp) in enumerate(pairs)]})


class KeyServer:
    """Serves a key document on 127.0.0.1 (secret_scanning_keys_url); counts the fetches."""

    def __init__(self, document):
        self.document = document
        self.fetches = 0
        ks = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ks.fetches += 1
                body = ks.document.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/meta/public_keys/secret_scanning"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SecretScanningTestCase(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.keydir = tempfile.mkdtemp(prefix="sandgate-scan-keys-")
        cls.key = KeyPair(cls.keydir, "current")
        cls.other = KeyPair(cls.keydir, "other")  # a key the server does not know
        cls.keyfile = os.path.join(cls.keydir, "keys.json")
        with open(cls.keyfile, "w") as f:
            f.write(key_document([("test-key-1", cls.key)]))
        cls.server = Server(extra_args=ALLOW + ["--secret-scanning-keys-file", cls.keyfile]).start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.keydir, ignore_errors=True)

    def setUp(self):
        self.receivers = []

    def tearDown(self):
        for r in self.receivers:
            r.stop()
        self.server.assert_no_secrets_in_log(self)

    def report(self, entries, key=None, key_id="test-key-1", raw=None, headers=None):
        body = raw if raw is not None else json.dumps(entries).encode()
        h = {"Content-Type": "application/json"}
        if key_id is not None:
            h["Github-Public-Key-Identifier"] = key_id
            h["Github-Public-Key-Signature"] = (key or self.key).sign(body)
        if headers is not None:
            h = headers
        c = self.server.client()  # no session, no CSRF token: the signature is the credential
        r = c.request("POST", PATH, raw=body, headers=h)
        c.close()
        return r

    def entry(self, token, url="https://github.com/octo/leaky/blob/4f2a/config.py", source="commit"):
        return {"token": token, "type": "sandgate_api_token", "url": url, "source": source}

    def submit(self, token):
        c = self.server.client()
        r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=b"leak test file",
                      headers={"Content-Type": "application/octet-stream"})
        c.close()
        return r

    def audit(self, client, action="TOKEN_LEAKED"):
        r = client.get(f"/api/v1/auditLog?action={action}")
        self.assertEqual(r.status, 200, r)
        return r.json["items"]

    def receiver(self):
        r = Receiver()
        self.receivers.append(r)
        return r

    def add_endpoint(self, client, url):
        r = client.post("/api/v1/sandbox/webhooks", {"url": url, "events": ["token.leaked"]})
        self.assertEqual(r.status, 201, r)
        self.server.secrets.add(r.json["secret"])
        return r.json["secret"]


class GithubReportTest(SecretScanningTestCase):
    def test_signed_report_revokes_audits_notifies_and_shows_the_banner(self):
        org, admin, viewer = self.new_org("Leak Revoke")
        # Two accepted submissions below, whatever the time between them.
        r = self.provider().patch(f"/api/v1/provider/orgs/{org}", {"ratePerSecond": 1000})
        self.assertEqual(r.status, 200, r)
        rec = self.receiver()
        secret = self.add_endpoint(admin, rec.url)
        token = self.reveal(admin)
        last4 = token[-4:]
        self.assertEqual(self.submit(token).status, 200)
        url = "https://github.com/octo/leaky/blob/4f2a/config.py#L3"

        r = self.report([self.entry(token, url), self.entry("sbx_not_a_token"), {"token": "ghp_other", "type": "x"}])
        self.assertEqual(r.status, 200, r)
        self.assertEqual([e["label"] for e in r.json], ["true_positive", "false_positive", "false_positive"])
        self.assertEqual(r.json[0]["token_raw"], token)
        self.assertEqual(r.json[0]["token_type"], "sandgate_api_token")

        # Refused by the Submission API on the very next request.
        self.assertEqual(self.submit(token).status, 401)
        ok, _ = self.server.verify(token)
        self.assertFalse(ok)
        # Audited: actor secret-scanning, the URL and source, as the organization sees it too.
        items = self.audit(admin)
        self.assertEqual(len(items), 1, items)
        rec0 = items[0]
        self.assertEqual(rec0["actor"], "secret-scanning")
        self.assertEqual(rec0["outcome"], "ALLOWED")
        self.assertEqual(rec0["tokenFingerprint"], last4)
        self.assertIn(url, rec0["detail"])
        self.assertIn("commit", rec0["detail"])
        self.assertIn("REVOKED", rec0["detail"])
        self.assertNotIn(token, json.dumps(items))
        # The token page: no token, the report for the banner (for every role of the org).
        for c in (admin, viewer):
            page = c.get("/api/v1/sandbox/token")
            self.assertEqual(page.status, 200, page)
            self.assertIsNone(page.json["token"])
            lr = page.json["leakReport"]
            self.assertEqual((lr["url"], lr["source"], lr["action"], lr["tokenLast4"]),
                             (url, "commit", "REVOKED", last4))
            self.assertTrue(lr["foundAt"].endswith("Z"))
            self.assertEqual(page.json["leakPolicy"], "REVOKE")
        # The webhook receiver gets token.leaked, signed.
        self.assertTrue(rec.wait_for(1), "token.leaked was not delivered")
        _, headers, body = rec.requests[0]
        self.assertTrue(verify_signature(secret, headers, body))
        ev = json.loads(body)
        self.assertEqual(ev["type"], "token.leaked")
        d = ev["data"]
        self.assertEqual((d["organization"]["id"], d["tokenLast4"], d["url"], d["source"], d["action"], d["actor"]),
                         (org, last4, url, "commit", "revoked", "secret-scanning"))
        self.assertNotIn(token, body.decode())

        # A replay is harmless: the token is gone, false_positive, no second audit record.
        r = self.report([self.entry(token, url)])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json[0]["label"], "false_positive")
        self.assertEqual(len(self.audit(admin)), 1)

        # A new token clears the banner; the new token works.
        r = admin.post("/api/v1/sandbox/token")
        self.assertEqual(r.status, 201, r)
        self.assertIsNone(r.json["leakReport"])
        self.assertIsNone(admin.get("/api/v1/sandbox/token").json["leakReport"])
        self.assertEqual(self.submit(self.reveal(admin)).status, 200)

    def test_bad_signatures_are_401_and_change_nothing(self):
        org, admin, _ = self.new_org("Leak Unsigned")
        token = self.reveal(admin)
        body = json.dumps([self.entry(token)]).encode()
        sig = self.key.sign(body)
        cases = {
            "no headers": {"Content-Type": "application/json"},
            "no signature": {"Github-Public-Key-Identifier": "test-key-1"},
            "no key id": {"Github-Public-Key-Signature": sig},
            "unknown key id": {"Github-Public-Key-Identifier": "no-such-key", "Github-Public-Key-Signature": sig},
            "another key's signature": {"Github-Public-Key-Identifier": "test-key-1",
                                        "Github-Public-Key-Signature": self.other.sign(body)},
            "signature of another body": {"Github-Public-Key-Identifier": "test-key-1",
                                          "Github-Public-Key-Signature": self.key.sign(body + b" ")},
            "garbage": {"Github-Public-Key-Identifier": "test-key-1", "Github-Public-Key-Signature": "!!!"},
        }
        for name, headers in cases.items():
            with self.subTest(name):
                r = self.report(None, raw=body, headers=headers)
                self.assertError(r, 401, "INVALID_SIGNATURE")
        # Also with a session and CSRF token: the signature is what counts.
        c = admin
        r = c.request("POST", PATH, raw=body, headers={"Content-Type": "application/json"})
        self.assertError(r, 401, "INVALID_SIGNATURE")
        # Nothing changed: the token works, no audit record, no banner.
        self.assertEqual(self.submit(token).status, 200)
        self.assertEqual(self.audit(admin), [])
        self.assertIsNone(admin.get("/api/v1/sandbox/token").json["leakReport"])
        self.assertTrue(admin.get("/api/v1/sandbox/token").json["token"])

    def test_bad_bodies_are_400_and_change_nothing(self):
        org, admin, _ = self.new_org("Leak Bad Body")
        token = self.reveal(admin)
        good = self.entry(token)
        for name, raw in {
            "not json": b"not json",
            "an object": json.dumps({"token": token}).encode(),
            "no token": json.dumps([good, {"type": "x"}]).encode(),
            "a number token": json.dumps([good, {"token": 7}]).encode(),
            "a control character in the url": json.dumps([good, self.entry(token, url="https://x/\u0007")]).encode(),
            "too many": json.dumps([good] + [{"token": "x"}] * 1000).encode(),
        }.items():
            with self.subTest(name):
                r = self.report(None, raw=raw)
                self.assertEqual(r.status, 400, r)
        self.assertEqual(self.submit(token).status, 200)
        self.assertEqual(self.audit(admin), [])
        # Too large a body: 413 before it is read. 8 MiB is more than the socket buffers hold, so
        # the server answers and closes while the client is still sending (it reads the answer).
        r = self.report(None, raw=b"[" + b" " * (8 * 1024 * 1024) + b"]")
        self.assertEqual(r.status, 413, r)

    def test_notify_policy_keeps_the_token(self):
        org, admin, _ = self.new_org("Leak Notify")
        p = self.provider()
        r = p.patch(f"/api/v1/provider/orgs/{org}", {"leakPolicy": "NOTIFY"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["leakPolicy"], "NOTIFY")
        self.assertError(p.patch(f"/api/v1/provider/orgs/{org}", {"leakPolicy": "IGNORE"}), 400, "INVALID_FIELD")
        # Visible to the organization; not settable by it (the provider API is 404 for it).
        self.assertEqual(admin.get("/api/v1/sandbox/token").json["leakPolicy"], "NOTIFY")
        self.assertEqual(admin.patch(f"/api/v1/provider/orgs/{org}", {"leakPolicy": "REVOKE"}).status, 404)
        rec = self.receiver()
        secret = self.add_endpoint(admin, rec.url)
        token = self.reveal(admin)
        r = self.report([self.entry(token, "https://github.com/octo/n/blob/1/a.env")])
        self.assertEqual(r.json[0]["label"], "true_positive")
        self.assertEqual(self.submit(token).status, 200)  # still active
        lr = admin.get("/api/v1/sandbox/token").json["leakReport"]
        self.assertEqual(lr["action"], "NOTIFIED")
        items = self.audit(admin)
        self.assertEqual(len(items), 1)
        self.assertIn("NOTIFIED", items[0]["detail"])
        self.assertTrue(rec.wait_for(1))
        _, headers, body = rec.requests[0]
        self.assertTrue(verify_signature(secret, headers, body))
        self.assertEqual(json.loads(body)["data"]["action"], "notified")
        # The policy change itself is audited.
        changes = [x for x in p.get(f"/api/v1/provider/auditLog?orgId={org}&action=ORG_UPDATE").json["items"]]
        self.assertTrue(any("leakPolicy: REVOKE \u2192 NOTIFY" in x["detail"] for x in changes), changes)
        # Regenerating replaces the published token and clears the report.
        r = admin.put("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json["leakReport"])
        self.assertEqual(self.submit(token).status, 401)

    def test_disabled_or_expired_organization_token_is_revoked_too(self):
        # A leaked token is revoked even where the organization could not change it itself: a
        # disable is lifted and a subscription renewed one day, and the leaked text would work
        # again.
        for name, change in (("Leak Disabled", ("token/disable", {"reason": "OTHER"})),
                             ("Leak Expired", ("subscription", {"action": "expire"}))):
            with self.subTest(name):
                org, admin, _ = self.new_org(name)
                token = self.reveal(admin)
                p = self.provider()
                r = p.post(f"/api/v1/provider/orgs/{org}/{change[0]}", change[1])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.submit(token).status, 403)
                r = self.report([self.entry(token)])
                self.assertEqual(r.json[0]["label"], "true_positive")
                self.assertIsNone(admin.get("/api/v1/sandbox/token").json["token"])
                ok, _ = self.server.verify(token)
                self.assertFalse(ok)
                self.assertEqual(self.submit(token).status, 401)

    def test_provider_api_and_cli_report_for_other_scanners(self):
        org, admin, _ = self.new_org("Leak Other Scanners")
        token = self.reveal(admin)
        p = self.provider()
        # Organization users do not see the route.
        self.assertEqual(admin.post("/api/v1/provider/leak-reports", {"token": token, "url": "https://x"}).status, 404)
        self.assertEqual(self.submit(token).status, 200)
        r = p.post("/api/v1/provider/leak-reports",
                   {"token": token, "url": "https://gitlab.example.com/t/a/-/blob/main/.env", "source": "gitleaks"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"label": "true_positive", "action": "REVOKED", "orgId": org, "tokenLast4": token[-4:]})
        self.assertEqual(self.submit(token).status, 401)
        r = p.post("/api/v1/provider/leak-reports", {"token": token, "url": "https://x"})
        self.assertEqual(r.json["label"], "false_positive")
        self.assertIsNone(r.json["action"])
        self.assertError(p.post("/api/v1/provider/leak-reports", {"token": token}), 400, "MISSING_FIELD")
        self.assertError(p.post("/api/v1/provider/leak-reports", {"token": token, "url": ""}), 400, "INVALID_FIELD")
        lr = admin.get("/api/v1/sandbox/token").json["leakReport"]
        self.assertEqual((lr["source"], lr["action"]), ("gitleaks", "REVOKED"))
        # The CLI, beside the running server: never echoes the token.
        r = admin.post("/api/v1/sandbox/token")
        self.assertEqual(r.status, 201, r)
        token2 = self.reveal(admin)
        code, out, err = self.server.cli("token", "report-leak", "-", "--source", "https://example.com/paste/1",
                                         input=token2 + "\n")
        self.assertEqual(code, 0, err)
        self.assertIn("true_positive", out)
        self.assertIn(token2[-4:], out)
        self.assertNotIn(token2, out + err)
        self.assertEqual(self.submit(token2).status, 401)  # the server saw the CLI's change at once
        code, out, err = self.server.cli("token", "report-leak", token2, "--source", "https://example.com/paste/1")
        self.assertEqual(code, 0, err)
        self.assertIn("false_positive", out)
        self.assertNotIn(token2, out + err)
        items = self.audit(admin)
        self.assertEqual(len(items), 2, items)
        self.assertEqual(items[0]["detail"].count("https://example.com/paste/1"), 1)


class KeysFromUrlTest(unittest.TestCase):
    """secret_scanning_keys_url: fetched at start, and again when a report names an unknown key
    (GitHub rotated), at most once a minute."""

    def test_keys_are_fetched_and_refetched_for_an_unknown_key_id(self):
        d = tempfile.mkdtemp(prefix="sandgate-scan-url-")
        first, second = KeyPair(d, "first"), KeyPair(d, "second")
        ks = KeyServer(key_document([("k1", first)]))
        server = Server(extra_args=["--secret-scanning-keys-url", ks.url])
        try:
            server.start()
            self.assertEqual(ks.fetches, 1)
            admin = server.login("acme-admin")
            token = admin.get("/api/v1/sandbox/token/reveal").json["token"]
            server.secrets.add(token)

            def send(kp, kid, entries):
                body = json.dumps(entries).encode()
                c = server.client()
                r = c.request("POST", PATH, raw=body, headers={
                    "Content-Type": "application/json", "Github-Public-Key-Identifier": kid,
                    "Github-Public-Key-Signature": kp.sign(body)})
                c.close()
                return r

            # GitHub starts signing with a new key: the server fetches the document again.
            ks.document = key_document([("k2", second), ("k1", first)])
            r = send(second, "k2", [{"token": "sbx_unknown", "type": "t"}])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(ks.fetches, 2)
            # Another unknown key id within the minute: no fetch, 401.
            r = send(second, "k3", [{"token": "sbx_unknown", "type": "t"}])
            self.assertEqual(r.status, 401, r)
            self.assertEqual(ks.fetches, 2)
            # The old key still verifies; the live token is revoked.
            r = send(first, "k1", [{"token": token, "type": "t", "url": "https://github.com/a/b", "source": "commit"}])
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json[0]["label"], "true_positive")
            self.assertIsNone(admin.get("/api/v1/sandbox/token").json["token"])
            server.assert_no_secrets_in_log(self)
        finally:
            server.cleanup()
            ks.stop()
            shutil.rmtree(d, ignore_errors=True)

    def test_not_configured_is_404(self):
        server = Server().start()
        try:
            c = server.client()
            r = c.request("POST", PATH, raw=b"[]", headers={"Content-Type": "application/json"})
            self.assertEqual(r.status, 404, r)
            self.assertEqual(r.json["code"], "NOT_CONFIGURED")
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
