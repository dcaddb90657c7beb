"""The API contract (issue #17): the document the server serves at /api/v1/openapi.json, the
reference page /docs/api and its bundled assets under the unchanged CSP, and the contract check
(contract.py) that every response of the black-box suite goes through, including that it fails."""
import json
import os
import re
import unittest

import contract
from harness import ServerTestCase

CSP = "default-src 'self'; frame-ancestors 'none'"


class ServedContractTest(ServerTestCase):
    def test_served_document_is_docs_openapi_yaml(self):
        r = self.server.client().get("/api/v1/openapi.json")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "application/json")
        self.assertEqual(json.loads(r.raw), contract.load_spec())
        self.assertTrue(r.json["openapi"].startswith("3.1."))
        self.assertEqual(r.headers["content-security-policy"], CSP)

    def test_reference_page_and_its_assets_come_from_the_server(self):
        c = self.server.client()
        r = c.get("/docs/api")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/html"), r.headers)
        self.assertEqual(r.headers["content-security-policy"], CSP)
        self.assertNotIn("<script>", r.raw)  # no inline script (the CSP would block it)
        refs = re.findall(r'(?:src|href)="([^"]+)"', r.raw)
        self.assertIn("/static/swagger-ui-bundle.js", refs)
        self.assertIn("/static/swagger-ui.css", refs)
        for ref in refs:
            self.assertTrue(ref.startswith("/static/"), ref)  # nothing from elsewhere (no CDN)
            self.assertEqual(c.get(ref).status, 200, ref)
        js = c.get("/static/swagger-ui-bundle.js")
        self.assertEqual(js.headers["content-type"], "text/javascript; charset=utf-8")
        self.assertIn("SwaggerUIBundle", js.raw)
        self.assertIn("/api/v1/openapi.json", c.get("/static/api-docs.js").raw)
        # The stylesheet's images are files of the server, not data: URLs the CSP would block.
        css = c.get("/static/swagger-ui.css")
        self.assertEqual(css.status, 200)
        self.assertNotIn("data:", css.raw)
        images = set(re.findall(r"url\(([^)]*)\)", css.raw))
        self.assertGreater(len(images), 5)
        for url in images:
            self.assertTrue(url.startswith("/static/swagger-ui-img-"), url)
            img = c.get(url)
            self.assertEqual(img.status, 200, url)
            self.assertTrue(img.headers["content-type"].startswith("image/"), (url, img.headers))


# Route registrations in the server's source: Router::Add / AddStream with a literal pattern.
ROUTE_RE = re.compile(r'\b(?:Add|AddStream)\(\s*(?:(?:http::)?bhttp::)?verb::(\w+?)_?,\s*"(/[^"]*)"')
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")


def registered_routes():
    """(method, pattern) of every literal route registration under src/ (tests excluded), plus the
    portal's single-page routes, which web/portal.cc registers in a loop."""
    out = set()
    for root, _, files in os.walk(SRC):
        for name in files:
            if name.endswith(".cc") and not name.endswith("_test.cc"):
                with open(os.path.join(root, name), encoding="utf-8") as f:
                    out.update((m.group(1).upper(), m.group(2)) for m in ROUTE_RE.finditer(f.read()))
    with open(os.path.join(SRC, "web", "portal.cc"), encoding="utf-8") as f:
        loop = re.search(r"for \(const char\* p :\s*\{(.*?)\}\)", f.read(), re.S)
    out.update(("GET", p) for p in re.findall(r'"([^"]+)"', loop.group(1)))
    return out


class ContractCheckTest(unittest.TestCase):
    """The check itself, on responses made up here: it must refuse what the document does not
    describe (the suite's responses only ever show that it accepts)."""

    @classmethod
    def setUpClass(cls):
        cls.c = contract.Contract(contract.load_spec())

    def ok(self, method, path, status, body, ctype="application/json"):
        self.c.check(method, path, status, {"content-type": ctype}, json.dumps(body) if body is not None else "")

    def refused(self, method, path, status, body, ctype="application/json"):
        with self.assertRaises(contract.ContractError) as cm:
            self.ok(method, path, status, body, ctype)
        return str(cm.exception)

    def test_every_route_the_server_registers_is_described(self):
        routes = registered_routes()
        self.assertGreater(len(routes), 30)
        self.assertIn(("POST", "/zscsb/submit"), routes)
        self.assertIn(("GET", "/provider/orgs/{id}"), routes)
        paths = self.c.spec["paths"]
        missing = sorted(f"{m} {p}" for m, p in routes if m.lower() not in paths.get(p, {}))
        self.assertEqual(missing, [], "routes the server registers but docs/openapi.yaml does not describe")
        # And the other way: every operation of the document is a route of the server.
        described = {(m.upper(), p) for p, item in paths.items() for m in item if m in contract.METHODS}
        self.assertEqual(sorted(described - routes), [], "operations of docs/openapi.yaml the server lacks")

    def test_described_answers_pass(self):
        self.ok("GET", "/healthz", 200, {"status": "ok"})
        self.ok("GET", "/api/v1/sandbox/report/quota", 200,
                [{"startTime": 0, "used": 1, "allowed": 100, "scale": "DAYS", "unused": 99}])
        self.ok("POST", "/zscsb/submit", 401, {"code": 401, "message": "Invalid API token"})
        self.ok("DELETE", "/api/v1/provider/orgs/7/users/9", 204, None)
        # Errors may carry more fields (a request id, say).
        self.ok("GET", "/api/v1/sandbox/token", 401,
                {"code": "UNAUTHENTICATED", "message": "Sign in first.", "requestId": "0f3a"})
        # Outside every route: 404 for an unknown path, 405 for an unknown method.
        self.ok("GET", "/no/such/thing", 404, {"code": "NOT_FOUND", "message": "No such resource."})
        self.ok("PATCH", "/healthz", 405, {"code": "METHOD_NOT_ALLOWED", "message": "Not here."})

    def test_a_route_the_document_does_not_describe_fails(self):
        msg = self.refused("GET", "/debug/vars", 200, {"up": 1})
        self.assertIn("route not described: GET /debug/vars", msg)
        msg = self.refused("PATCH", "/healthz", 200, {"status": "ok"})
        self.assertIn("route not described", msg)

    def test_a_status_the_operation_does_not_list_fails(self):
        msg = self.refused("GET", "/healthz", 418, {"code": "TEAPOT", "message": "short and stout"})
        self.assertIn("status 418 is not described for GET /healthz (getHealth)", msg)

    def test_a_body_off_the_schema_fails_and_says_where(self):
        msg = self.refused("GET", "/api/v1/sandbox/report/quota", 200,
                           [{"startTime": 0, "used": "1", "allowed": 100, "scale": "DAYS", "unused": 99}])
        self.assertIn("GET /api/v1/sandbox/report/quota -> 200", msg)
        self.assertIn("#/paths/~1api~1v1~1sandbox~1report~1quota/get/responses/200", msg)
        self.assertIn("at $[0]['used']", msg)
        # A field the document does not know, in a success body.
        msg = self.refused("GET", "/api/v1/sandbox/token/reveal", 200, {"token": "sbx_" + "a" * 49, "extra": 1})
        self.assertIn("'extra'", msg)
        # The Submission API's errors have a numeric code; the portal's an UPPER_SNAKE one.
        self.refused("POST", "/zscsb/discan", 413, {"code": "PAYLOAD_TOO_LARGE", "message": "too large"})
        self.refused("GET", "/api/v1/auditLog", 400, {"code": 400, "message": "bad"})

    def test_an_undescribed_content_type_fails(self):
        msg = self.refused("GET", "/healthz", 200, "ok", ctype="text/plain")
        self.assertIn("a body of type 'text/plain' is not described", msg)
        with self.assertRaises(contract.ContractError):
            self.c.check("GET", "/healthz", 200, {"content-type": "application/json"}, "{not json")


if __name__ == "__main__":
    unittest.main()
