"""The token page's data for issue 18 (organization side), over real HTTP: the 30-day usage
history (GET /api/v1/sandbox/usage), the session's idle timeout and the background refresh that
does not extend it, the provider's support contact (config keys) and the automatic disable."""
import datetime
import os
import subprocess
import tempfile
import time
import unittest

from harness import BIN, Server, ServerTestCase


def utc_date(offset_seconds):
    return datetime.datetime.fromtimestamp(time.time() + offset_seconds, datetime.timezone.utc).strftime("%Y-%m-%d")


class UsageApiTest(ServerTestCase):
    def submit(self, token, n, tag):
        c = self.server.client()
        out = []
        for i in range(n):
            r = c.request("POST", "/zscsb/submit?api_token=" + token, raw=f"usage {tag} {i} {time.time()}\n".encode())
            out.append(r.status)
        return out

    def test_usage_history_counts_days_refusals_and_the_threshold(self):
        self.server.clear_of_midnight()
        org, admin, viewer = self.new_org("Usage Co")
        p = self.provider()
        r = p.patch(f"/api/v1/provider/orgs/{org}",
                    {"dailyAllowance": 3, "disableThreshold": 2, "ratePerSecond": 1000, "ratePerHour": 10000})
        self.assertEqual(r.status, 200, r)
        token = self.reveal(admin)
        r = admin.get("/api/v1/sandbox/usage")
        self.assertEqual(r.status, 200, r)
        u = r.json
        self.assertEqual(len(u["days"]), 30)
        self.assertEqual(u["days"][-1]["date"], utc_date(self.server.clock_offset))
        self.assertEqual(u["days"][0]["date"], utc_date(self.server.clock_offset - 29 * 86400))
        self.assertEqual((u["usedToday"], u["allowed"], u["disableThreshold"]), (0, 3, 2))
        self.assertEqual(u["overQuotaCallsBeforeDisable"], 3)
        self.assertRegex(u["resetsAt"], r"^\d{4}-\d\d-\d\dT00:00:00Z$")
        self.assertTrue(0 < u["resetsInSeconds"] <= 86400, u)

        self.assertEqual(self.submit(token, 4, "a"), [200, 200, 200, 429])
        u = viewer.get("/api/v1/sandbox/usage").json  # read-only users see it too
        self.assertEqual(u["days"][-1], {"date": u["days"][-1]["date"], "accepted": 3, "refused": 1})
        self.assertEqual(u["usedToday"], 3)
        self.assertEqual(u["refusedToday"], {"quota": 1, "rate": 0})
        self.assertEqual(u["overQuotaCallsBeforeDisable"], 2)
        # Two more over-quota calls: the second crosses the threshold and disables the token.
        self.assertEqual(self.submit(token, 2, "b"), [429, 429])
        u = admin.get("/api/v1/sandbox/usage").json
        self.assertEqual(u["refusedToday"]["quota"], 3)
        self.assertEqual(u["overQuotaCallsBeforeDisable"], 0)
        v = admin.get("/api/v1/sandbox/token").json
        self.assertTrue(v["disabledByProvider"])
        self.assertEqual(v["disableReason"], "QUOTA_THRESHOLD")
        self.assertIs(v["disabledAutomatically"], True)
        # A person's disable is not automatic.
        p.post(f"/api/v1/provider/orgs/{org}/token/enable", {})
        p.post(f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "QUOTA_THRESHOLD"})
        self.assertIs(admin.get("/api/v1/sandbox/token").json["disabledAutomatically"], False)

        # A day later, yesterday's figures are one place back and today starts at zero.
        self.server.advance(86400)
        admin = self.server.login("usageco-admin")  # the session ended with the day
        u = admin.get("/api/v1/sandbox/usage").json
        self.assertEqual((u["days"][-2]["accepted"], u["days"][-2]["refused"]), (3, 3))
        self.assertEqual((u["days"][-1]["accepted"], u["days"][-1]["refused"]), (0, 0))
        self.assertEqual(u["refusedToday"], {"quota": 0, "rate": 0})

    def test_usage_is_for_organization_users_only(self):
        self.assertEqual(self.server.client().get("/api/v1/sandbox/usage").status, 401)
        self.assertError(self.provider().get("/api/v1/sandbox/usage"), 403, "FORBIDDEN")

    def test_idle_timeout_is_announced_and_background_refreshes_do_not_extend_it(self):
        r = self.server.client().login("acme-admin", self.server.logins["acme-admin"])
        self.assertEqual(r.json["idleTimeoutSeconds"], 1800)
        quiet = self.server.login("acme-admin")
        busy = self.server.login("acme-admin")
        self.assertEqual(quiet.get("/api/v1/authenticatedSession").json["idleTimeoutSeconds"], 1800)
        self.server.advance(20 * 60)
        bg = {"X-Sandgate-Background": "1"}
        self.assertEqual(quiet.get("/api/v1/sandbox/token", headers=bg).status, 200)
        self.assertEqual(busy.get("/api/v1/sandbox/token").status, 200)
        self.server.advance(15 * 60)  # 35 minutes after sign-in, 15 after the last request
        self.assertError(quiet.get("/api/v1/sandbox/token", headers=bg), 401, "SESSION_EXPIRED")
        self.assertEqual(busy.get("/api/v1/sandbox/token").status, 200)


class SupportContactTest(unittest.TestCase):
    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["code"], code, r)
        self.assertTrue(r.json["message"], r)

    def test_support_contact_from_the_config_file(self):
        cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        cfg.write('support_name = "Example Support"\nsupport_email = "help@example.com"\n')
        cfg.close()
        self.addCleanup(os.unlink, cfg.name)
        path = cfg.name
        server = Server(extra_args=["--config", path])
        try:
            server.start()
            v = server.login("acme-admin").get("/api/v1/sandbox/token").json
            self.assertEqual(v["supportContact"], {"name": "Example Support", "email": "help@example.com"})
            # The provider reads it apart; its own view of the organization does not carry it.
            provider = server.login("provider")
            self.assertNotIn("supportContact", provider.get("/api/v1/provider/orgs/1").json)
            r = provider.get("/api/v1/provider/supportContact")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json, {"contact": {"name": "Example Support", "email": "help@example.com"},
                                      "source": "configFile", "updatedAt": None, "updatedBy": None,
                                      "configFile": {"name": "Example Support", "email": "help@example.com"}})
            # Organization users get 404 for the provider API.
            self.assertEqual(server.login("acme-admin").get("/api/v1/provider/supportContact").status, 404)
            p = subprocess.run([BIN, "config", "check", path], capture_output=True, text=True, timeout=120)
            code, out, err = p.returncode, p.stdout, p.stderr
            self.assertEqual(code, 0, err)
            self.assertIn('support_email = "help@example.com"', out)
            self.assertIn('support_phone = ""', out)
        finally:
            server.cleanup()

    def test_no_support_contact_without_config(self):
        server = Server().start()
        try:
            v = server.login("acme-admin").get("/api/v1/sandbox/token").json
            self.assertNotIn("supportContact", v)
            self.assertEqual(server.login("provider").get("/api/v1/provider/supportContact").json,
                             {"contact": {}, "source": "configFile", "updatedAt": None, "updatedBy": None,
                              "configFile": {}})
        finally:
            server.cleanup()

    def test_console_contact_overrides_the_config_file_until_reset(self):
        cfg = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        cfg.write('support_name = "Config Support"\nsupport_phone = "+1 555 0100"\n')
        cfg.close()
        self.addCleanup(os.unlink, cfg.name)
        server = Server(extra_args=["--config", cfg.name])
        try:
            server.start()
            provider = server.login("provider")
            org_admin = server.login("acme-admin")
            url = "/api/v1/provider/supportContact"
            body = {"name": "Console Desk", "email": "desk@example.com",
                    "url": "https://desk.example.com/help?x=1", "phone": ""}

            # Organization users: 404 for every method; no CSRF token: 403; nothing changes.
            for m in ("GET", "PUT", "DELETE"):
                self.assertError(org_admin.request(m, url, body if m == "PUT" else None), 404, "NOT_FOUND")
            self.assertError(provider.put(url, body, csrf=False), 403, "CSRF_INVALID")
            # Strict body: every field, strings only, nothing else.
            self.assertError(provider.put(url, {"name": "x"}), 400, "MISSING_FIELD")
            self.assertError(provider.put(url, dict(body, colour="red")), 400, "UNKNOWN_FIELD")
            self.assertError(provider.put(url, dict(body, phone=5)), 400, "INVALID_FIELD")
            # Field-level refusals: each refused field named, nothing saved, nothing audited.
            r = provider.put(url, {"name": " lead", "email": "desk@", "url": "ftp://desk.example.com",
                                   "phone": "call me"})
            self.assertError(r, 400, "INVALID_SUPPORT_CONTACT")
            self.assertEqual([f["field"] for f in r.json["fields"]], ["name", "email", "url", "phone"])
            self.assertTrue(all(f["message"] for f in r.json["fields"]))
            for bad in ({"url": "javascript:alert(1)"}, {"url": "https://user@evil.example/"},
                        {"email": "a" * 250 + "@example.com"}, {"name": "n" * 101},
                        {"name": "rtl\u202eoverride"}, {"phone": "1" * 41}):
                r = provider.put(url, dict(body, **bad))
                self.assertError(r, 400, "INVALID_SUPPORT_CONTACT")
                self.assertEqual([f["field"] for f in r.json["fields"]], list(bad), bad)
            self.assertEqual(provider.get(url).json["source"], "configFile")
            audit = lambda: provider.get("/api/v1/provider/auditLog?action=SETTINGS_UPDATE").json["items"]
            self.assertEqual(audit(), [])

            # Saved: in effect (as a whole: the config file's phone does not show through).
            r = provider.put(url, body)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["source"], "console")
            self.assertEqual(r.json["updatedBy"], "provider")
            self.assertTrue(r.json["updatedAt"])
            self.assertEqual(r.json["contact"], {"name": "Console Desk", "email": "desk@example.com",
                                                 "url": "https://desk.example.com/help?x=1"})
            self.assertEqual(r.json["configFile"], {"name": "Config Support", "phone": "+1 555 0100"})
            self.assertEqual(provider.get(url).json, r.json)
            self.assertEqual(org_admin.get("/api/v1/sandbox/token").json["supportContact"], r.json["contact"])
            items = audit()
            self.assertEqual(len(items), 1)
            self.assertEqual(items[0]["actor"], "provider")
            self.assertEqual(items[0]["detail"],
                             "support contact saved in the console (was the config file's): "
                             "supportName: Config Support \u2192 Console Desk; "
                             "supportEmail: (not set) \u2192 desk@example.com; "
                             "supportUrl: (not set) \u2192 https://desk.example.com/help?x=1; "
                             "supportPhone: +1 555 0100 \u2192 (not set)")

            # A second save records only what changed; an all-empty contact shows none.
            r = provider.put(url, {"name": "", "email": "", "url": "", "phone": ""})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["contact"], {})
            self.assertNotIn("supportContact", org_admin.get("/api/v1/sandbox/token").json)
            self.assertEqual(audit()[0]["detail"],
                             "support contact saved in the console: supportName: Console Desk \u2192 (not set); "
                             "supportEmail: desk@example.com \u2192 (not set); "
                             "supportUrl: https://desk.example.com/help?x=1 \u2192 (not set)")

            # It outlives a restart (stored, not in memory).
            server.stop()
            server.start()
            provider = server.login("provider")
            self.assertEqual(provider.get(url).json["source"], "console")

            # Reset: the config file's again; a second reset changes and audits nothing.
            r = provider.delete(url)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["source"], "configFile")
            self.assertEqual(r.json["contact"], {"name": "Config Support", "phone": "+1 555 0100"})
            self.assertEqual(server.login("acme-admin").get("/api/v1/sandbox/token").json["supportContact"],
                             {"name": "Config Support", "phone": "+1 555 0100"})
            self.assertEqual(len(audit()), 3)
            self.assertTrue(audit()[0]["detail"].startswith("support contact reset to the config file's: "))
            self.assertEqual(provider.delete(url).status, 200)
            self.assertEqual(len(audit()), 3)
        finally:
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
