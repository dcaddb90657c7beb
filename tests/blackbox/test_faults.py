"""Storage faults in a running server (issue #6): writes to the store or to the upload spool fail
with an I/O error or a full disk (SANDGATE_TEST_FAULT_FILE, see src/common/fault.h). A change whose
write fails answers 503 and leaves nothing behind; reads go on; the server heals by itself."""
import hashlib
import os
import time
import unittest

from harness import ServerTestCase


NOT_FOUND = {"Summary": {"Summary": {"Status": "CONTENT_NOTFOUND", "Message": "Content lookup failed."}}}


class StoreFaultTest(ServerTestCase):
    def setUp(self):
        self.server.set_faults("")
        self.addCleanup(self.server.set_faults, "")

    def assertNoReport(self, client, md5):
        self.assertEqual(client.get(f"/api/v1/sandbox/report/{md5}").json, NOT_FOUND)

    def org(self, name):
        org, admin, viewer = self.new_org(name)
        r = self.provider().patch(f"/api/v1/provider/orgs/{org}",
                                  {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000})
        self.assertEqual(r.status, 200, r)
        return org, admin, viewer, self.reveal(admin)

    def submit(self, token, body):
        c = self.server.client()
        r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=body,
                      headers={"Content-Type": "application/octet-stream"})
        c.close()
        return r

    def state(self, provider, admin, org):
        """Everything a failed change could have touched, as the API shows it."""
        page = admin.get("/api/v1/sandbox/token")
        self.assertEqual(page.status, 200, page)
        audit = provider.get(f"/api/v1/provider/auditLog?orgId={org}&limit=1000")
        self.assertEqual(audit.status, 200, audit)
        orgs = provider.get("/api/v1/provider/orgs?pageSize=100")
        self.assertEqual(orgs.status, 200, orgs)
        quota = admin.get("/api/v1/sandbox/report/quota")
        self.assertEqual(quota.status, 200, quota)
        users = provider.get(f"/api/v1/provider/orgs/{org}/users")
        self.assertEqual(users.status, 200, users)
        return {
            "last4": (page.json["token"] or {}).get("last4"),
            "status": page.json["status"],
            "audit": [a["id"] for a in audit.json["items"]],
            "orgs": orgs.json["total"],
            "used": quota.json[0]["used"],
            "users": len(users.json["items"]) if isinstance(users.json, dict) else len(users.json),
        }

    def spool_files(self):
        return os.listdir(os.path.join(self.server.data, "spool"))

    def wait_spool_empty(self):
        deadline = time.time() + 30  # queued rule analyses hold their file until they finish
        while self.spool_files() and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.spool_files(), [])

    def test_store_write_faults_answer_503_change_nothing_and_heal(self):
        # A failed fsync is reported like a failed write (the running server shows nothing of the
        # change; see docs/ARCHITECTURE.md for what a crash right after it may show).
        for kind, faults in (("eio", "store_write=eio"), ("enospc", "store_write=enospc"),
                             ("fsync", "store_sync=eio")):
            with self.subTest(faults=faults):
                org, admin, viewer, token = self.org(f"Faulty {kind}")
                provider = self.provider()
                self.assertEqual(self.submit(token, os.urandom(64)).status, 200)
                self.wait_spool_empty()
                before = self.state(provider, admin, org)

                self.server.set_faults(faults)
                changes = [
                    ("regenerate", lambda: admin.put("/api/v1/sandbox/token")),
                    ("delete", lambda: admin.delete("/api/v1/sandbox/token")),
                    ("reveal (audited)", lambda: admin.get("/api/v1/sandbox/token/reveal")),
                    ("disable", lambda: provider.post(f"/api/v1/provider/orgs/{org}/token/disable",
                                                      {"reason": "OTHER", "note": "x"})),
                    ("expire", lambda: provider.post(f"/api/v1/provider/orgs/{org}/subscription",
                                                     {"action": "expire"})),
                    ("patch", lambda: provider.patch(f"/api/v1/provider/orgs/{org}", {"dailyAllowance": 5})),
                    ("create org", lambda: provider.post("/api/v1/provider/orgs", {"name": f"Never {kind}"})),
                    ("create user", lambda: provider.post(f"/api/v1/provider/orgs/{org}/users",
                                                          {"username": f"never-{kind}", "role": "ORG_READONLY"})),
                    ("login", lambda: self.server.client().login("provider", self.server.logins["provider"])),
                ]
                for name, change in changes:
                    r = change()
                    self.assertError(r, 503, "STORE_UNAVAILABLE")
                    # Reads go on and show nothing of the failed change.
                    self.assertEqual(self.state(provider, admin, org), before, name)
                    self.assertEqual(viewer.get("/api/v1/sandbox/token").status, 200)
                # A submission cannot be counted, so it is refused rather than accepted uncounted;
                # its reservation is released and its spool file removed.
                data = os.urandom(100)
                r = self.submit(token, data)
                self.assertEqual(r.status, 503, r)
                self.assertEqual(r.json["code"], 503)
                self.assertEqual(self.state(provider, admin, org), before)
                self.assertEqual(self.spool_files(), [])
                md5 = hashlib.md5(data).hexdigest().upper()
                self.assertNoReport(admin, md5)
                # The token still verifies (reads only), through the CLI too.
                self.assertTrue(self.server.verify(token)[0])
                self.assertEqual(self.server.client().get("/readyz").status, 200)

                # The disk has room again: no restart needed.
                self.server.set_faults("")
                r = admin.put("/api/v1/sandbox/token")
                self.assertEqual(r.status, 200, r)
                self.assertFalse(self.server.verify(token)[0])
                fresh = self.reveal(admin)
                self.assertEqual(fresh[-4:], r.json["token"]["last4"])
                r = self.submit(fresh, data)
                self.assertEqual(r.status, 200, r)
                after = self.state(provider, admin, org)
                self.assertEqual(after["used"], before["used"] + 1)
                self.assertEqual(len(after["audit"]), len(before["audit"]) + 2)  # regenerate, reveal
                self.assertEqual(self.server.client().login("provider", self.server.logins["provider"]).status, 200)
        self.server.assert_no_secrets_in_log(self)

    def test_spool_faults_refuse_the_upload_and_cost_nothing(self):
        org, admin, viewer, token = self.org("Spool Co")
        provider = self.provider()
        before = self.state(provider, admin, org)
        data = os.urandom(200 * 1024)  # more than one piece: the refusal leaves most of the body unread
        md5 = hashlib.md5(data).hexdigest().upper()
        for kind in ("enospc", "eio"):
            self.server.set_faults(f"spool_write={kind}")
            r = self.submit(token, data)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json["code"], 503)
            self.assertEqual(self.spool_files(), [])
            self.assertEqual(self.state(provider, admin, org), before)
            self.assertNoReport(admin, md5)
        # The store still writes while the spool cannot: token changes go on.
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        token = self.reveal(admin)
        self.server.set_faults("")
        r = self.submit(token, data)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["md5"], md5)
        self.assertEqual(admin.get("/api/v1/sandbox/report/quota").json[0]["used"], before["used"] + 1)
        self.wait_spool_empty()
        self.server.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
