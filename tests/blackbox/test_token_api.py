"""The organization's token through the admin API: rules 1-10 of issue #2, over real HTTP."""
import re
import unittest

from harness import ServerTestCase


class TokenApiTest(ServerTestCase):
    def test_demo_org_has_a_provisioned_enabled_token(self):
        admin = self.server.login("acme-admin")
        r = admin.get("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        v = r.json
        self.assertEqual(v["orgName"], "Acme Corp")
        self.assertEqual(v["status"], "ENABLED")
        self.assertIsNone(v["statusReason"])
        self.assertEqual(v["lastModifiedBy"], "system")
        self.assertRegex(v["lastModifiedOn"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(v["baseUrl"], f"http://127.0.0.1:{self.server.port}")
        self.assertEqual(v["subscription"]["state"], "ACTIVE")
        self.assertTrue(v["token"]["masked"].startswith("sbx_"))
        self.assertEqual(len(v["token"]["last4"]), 4)
        self.assertEqual(v["allowedActions"], ["READ", "REVEAL", "REGENERATE", "DELETE", "READ_AUDIT"])
        # The masked view never contains the token.
        tok = self.reveal(admin)
        self.assertNotIn(tok, r.raw)
        self.assertTrue(tok.endswith(v["token"]["last4"]))

    def test_reveal_regenerate_delete_add(self):
        org, admin, viewer = self.new_org("Reveal Co")
        first = self.reveal(admin)
        self.assertRegex(first, r"^sbx_[0-9A-Za-z]{49}$")
        self.assertTrue(self.server.verify(first)[0])
        # Regenerate: the old string is refused from the moment the call returns.
        r = admin.put("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["lastModifiedBy"], "revealco-admin")
        second = self.reveal(admin)
        self.assertNotEqual(first, second)
        ok, out = self.server.verify(first)
        self.assertFalse(ok)
        self.assertIn("Invalid API token", out)
        self.assertTrue(self.server.verify(second)[0])
        # Add while one exists.
        self.assertError(admin.post("/api/v1/sandbox/token"), 409, "TOKEN_EXISTS")
        self.assertEqual(admin.post("/api/v1/sandbox/token").json["message"],
                         "Delete the existing token before adding a new one.")
        # Delete: removed and refused at once.
        r = admin.delete("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json["token"])
        self.assertIn("ADD", r.json["allowedActions"])
        self.assertFalse(self.server.verify(second)[0])
        self.assertError(admin.get("/api/v1/sandbox/token/reveal"), 404, "TOKEN_NOT_FOUND")
        self.assertError(admin.put("/api/v1/sandbox/token"), 404, "TOKEN_NOT_FOUND")
        self.assertError(admin.delete("/api/v1/sandbox/token"), 404, "TOKEN_NOT_FOUND")
        # Add only when none exists.
        r = admin.post("/api/v1/sandbox/token")
        self.assertEqual(r.status, 201, r)
        third = self.reveal(admin)
        self.assertTrue(self.server.verify(third)[0])
        # Every reveal and change is audited, with the fingerprint and never the token.
        r = admin.get("/api/v1/auditLog?limit=50")
        self.assertEqual(r.status, 200, r)
        actions = [(a["action"], a["outcome"]) for a in r.json["items"]]
        self.assertEqual(actions.count(("TOKEN_REVEAL", "ALLOWED")), 3)
        for a in ("TOKEN_REGENERATE", "TOKEN_DELETE", "TOKEN_ADD"):
            self.assertIn((a, "ALLOWED"), actions)
        self.assertIn(("TOKEN_ADD", "TOKEN_EXISTS"), actions)
        for tok in (first, second, third):
            self.assertNotIn(tok, r.raw)
        reveal = next(a for a in r.json["items"] if a["action"] == "TOKEN_REVEAL")
        self.assertEqual(reveal["tokenFingerprint"], third[-4:])
        self.assertEqual(reveal["clientAddress"], "127.0.0.1")
        self.assertEqual(reveal["actor"], "revealco-admin")

    def test_readonly_user_reads_but_cannot_reveal_or_change(self):
        org, admin, viewer = self.new_org("Viewer Co")
        r = viewer.get("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["allowedActions"], ["READ"])  # no audit log (issue #14, finding 10)
        self.assertError(viewer.get("/api/v1/sandbox/token/reveal"), 403, "FORBIDDEN")
        self.assertError(viewer.put("/api/v1/sandbox/token"), 403, "FORBIDDEN")
        self.assertError(viewer.delete("/api/v1/sandbox/token"), 403, "FORBIDDEN")
        self.assertError(viewer.post("/api/v1/sandbox/token"), 403, "FORBIDDEN")
        # Refusals are audited.
        r = admin.get("/api/v1/auditLog?action=TOKEN_REVEAL")
        self.assertIn("FORBIDDEN", [a["outcome"] for a in r.json["items"]])

    def test_no_subscription(self):
        org, admin, viewer = self.new_org("Nosub Co", activate=False)
        r = admin.get("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json["token"])
        self.assertEqual(r.json["subscription"]["state"], "NONE")
        self.assertEqual(r.json["statusReason"], "NO_SUBSCRIPTION")
        self.assertEqual(r.json["allowedActions"], ["READ", "READ_AUDIT"])
        for m in ("POST", "PUT", "DELETE"):
            self.assertError(admin.request(m, "/api/v1/sandbox/token"), 403, "NO_SUBSCRIPTION")

    def test_provider_disable_blocks_changes_and_authentication(self):
        org, admin, viewer = self.new_org("Disabled Co")
        tok = self.reveal(admin)
        p = self.provider()
        r = p.post(f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "TERMS_VIOLATION", "note": "abuse report 42"})
        self.assertEqual(r.status, 200, r)
        r = admin.get("/api/v1/sandbox/token")
        self.assertEqual(r.json["status"], "DISABLED")
        self.assertEqual(r.json["statusReason"], "PROVIDER")
        self.assertEqual(r.json["disableReason"], "TERMS_VIOLATION")
        self.assertNotIn("disableNote", r.json)  # the provider's note is the provider's
        self.assertEqual(r.json["allowedActions"], ["READ", "REVEAL", "READ_AUDIT"])
        for m in ("POST", "PUT", "DELETE"):
            r = admin.request(m, "/api/v1/sandbox/token")
            self.assertError(r, 403, "TOKEN_DISABLED")
            self.assertIn("contact your service provider", r.json["message"])
        ok, out = self.server.verify(tok)
        self.assertFalse(ok)
        self.assertIn("API token disabled by your service provider", out)
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "OTHER"}), 409,
                         "TOKEN_ALREADY_DISABLED")
        # Only the provider enables it again; the same token works.
        self.assertEqual(p.post(f"/api/v1/provider/orgs/{org}/token/enable").status, 200)
        self.assertTrue(self.server.verify(tok)[0])
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/token/enable"), 409, "TOKEN_NOT_DISABLED")
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)

    def test_disabling_an_org_without_token_blocks_add(self):
        org, admin, viewer = self.new_org("Notoken Co")
        self.assertEqual(admin.delete("/api/v1/sandbox/token").status, 200)
        p = self.provider()
        self.assertEqual(p.post(f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "QUOTA_THRESHOLD"}).status, 200)
        self.assertError(admin.post("/api/v1/sandbox/token"), 403, "TOKEN_DISABLED")
        self.assertEqual(p.post(f"/api/v1/provider/orgs/{org}/token/enable").status, 200)
        self.assertEqual(admin.post("/api/v1/sandbox/token").status, 201)

    def test_expired_subscription_keeps_token_valid_but_disabled(self):
        org, admin, viewer = self.new_org("Expiring Co")
        tok = self.reveal(admin)
        p = self.provider()
        r = p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "expire"})
        self.assertEqual(r.status, 200, r)
        r = admin.get("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["subscription"]["state"], "EXPIRED")
        self.assertEqual(r.json["status"], "DISABLED")
        self.assertEqual(r.json["statusReason"], "SUBSCRIPTION_EXPIRED")
        self.assertIsNotNone(r.json["token"])
        for m in ("POST", "PUT", "DELETE"):
            self.assertError(admin.request(m, "/api/v1/sandbox/token"), 403, "SUBSCRIPTION_EXPIRED")
        ok, out = self.server.verify(tok)
        self.assertFalse(ok)
        self.assertIn("Sandbox subscription expired", out)
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "expire"}), 409,
                         "SUBSCRIPTION_NOT_ACTIVE")
        # Renewal: the same token works again, unchanged.
        r = p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "renew", "endsAt": "2099-01-01T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.server.verify(tok)[0])
        self.assertEqual(self.reveal(admin), tok)
        # ... unless the provider disabled it meanwhile.
        p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "expire"})
        p.post(f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "OTHER"})
        p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "renew"})
        ok, out = self.server.verify(tok)
        self.assertFalse(ok)
        self.assertIn("disabled by your service provider", out)

    def test_end_date_expires_without_any_job(self):
        # The clock file moves the server's (and the CLI's) clock forward.
        import datetime
        now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=self.server.clock_offset)
        ends = (now + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        org, admin, viewer = self.new_org("Enddate Co", ends_at=ends)
        tok = self.reveal(admin)
        self.assertTrue(self.server.verify(tok)[0])
        self.assertEqual(admin.get("/api/v1/sandbox/token").json["subscription"]["endsAt"], ends)
        self.server.advance(3601)
        try:
            self.assertError(admin.get("/api/v1/sandbox/token"), 401, "SESSION_EXPIRED")  # idle > 30 min
            admin = self.server.login("enddateco-admin")
            r = admin.get("/api/v1/sandbox/token")
            self.assertEqual(r.json["subscription"]["state"], "EXPIRED")
            self.assertError(admin.put("/api/v1/sandbox/token"), 403, "SUBSCRIPTION_EXPIRED")
            self.assertIn("Sandbox subscription expired", self.server.verify(tok)[1])
        finally:
            self.server.advance(-3601)

    def test_a_token_in_a_request_path_is_neither_logged_nor_audited(self):
        org, admin, _ = self.new_org("Path Token Co")
        tok = self.reveal(admin)
        # A provider route asked for by an organization user: 404, audited with the path.
        self.assertError(admin.get(f"/api/v1/provider/orgs/{tok}"), 404, "NOT_FOUND")
        self.assertEqual(admin.get(f"/zscsb/{tok}").status, 404)  # and an unknown path
        audit = self.provider().get(f"/api/v1/provider/auditLog?orgId={org}")
        self.assertEqual(audit.status, 200, audit)
        self.assertNotIn(tok, audit.raw)
        self.assertIn("/api/v1/provider/orgs/sbx_[redacted]", audit.raw)
        self.server.assert_no_secrets_in_log(self)

    def test_zz_no_secret_in_log(self):
        self.server.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
