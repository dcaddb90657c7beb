"""Provider API, users, tenant isolation on every endpoint, CSRF, sessions, bad input."""
import json
import unittest

from harness import ServerTestCase

ORG_ENDPOINTS = [
    ("GET", "/api/v1/sandbox/token"),
    ("GET", "/api/v1/sandbox/token/reveal"),
    ("POST", "/api/v1/sandbox/token"),
    ("PUT", "/api/v1/sandbox/token"),
    ("DELETE", "/api/v1/sandbox/token"),
    ("GET", "/api/v1/auditLog"),
]


def provider_endpoints(org, uid):
    return [
        ("GET", "/api/v1/provider/orgs", None),
        ("POST", "/api/v1/provider/orgs", {"name": "Sneaky"}),
        ("GET", f"/api/v1/provider/orgs/{org}", None),
        ("PATCH", f"/api/v1/provider/orgs/{org}", {"name": "Renamed"}),
        ("POST", f"/api/v1/provider/orgs/{org}/subscription", {"action": "expire"}),
        ("POST", f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "OTHER"}),
        ("POST", f"/api/v1/provider/orgs/{org}/token/enable", None),
        ("GET", f"/api/v1/provider/orgs/{org}/users", None),
        ("POST", f"/api/v1/provider/orgs/{org}/users", {"username": "sneaky", "role": "ORG_ADMIN"}),
        ("PATCH", f"/api/v1/provider/orgs/{org}/users/{uid}", {"role": "ORG_ADMIN"}),
        ("POST", f"/api/v1/provider/orgs/{org}/users/{uid}/password", None),
        ("DELETE", f"/api/v1/provider/orgs/{org}/users/{uid}", None),
        ("GET", "/api/v1/provider/auditLog", None),
        ("GET", "/api/v1/provider/overview", None),
    ]


class ProviderApiTest(ServerTestCase):
    def test_health(self):
        c = self.server.client()
        r = c.get("/healthz")
        self.assertEqual((r.status, r.json), (200, {"status": "ok"}))
        r = c.get("/readyz")
        self.assertEqual((r.status, r.json["status"]), (200, "ready"))
        # The analysis engine's detail (issue #15): the shipped rules, nothing skipped.
        self.assertEqual(r.json["analysis"]["rules"], 15)
        self.assertEqual(r.json["analysis"]["ruleFilesSkipped"], [])
        self.assertEqual({k: v["state"] for k, v in r.json["checks"].items()},
                         {"storeReads": "ok", "storeWrites": "ok", "indexTrusted": "ok",
                          "engineLoaded": "ok"})
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")
        self.assertEqual(r.headers["x-frame-options"], "DENY")

    def test_orgs_create_list_search_page_get_patch(self):
        p = self.provider()
        ids = []
        for i in range(7):
            r = p.post("/api/v1/provider/orgs", {"name": f"Paging Org {i}"})
            self.assertEqual(r.status, 201, r)
            self.assertEqual(r.json["subscription"]["state"], "NONE")
            self.assertIsNone(r.json["token"])
            ids.append(r.json["id"])
        self.assertError(p.post("/api/v1/provider/orgs", {"name": "paging org 0"}), 409, "ORG_EXISTS")
        self.assertError(p.post("/api/v1/provider/orgs", {"name": ""}), 400, "INVALID_NAME")
        r = p.get("/api/v1/provider/orgs?search=paging%20ORG&pageSize=3&page=2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["total"], 7)
        self.assertEqual([o["id"] for o in r.json["items"]], ids[3:6])
        self.assertError(p.get("/api/v1/provider/orgs?pageSize=0"), 400, "INVALID_PARAMETER")
        self.assertError(p.get("/api/v1/provider/orgs?page=x"), 400, "INVALID_PARAMETER")
        r = p.get(f"/api/v1/provider/orgs/{ids[0]}")
        self.assertEqual(r.json["settings"]["dailyAllowance"], 100)
        r = p.patch(f"/api/v1/provider/orgs/{ids[0]}", {"name": "Paging Org Zero", "dailyAllowance": 250,
                                                        "ratePerSecond": 2, "ratePerHour": 500, "disableThreshold": 7})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["name"], "Paging Org Zero")
        self.assertEqual(r.json["settings"], {"dailyAllowance": 250, "ratePerSecond": 2, "ratePerHour": 500,
                                              "disableThreshold": 7})
        self.assertError(p.patch(f"/api/v1/provider/orgs/{ids[0]}", {"dailyAllowance": -1}), 400, "INVALID_SETTING")
        self.assertError(p.get("/api/v1/provider/orgs/999999"), 404, "NOT_FOUND")
        self.assertError(p.get("/api/v1/provider/orgs/abc"), 404, "NOT_FOUND")

    def test_subscription_lifecycle_and_provisioning(self):
        p = self.provider()
        org = p.post("/api/v1/provider/orgs", {"name": "Lifecycle Co"}).json["id"]
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "renew"}), 409,
                         "SUBSCRIPTION_NOT_STARTED")
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "bogus"}), 400, "INVALID_FIELD")
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "activate", "endsAt": "2001-01-01"}),
                         400, "INVALID_END_DATE")
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "activate", "endsAt": "soon"}),
                         400, "INVALID_FIELD")
        r = p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "activate", "endsAt": "2099-12-31T00:00:00Z"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["subscription"], {"state": "ACTIVE", "endsAt": "2099-12-31T00:00:00Z"})
        self.assertEqual(r.json["status"], "ENABLED")
        self.assertEqual(r.json["lastModifiedBy"], "system")
        self.assertIsNotNone(r.json["token"])
        self.assertNotIn("REVEAL", r.json["allowedActions"])  # the provider never sees a token
        self.assertIn("DISABLE", r.json["allowedActions"])
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "activate"}), 409,
                         "SUBSCRIPTION_EXISTS")
        # The provider cannot reveal or change the token through the organization API.
        self.assertError(p.get("/api/v1/sandbox/token"), 403, "FORBIDDEN")
        r = p.get(f"/api/v1/provider/auditLog?orgId={org}")
        actions = [a["action"] for a in r.json["items"]]
        self.assertIn("TOKEN_PROVISION", actions)
        self.assertIn("SUBSCRIPTION_ACTIVATE", actions)
        prov = next(a for a in r.json["items"] if a["action"] == "TOKEN_PROVISION")
        self.assertEqual(prov["actor"], "system")

    def test_users_create_list_role_reset_delete(self):
        org, admin, viewer = self.new_org("Users Co")
        p = self.provider()
        r = p.post(f"/api/v1/provider/orgs/{org}/users", {"username": "usersco-new", "role": "ORG_READONLY",
                                                          "password": "a-long-enough-password"})
        self.assertEqual(r.status, 201, r)
        self.assertNotIn("password", r.json)
        uid = r.json["id"]
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/users", {"username": "usersco-new", "role": "ORG_ADMIN"}),
                         409, "USER_EXISTS")
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/users", {"username": "x y", "role": "ORG_ADMIN"}),
                         400, "INVALID_USERNAME")
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/users", {"username": "short", "role": "ORG_ADMIN",
                                                                      "password": "short"}), 400, "WEAK_PASSWORD")
        self.assertError(p.post(f"/api/v1/provider/orgs/{org}/users", {"username": "boss", "role": "PROVIDER_ADMIN"}),
                         400, "INVALID_FIELD")
        r = p.get(f"/api/v1/provider/orgs/{org}/users")
        self.assertEqual([u["username"] for u in r.json["items"]], ["usersco-admin", "usersco-viewer", "usersco-new"])
        new = self.server.login("usersco-new", "a-long-enough-password")
        self.assertError(new.get("/api/v1/sandbox/token/reveal"), 403, "FORBIDDEN")
        r = p.patch(f"/api/v1/provider/orgs/{org}/users/{uid}", {"role": "ORG_ADMIN"})
        self.assertEqual((r.status, r.json["role"]), (200, "ORG_ADMIN"))
        # A role change ends the user's sessions.
        self.assertError(new.get("/api/v1/sandbox/token"), 401, "UNAUTHENTICATED")
        new = self.server.login("usersco-new", "a-long-enough-password")
        self.assertEqual(new.get("/api/v1/sandbox/token/reveal").status, 200)
        r = p.post(f"/api/v1/provider/orgs/{org}/users/{uid}/password")
        self.assertEqual(r.status, 200, r)
        self.server.secrets.add(r.json["password"])
        self.assertError(new.get("/api/v1/sandbox/token"), 401, "UNAUTHENTICATED")
        self.assertEqual(self.server.client().login("usersco-new", "a-long-enough-password").status, 401)
        self.assertEqual(self.server.client().login("usersco-new", r.json["password"]).status, 200)
        self.assertEqual(p.delete(f"/api/v1/provider/orgs/{org}/users/{uid}").status, 204)
        self.assertError(p.delete(f"/api/v1/provider/orgs/{org}/users/{uid}"), 404, "NOT_FOUND")
        self.assertEqual(self.server.client().login("usersco-new", r.json["password"]).status, 401)

    def test_tenant_isolation_on_every_endpoint(self):
        org_a, admin_a, viewer_a = self.new_org("Tenant A")
        org_b, admin_b, viewer_b = self.new_org("Tenant B")
        p = self.provider()
        uid_b = p.get(f"/api/v1/provider/orgs/{org_b}/users").json["items"][0]["id"]
        tok_b = self.reveal(admin_b)
        before = p.get(f"/api/v1/provider/orgs/{org_b}").json
        for client in (admin_a, viewer_a):
            # Organization endpoints only ever act on the caller's own organization.
            for method, path in ORG_ENDPOINTS:
                r = client.request(method, path)
                self.assertNotIn(tok_b, r.raw)
                self.assertNotIn("Tenant B", r.raw)
            # Every provider endpoint, aimed at organization B: 404.
            for method, path, body in provider_endpoints(org_b, uid_b):
                r = client.request(method, path, body)
                self.assertError(r, 404, "NOT_FOUND")
        # Nothing of B changed and B's token still works.
        after = p.get(f"/api/v1/provider/orgs/{org_b}").json
        self.assertEqual(before, after)
        self.assertTrue(self.server.verify(tok_b)[0])
        # A's audit log shows A only.
        r = admin_a.get("/api/v1/auditLog?limit=1000")
        self.assertTrue(all(a["orgId"] in (org_a, None) for a in r.json["items"]), r)
        self.assertTrue(all(a["orgId"] == org_a for a in r.json["items"]))
        # The provider sees the refusals.
        r = p.get("/api/v1/provider/auditLog?action=PROVIDER_API&limit=1000")
        self.assertGreaterEqual(len(r.json["items"]), 26)
        # A provider user id from another org is not reachable through this org either.
        self.assertError(p.delete(f"/api/v1/provider/orgs/{org_a}/users/{uid_b}"), 404, "NOT_FOUND")

    def test_csrf(self):
        org, admin, viewer = self.new_org("Csrf Co")
        self.assertError(admin.put("/api/v1/sandbox/token", csrf=False), 403, "CSRF_INVALID")
        self.assertError(admin.put("/api/v1/sandbox/token", csrf=False, headers={"X-CSRF-Token": "forged"}), 403,
                         "CSRF_INVALID")
        other = self.server.login("csrfco-viewer")
        self.assertError(admin.put("/api/v1/sandbox/token", csrf=False, headers={"X-CSRF-Token": other.csrf}), 403,
                         "CSRF_INVALID")
        self.assertError(admin.delete("/api/v1/authenticatedSession", csrf=False), 403, "CSRF_INVALID")
        # GET needs none; the session endpoint hands the token back after a reload.
        r = admin.get("/api/v1/authenticatedSession")
        self.assertEqual(r.json["csrfToken"], admin.csrf)
        self.assertEqual(r.json["user"]["role"], "ORG_ADMIN")
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)

    def test_csrf_on_post(self):
        # Issue 21 (survivor 6): POST is checked as PUT and DELETE are; a refused POST changes nothing.
        org, admin, viewer = self.new_org("Csrf Post Co")
        self.assertEqual(admin.delete("/api/v1/sandbox/token").status, 200)
        self.assertError(admin.post("/api/v1/sandbox/token", csrf=False), 403, "CSRF_INVALID")
        self.assertError(admin.post("/api/v1/sandbox/token", csrf=False, headers={"X-CSRF-Token": "forged"}), 403,
                         "CSRF_INVALID")
        self.assertIsNone(admin.get("/api/v1/sandbox/token").json["token"])
        p = self.provider()
        url = f"/api/v1/provider/orgs/{org}"
        self.assertEqual(admin.post("/api/v1/sandbox/token").status, 201)  # with the header: added
        self.assertError(p.post(f"{url}/token/disable", {"reason": "OTHER"}, csrf=False), 403, "CSRF_INVALID")
        r = p.get(url)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "ENABLED")
        self.assertEqual(p.post(f"{url}/token/disable", {"reason": "OTHER"}).status, 200)
        self.assertEqual(p.get(url).json["status"], "DISABLED")
        r = p.get(f"/api/v1/provider/auditLog?action=CSRF_CHECK&limit=1000")
        self.assertGreaterEqual(len([i for i in r.json["items"] if i["outcome"] == "CSRF_INVALID"]), 3, r)

    def test_login_logout_and_cookie_flags(self):
        c = self.server.client()
        r = c.login("acme-admin", self.server.logins["acme-admin"])
        self.assertEqual(r.status, 200)
        cookie = r.headers["set-cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        self.assertNotIn("Secure", cookie)  # plain HTTP on loopback
        self.assertEqual(c.get("/api/v1/authenticatedSession").json["user"]["username"], "acme-admin")
        self.assertEqual(c.delete("/api/v1/authenticatedSession").status, 204)
        self.assertError(c.get("/api/v1/authenticatedSession"), 401, "UNAUTHENTICATED")
        self.assertError(self.server.client().get("/api/v1/sandbox/token"), 401, "UNAUTHENTICATED")
        bad = self.server.client()
        bad.cookie = "not-a-session"
        self.assertError(bad.get("/api/v1/sandbox/token"), 401, "UNAUTHENTICATED")

    def test_login_throttling_per_username_and_address(self):
        p = self.provider()
        org = p.post("/api/v1/provider/orgs", {"name": "Throttle Co"}).json["id"]
        r = p.post(f"/api/v1/provider/orgs/{org}/users", {"username": "throttled", "role": "ORG_ADMIN",
                                                          "password": "correct-horse-battery"})
        self.assertEqual(r.status, 201)
        c = self.server.client()
        for _ in range(5):
            self.assertError(c.login("throttled", "wrong-password-123"), 401, "INVALID_CREDENTIALS")
        # The pair now waits 1 s after its 5th failure, which an argon2 check on a loaded machine
        # can outlast: look from just after the failures (the test clock moved back a little).
        self.server.advance(-30)
        try:
            r = c.login("THROTTLED", "wrong-password-123")  # the case of the name does not matter
            self.assertError(r, 429, "TOO_MANY_ATTEMPTS")
            self.assertGreaterEqual(int(r.headers["retry-after"]), 1)
            # Even the right password waits.
            self.assertError(c.login("throttled", "correct-horse-battery"), 429, "TOO_MANY_ATTEMPTS")
        finally:
            self.server.advance(30)
        self.server.advance(120)
        try:
            self.assertEqual(c.login("throttled", "correct-horse-battery").status, 200)
        finally:
            self.server.advance(-120)
        # Unknown users get the same answer as wrong passwords.
        self.assertError(self.server.client().login("nobody-here", "whatever-password"), 401, "INVALID_CREDENTIALS")
        r = p.get("/api/v1/provider/auditLog?action=LOGIN&limit=1000")
        outcomes = [a["outcome"] for a in r.json["items"]]
        self.assertIn("TOO_MANY_ATTEMPTS", outcomes)
        self.assertIn("INVALID_CREDENTIALS", outcomes)

    def test_session_idle_and_absolute_timeouts(self):
        c = self.server.login("acme-viewer")
        self.server.advance(29 * 60)
        try:
            self.assertEqual(c.get("/api/v1/sandbox/token").status, 200)  # touched: idle timer restarts
            self.server.advance(29 * 60)
            self.assertEqual(c.get("/api/v1/sandbox/token").status, 200)
            self.server.advance(31 * 60)
            self.assertError(c.get("/api/v1/sandbox/token"), 401, "SESSION_EXPIRED")
            # Absolute: active every 25 minutes, still ends after 12 hours.
            c = self.server.login("acme-viewer")
            for _ in range(40):
                self.server.advance(25 * 60)
                r = c.get("/api/v1/sandbox/token")
                if r.status != 200:
                    break
            self.assertError(r, 401, "SESSION_EXPIRED")
        finally:
            self.server.set_clock_offset(0)

    def test_bad_input_changes_nothing(self):
        p = self.provider()
        org = p.post("/api/v1/provider/orgs", {"name": "Input Co"}).json["id"]
        before = p.get(f"/api/v1/provider/orgs/{org}").json
        url = f"/api/v1/provider/orgs/{org}"
        ct = {"Content-Type": "application/json"}
        self.assertError(p.patch(url, raw=b"{not json", headers=ct), 400, "MALFORMED_JSON")
        self.assertError(p.patch(url, raw=b"[1,2]", headers=ct), 400, "INVALID_BODY")
        self.assertError(p.patch(url, {"name": 5}), 400, "INVALID_FIELD")
        self.assertError(p.patch(url, {"dailyAllowance": "10"}), 400, "INVALID_FIELD")
        self.assertError(p.patch(url, {"dailyAllowance": 1.5}), 400, "INVALID_FIELD")
        self.assertError(p.patch(url, {"name": "ok", "colour": "red"}), 400, "UNKNOWN_FIELD")
        self.assertError(p.patch(url, raw=b'{"name":"x"}', headers={"Content-Type": "text/plain"}), 415,
                         "UNSUPPORTED_MEDIA_TYPE")
        self.assertError(p.post(f"{url}/token/disable", {}), 400, "MISSING_FIELD")
        self.assertError(p.post(f"{url}/token/disable", {"reason": "BORED"}), 400, "INVALID_FIELD")
        big = json.dumps({"name": "x" * (65 * 1024)}).encode()
        self.assertError(p.patch(url, raw=big, headers=ct), 413, "PAYLOAD_TOO_LARGE")
        self.assertError(p.get("/api/v1/nothing-here"), 404, "NOT_FOUND")
        r = p.request("DELETE", "/api/v1/provider/orgs")
        self.assertError(r, 405, "METHOD_NOT_ALLOWED")
        self.assertEqual(r.headers["allow"], "GET, POST")
        r = p.request("POST", "/api/v1/sandbox/token/reveal")
        self.assertEqual(r.headers["allow"], "GET")
        self.assertError(p.post("/api/v1/authenticatedSession", {"username": "a"}), 400, "MISSING_FIELD")
        self.assertEqual(p.get(f"/api/v1/provider/orgs/{org}").json, before)
        self.assertError(p.get("/api/v1/provider/auditLog?from=yesterday"), 400, "INVALID_PARAMETER")

    def test_audit_filters(self):
        p = self.provider()
        org, admin, viewer = self.new_org("Audit Co")
        admin.put("/api/v1/sandbox/token")
        r = p.get(f"/api/v1/provider/auditLog?orgId={org}&action=TOKEN_REGENERATE")
        self.assertEqual(len(r.json["items"]), 1)
        self.assertEqual(r.json["items"][0]["actor"], "auditco-admin")
        r = p.get("/api/v1/provider/auditLog?actor=auditco-admin")
        self.assertTrue(r.json["items"])
        self.assertTrue(all(a["actor"] == "auditco-admin" for a in r.json["items"]))
        r = p.get("/api/v1/provider/auditLog?limit=2")
        self.assertEqual(len(r.json["items"]), 2)
        first, second = r.json["items"]
        self.assertGreater(first["id"], second["id"])
        r = p.get(f"/api/v1/provider/auditLog?limit=1&beforeId={second['id']}")
        self.assertLess(r.json["items"][0]["id"], second["id"])
        r = p.get("/api/v1/provider/auditLog?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z")
        self.assertEqual(r.json["items"], [])

    def test_zz_no_secret_in_log(self):
        self.server.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
