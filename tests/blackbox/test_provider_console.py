"""The provider console's API (issue 18, items 11-12): GET /api/v1/provider/overview, and the
organization list's filter, reason and sort parameters with today's usage per row; the audit log's
organization names and ORG_UPDATE's old -> new detail (item 14)."""
import datetime
import unittest

from harness import ServerTestCase


def iso_in(days):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)
    return t.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


class ProviderConsoleApiTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ids = {}

    def setUp(self):
        if self.ids:
            return
        p = self.provider()
        # Acme (demo, id 1): allowance 2, threshold 3; 2 accepted + 3 over quota = near the
        # threshold (3 of 3, not past it) and at 100% of the allowance.
        r = p.patch("/api/v1/provider/orgs/1", {"dailyAllowance": 2, "disableThreshold": 3,
                                                 "ratePerSecond": 1000, "ratePerHour": 100000})
        self.assertEqual(r.status, 200, r)
        admin = self.server.login("acme-admin")
        token = self.reveal(admin)
        statuses = []
        for i in range(5):
            c = self.server.client()
            r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=f"console {i}\n".encode(),
                          headers={"Content-Type": "application/octet-stream"})
            statuses.append(r.status)
            c.close()
        self.assertEqual([s if s == 429 else 200 if s < 300 else s for s in statuses],
                         [200, 200, 429, 429, 429])
        self.ids["soon"], _, _ = self.new_org("Soon Ending", ends_at=iso_in(3))
        self.ids["later"], _, _ = self.new_org("Later Ending", ends_at=iso_in(40))
        self.ids["terms"], _, _ = self.new_org("Terms Broken")
        r = p.post(f"/api/v1/provider/orgs/{self.ids['terms']}/token/disable", {"reason": "TERMS_VIOLATION"})
        self.assertEqual(r.status, 200, r)
        self.ids["bare"], _, _ = self.new_org("Bare Org", activate=False)

    def names(self, query):
        r = self.provider().get("/api/v1/provider/orgs?pageSize=500&" + query)
        self.assertEqual(r.status, 200, r)
        return [o["name"] for o in r.json["items"]], r.json

    def test_overview_counts_match_the_filters(self):
        p = self.provider()
        r = p.get("/api/v1/provider/overview")
        self.assertEqual(r.status, 200, r)
        o = r.json
        self.assertEqual(o["orgs"], 5)
        self.assertEqual(o["tokenStates"], {"enabled": 3, "disabledByProvider": 1, "expired": 0,
                                            "noSubscription": 1})
        self.assertEqual(o["disabledByReason"], {"QUOTA_THRESHOLD": 0, "TERMS_VIOLATION": 1, "OTHER": 0})
        self.assertEqual((o["expiring"], o["expiringWithinDays"]), (1, 14))
        self.assertEqual((o["over80Today"], o["nearThresholdToday"]), (1, 1))
        self.assertEqual(o["noToken"], 1)
        self.assertEqual(len(o["days"]), 14)
        today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
        self.assertEqual(o["days"][-1], {"day": today, "accepted": 2, "refused": 3})
        self.assertEqual([t["name"] for t in o["top"]], ["Acme Corp"])
        self.assertEqual((o["top"][0]["usedToday"], o["top"][0]["overQuotaToday"]), (2, 3))
        # Each count is the total of the matching filter.
        for key, query in (("expiring", "filter=expiring"), ("over80Today", "filter=over80"),
                           ("nearThresholdToday", "filter=nearThreshold"), ("noToken", "filter=noToken")):
            _, page = self.names(query)
            self.assertEqual(page["total"], o[key], query)
        _, page = self.names("filter=providerDisabled&reason=TERMS_VIOLATION")
        self.assertEqual(page["total"], 1)

    def test_filters(self):
        self.assertEqual(self.names("filter=expiring")[0], ["Soon Ending"])
        self.assertEqual(self.names("filter=over80")[0], ["Acme Corp"])
        self.assertEqual(self.names("filter=nearThreshold")[0], ["Acme Corp"])
        self.assertEqual(self.names("filter=providerDisabled")[0], ["Terms Broken"])
        self.assertEqual(self.names("filter=providerDisabled&reason=OTHER")[0], [])
        self.assertEqual(sorted(self.names("filter=disabled")[0]), ["Bare Org", "Terms Broken"])
        self.assertEqual(self.names("filter=noSubscription")[0], ["Bare Org"])
        self.assertEqual(self.names("filter=noToken")[0], ["Bare Org"])
        self.assertEqual(self.names("filter=expired")[0], [])
        self.assertEqual(len(self.names("filter=all")[0]), 5)
        # Search and filter together; the total counts the matches, not the page.
        r = self.provider().get("/api/v1/provider/orgs?filter=enabled&search=ENDING&pageSize=1&page=2")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(([o["name"] for o in r.json["items"]], r.json["total"]), (["Later Ending"], 2))

    def test_sort_and_usage_columns(self):
        self.assertEqual(self.names("sort=name")[0],
                         ["Acme Corp", "Bare Org", "Later Ending", "Soon Ending", "Terms Broken"])
        self.assertEqual(self.names("sort=-name")[0][0], "Terms Broken")
        self.assertEqual(self.names("sort=-usage")[0][0], "Acme Corp")
        self.assertEqual(self.names("sort=endsAt")[0][:2], ["Soon Ending", "Later Ending"])
        self.assertEqual(self.names("sort=-id")[0][0], "Bare Org")
        self.assertEqual(self.names("")[0][0], "Acme Corp")  # by id, as before
        _, page = self.names("sort=name")
        acme = page["items"][0]
        self.assertEqual((acme["usedToday"], acme["overQuotaToday"], acme["dailyAllowance"],
                          acme["disableThreshold"], acme["hasToken"]), (2, 3, 2, 3, True))
        bare = [o for o in page["items"] if o["name"] == "Bare Org"][0]
        self.assertEqual((bare["hasToken"], bare["usedToday"], bare["disableReason"]), (False, 0, None))
        terms = [o for o in page["items"] if o["name"] == "Terms Broken"][0]
        self.assertEqual(terms["disableReason"], "TERMS_VIOLATION")

    def test_bad_parameters_are_refused_with_a_sentence(self):
        p = self.provider()
        for query in ("filter=bogus", "sort=usage;drop", "sort=--name", "reason=NOPE&filter=providerDisabled",
                      "reason=OTHER", "filter=expiring&sort=-", "filter=%27%20OR%201%3D1--"):
            r = p.get("/api/v1/provider/orgs?" + query)
            self.assertError(r, 400, "INVALID_PARAMETER")
        # Still intact.
        self.assertEqual(len(self.names("")[0]), 5)

    def test_organization_users_get_404(self):
        admin = self.server.login("acme-admin")
        self.assertEqual(admin.get("/api/v1/provider/overview").status, 404)
        self.assertEqual(self.server.client().get("/api/v1/provider/overview").status, 401)

    def test_audit_names_and_settings_old_to_new(self):
        p = self.provider()
        org = self.ids["later"]
        r = p.patch(f"/api/v1/provider/orgs/{org}", {"ratePerHour": 77, "name": "Later Ending Co"})
        self.assertEqual(r.status, 200, r)
        r = p.get(f"/api/v1/provider/auditLog?orgId={org}&action=ORG_UPDATE&limit=1")
        self.assertEqual(r.status, 200, r)
        rec = r.json["items"][0]
        self.assertEqual(rec["orgName"], "Later Ending Co")
        self.assertEqual(rec["detail"], "name: Later Ending \u2192 Later Ending Co; ratePerHour: 400 \u2192 77")
        r = p.patch(f"/api/v1/provider/orgs/{org}", {"name": "Later Ending"})
        self.assertEqual(r.status, 200, r)


if __name__ == "__main__":
    unittest.main()
