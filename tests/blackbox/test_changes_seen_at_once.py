"""A change is seen by the very next request, whoever made it: this server, or the CLI (another
process on the same SQLite file). Sessions and token pages are served from a per-process cache
(store/stamped_cache.h) that any commit empties; the token index applies the CLI's changes from
the change log before each verification (Store::CatchUp)."""
import unittest

from harness import ServerTestCase


class ChangesSeenAtOnceTest(ServerTestCase):
    def page(self, client, status=200):
        r = client.get("/api/v1/sandbox/token")
        self.assertEqual(r.status, status, r)
        return r.json

    def test_cli_disable_and_enable_are_seen_at_once(self):
        org, admin, _ = self.new_org("Cache Cli Co")
        for _ in range(3):  # served from the cache after the first
            self.assertEqual(self.page(admin)["status"], "ENABLED")
        code, out, err = self.server.cli("org", "disable", str(org), "--reason", "TERMS_VIOLATION")
        self.assertEqual(code, 0, out + err)
        v = self.page(admin)
        self.assertEqual(v["status"], "DISABLED")
        self.assertTrue(v["disabledByProvider"])
        self.assertEqual(v["disableReason"], "TERMS_VIOLATION")
        self.assertNotIn("REGENERATE", v["allowedActions"])
        code, out, err = self.server.cli("org", "enable", str(org))
        self.assertEqual(code, 0, out + err)
        self.assertEqual(self.page(admin)["status"], "ENABLED")

    def submit(self, token):
        c = self.server.client()
        r = c.request("POST", f"/zscsb/submit?api_token={token}&force=1", raw=b"seen at once\n",
                      headers={"Content-Type": "application/octet-stream"})
        c.close()
        return r

    def test_cli_disable_and_expire_stop_the_token_at_once(self):
        org, admin, _ = self.new_org("Cache Token Co")
        r = self.provider().patch(f"/api/v1/provider/orgs/{org}",
                                  {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000})
        self.assertEqual(r.status, 200, r)
        token = self.reveal(admin)
        self.assertEqual(self.submit(token).status, 200)
        code, out, err = self.server.cli("org", "disable", str(org), "--reason", "OTHER")
        self.assertEqual(code, 0, out + err)
        r = self.submit(token)
        self.assertEqual((r.status, r.json["message"]), (403, "API token disabled by your service provider"))
        code, out, err = self.server.cli("org", "enable", str(org))
        self.assertEqual(code, 0, out + err)
        self.assertEqual(self.submit(token).status, 200)
        code, out, err = self.server.cli("org", "expire", str(org))
        self.assertEqual(code, 0, out + err)
        r = self.submit(token)
        self.assertEqual((r.status, r.json["message"]), (403, "Sandbox subscription expired"))
        code, out, err = self.server.cli("org", "renew", str(org))
        self.assertEqual(code, 0, out + err)
        self.assertEqual(self.submit(token).status, 200)  # the same token, unchanged

    def test_cli_user_delete_ends_the_session_at_once(self):
        org, admin, viewer = self.new_org("Cache User Co")
        self.page(viewer)
        self.page(viewer)
        users = self.provider().get(f"/api/v1/provider/orgs/{org}/users")
        self.assertEqual(users.status, 200, users)
        uid = [u["id"] for u in users.json["items"] if u["username"].endswith("-viewer")][0]
        code, out, err = self.server.cli("user", "delete", str(uid), "--org", str(org))
        self.assertEqual(code, 0, out + err)
        self.assertError(viewer.get("/api/v1/sandbox/token"), 401, "UNAUTHENTICATED")
        self.page(admin)  # the other user's session is untouched

    def test_sign_out_and_changes_through_the_api_are_seen_at_once(self):
        org, admin, viewer = self.new_org("Cache Api Co")
        self.page(viewer)
        self.page(viewer)
        r = admin.put("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        after = r.json["token"]["last4"]
        self.assertEqual(self.page(viewer)["token"]["last4"], after)
        cookie = admin.cookie
        self.page(admin)
        r = admin.delete("/api/v1/authenticatedSession")
        self.assertIn(r.status, (200, 204), r)
        admin.cookie = cookie  # replay the signed-out session
        self.assertError(admin.get("/api/v1/sandbox/token"), 401, "UNAUTHENTICATED")

    def test_zz_no_secret_in_log(self):
        self.server.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
