"""The Sandbox Submission API over real HTTP: verdicts from the real engine, reports, quota, rate
limits, the disable threshold, errors, streaming limits and concurrency (issue #3)."""
import concurrent.futures
import glob
import gzip
import hashlib
import io
import json
import os
import socket
import time
import unittest
import zipfile

from harness import BIN, ServerTestCase

TESTFILES = "/usr/share/clamav-testfiles"


def eicar():
    # Built at run time: no committed file contains the test string in one piece.
    return ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()


class SubmissionTest(ServerTestCase):
    def org(self, name, **settings):
        """An organization whose token may submit freely unless settings say otherwise."""
        org, admin, viewer = self.new_org(name)
        limits = {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000}
        limits.update(settings)
        r = self.provider().patch(f"/api/v1/provider/orgs/{org}", limits)
        self.assertEqual(r.status, 200, r)
        return org, admin, self.reveal(admin)

    def submit(self, token, body, path="/zscsb/submit", query="", headers=None):
        c = self.server.client()
        h = {"Content-Type": "application/octet-stream"}
        h.update(headers or {})
        r = c.request("POST", f"{path}?api_token={token}{query}", raw=body, headers=h)
        c.close()
        return r

    def report(self, client, md5, details="summary", wait_for=None):
        deadline = time.time() + 60
        while True:
            r = client.get(f"/api/v1/sandbox/report/{md5}?details={details}")
            self.assertEqual(r.status, 200, r)
            key = "Summary" if details == "summary" else "Full Details"
            status = r.json[key]["Summary"]["Status"]
            if wait_for is None or status == wait_for or time.time() > deadline:
                return r.json
            time.sleep(0.1)

    def test_eicar_is_a_virus(self):
        org, admin, token = self.org("Eicar Co")
        r = self.submit(token, eicar())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["code"], 200)
        self.assertEqual(r.json["message"], "/submit response OK")
        self.assertEqual(r.json["md5"], hashlib.md5(eicar()).hexdigest().upper())
        self.assertEqual(r.json["sandboxSubmission"], "Virus")
        self.assertEqual(r.json["virusName"], "Eicar-Test-Signature")
        self.assertEqual(r.json["virusType"], "Virus")
        self.assertEqual(set(r.json), {"code", "message", "fileType", "md5", "sandboxSubmission", "virusName",
                                       "virusType"})
        self.assertEqual(r.headers["x-ratelimit-limit"], "1000")
        self.assertEqual(r.headers["x-ratelimit-remaining"], "999")
        # The same file again: the existing verdict, with a message that says so.
        r = self.submit(token, eicar())
        self.assertEqual(r.json["sandboxSubmission"], "Virus")
        self.assertNotEqual(r.json["message"], "/submit response OK")
        r = self.submit(token, eicar(), query="&force=1")
        self.assertEqual(r.json["message"], "/submit response OK")
        # discan: the same shape without sandboxSubmission.
        r = self.submit(token, eicar(), path="/zscsb/discan")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("sandboxSubmission", r.json)
        self.assertEqual(r.json["virusName"], "Eicar-Test-Signature")
        # A report in Zscaler's shape.
        rep = self.report(admin, r.json["md5"], "full")["Full Details"]
        self.assertEqual(rep["Classification"]["Type"], "MALICIOUS")
        self.assertEqual(rep["Classification"]["DetectedMalware"], "Eicar-Test-Signature")
        self.assertGreaterEqual(rep["Classification"]["Score"], 90)
        self.assertEqual(rep["FileProperties"]["Sha256"], hashlib.sha256(eicar()).hexdigest())
        self.assertIn("DigitalCerificate", rep["FileProperties"])
        self.assertTrue(any("ClamAV:Eicar-Test-Signature" in s["SignatureSources"] for s in rep["SystemSummary"]))

    def test_eicar_in_zip_and_gzip_encoding(self):
        org, admin, token = self.org("Zip Co")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("readme.txt", eicar())
        r = self.submit(token, buf.getvalue())
        self.assertEqual(r.json["sandboxSubmission"], "Virus", r)
        self.assertEqual(r.json["fileType"], "zip")
        import gzip
        r = self.submit(token, gzip.compress(eicar() + b"\n"), path="/zscsb/discan",
                        headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.json["virusName"], "Eicar-Test-Signature", r)
        self.assertEqual(r.json["md5"], hashlib.md5(eicar() + b"\n").hexdigest().upper())
        r = self.submit(token, b"not gzip at all", headers={"Content-Encoding": "gzip"})
        self.assertEqual((r.status, r.json["code"]), (400, 400))

    def test_clamav_testfiles_are_viruses(self):
        org, admin, token = self.org("Samples Co")
        samples = ["clam.exe", "clam.zip", "clam.7z", "clam.cab", "clam.arj", "clam.tar.gz", "clam.ole.doc",
                   "clam.pdf"]
        for name in samples:
            with open(os.path.join(TESTFILES, name), "rb") as f:
                r = self.submit(token, f.read(), path="/zscsb/discan")
            self.assertEqual(r.status, 200, (name, r))
            self.assertTrue(r.json["virusName"], (name, r))

    def test_sandgate_binary_is_clean_elf_and_reports_complete(self):
        org, admin, token = self.org("Binary Co")
        with open(BIN, "rb") as f:
            data = f.read()
        md5 = hashlib.md5(data).hexdigest()
        if len(data) > 50 * 1024 * 1024:
            # A sanitizer build of the binary is over submit's 50 MiB: discan takes it, synchronously.
            r = self.submit(token, data, path="/zscsb/discan")
            self.assertEqual((r.status, r.json["fileType"], r.json["virusName"]), (200, "elf", ""), r)
            rep = self.report(admin, md5, "summary")["Summary"]
            self.assertEqual(rep["Summary"]["Status"], "NODYNAMIC")
        else:
            r = self.submit(token, data)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["fileType"], "elf")
            self.assertIn(r.json["sandboxSubmission"], ("Submitted", "Clean"))
            rep = self.report(admin, md5.lower(), "summary", wait_for="COMPLETED")["Summary"]
            self.assertEqual(rep["Summary"]["Status"], "COMPLETED")
            r = self.submit(token, data)  # now the completed verdict
            self.assertEqual(r.json["sandboxSubmission"], "Clean")
        self.assertEqual(rep["Summary"]["Category"], "EXECS")
        self.assertEqual(rep["Classification"]["Type"], "BENIGN")
        self.assertEqual(rep["FileProperties"]["FileSize"], len(data))
        self.assertEqual(rep["FileProperties"]["MD5"], md5.upper())
        self.assertTrue(rep["FileProperties"]["SSDeep"])

    def test_ssdeep_is_the_same_whichever_way_the_body_arrives(self):
        # Issue 19, target 5: ssdeep and entropy are computed while the body streams in: inline for
        # a small body kept in memory, by a thread that follows the spool file for a larger one
        # (with its length known), and for a gzip-encoded body (spooled, length unknown). The
        # report must not depend on which.
        for size in (300 * 1024, 3 * 1024 * 1024 + 5):
            text = b"Sandgate streams every upload through its digests. " * (size // 50 + 1)
            data = text[: size - 4096] + os.urandom(4096)
            seen = []
            for i, (body, headers) in enumerate(
                    [(data, {}), (gzip.compress(data), {"Content-Encoding": "gzip"})]):
                org, admin, token = self.org(f"Fuzzy {size} {i}")
                r = self.submit(token, body, path="/zscsb/discan", headers=headers)
                self.assertEqual(r.status, 200, r)
                props = self.report(admin, r.json["md5"], "summary")["Summary"]["FileProperties"]
                self.assertEqual(props["FileSize"], len(data))
                seen.append(props["SSDeep"])
            self.assertTrue(seen[0].startswith(tuple("123456789")), seen)
            self.assertEqual(seen[0], seen[1], size)

    def test_random_data_gets_a_verdict(self):
        org, admin, token = self.org("Random Co")
        data = os.urandom(256 * 1024)
        r = self.submit(token, data)
        self.assertEqual(r.status, 200, r)
        rep = self.report(admin, r.json["md5"], "full", wait_for="COMPLETED")["Full Details"]
        self.assertIn(rep["Classification"]["Type"], ("SUSPICIOUS", "UNKNOWN", "BENIGN", "MALICIOUS"))
        self.assertIsInstance(rep["Classification"]["Score"], int)

    def test_reports_are_per_organization(self):
        org_a, admin_a, token_a = self.org("Report A")
        org_b, admin_b, token_b = self.org("Report B")
        data = b"only A submitted this " + os.urandom(16)
        md5 = self.submit(token_a, data).json["md5"]
        self.assertEqual(self.report(admin_a, md5)["Summary"]["FileProperties"]["MD5"], md5)
        nf = {"Summary": {"Summary": {"Status": "CONTENT_NOTFOUND", "Message": "Content lookup failed."}}}
        self.assertEqual(admin_b.get(f"/api/v1/sandbox/report/{md5}").json, nf)
        self.assertEqual(admin_a.get("/api/v1/sandbox/report/" + "0" * 32).json, nf)
        self.assertError(admin_a.get("/api/v1/sandbox/report/xyz"), 400, "INVALID_MD5")
        self.assertError(admin_a.get(f"/api/v1/sandbox/report/{md5}?details=some"), 400, "INVALID_PARAMETER")
        self.assertError(self.server.client().get(f"/api/v1/sandbox/report/{md5}"), 401, "UNAUTHENTICATED")
        q = admin_a.get("/api/v1/sandbox/report/quota").json
        self.assertEqual(len(q), 1)
        self.assertEqual(q[0]["scale"], "DAYS")
        self.assertEqual((q[0]["used"], q[0]["allowed"], q[0]["unused"]), (1, 1000, 999))
        page = admin_a.get("/api/v1/sandbox/token").json
        self.assertEqual(page["usage"], {"used": 1, "allowed": 1000})
        listed = self.provider().get("/api/v1/provider/orgs?search=Report%20A").json["items"][0]
        self.assertEqual(listed["usage"], {"used": 1, "allowed": 1000})
        self.assertIsNotNone(page["lastUsedOn"])

    def test_token_errors(self):
        org, admin, token = self.org("Errors Co")
        body = b"hello"
        for q in ("", "?api_token=", "?api_token=sbx_short", "?api_token=" + token[:-1] + ("A" if token[-1] != "A" else "B")):
            c = self.server.client()
            r = c.request("POST", "/zscsb/submit" + q, raw=body)
            self.assertEqual((r.status, r.json), (401, {"code": 401, "message": "Invalid API token"}), q)
        well_formed_unknown = token  # regenerate: the old one is unknown from now on
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        r = self.submit(well_formed_unknown, body)
        self.assertEqual((r.status, r.json["message"]), (401, "Invalid API token"))
        token = self.reveal(admin)
        self.assertEqual(self.submit(token, body).status, 200)
        self.assertEqual((self.submit(token, b"").status), 400)
        self.assertEqual(self.submit(token, b"", ).json["code"], 400)
        self.assertEqual(self.submit(token, body, query="&force=2").status, 400)
        p = self.provider()
        p.post(f"/api/v1/provider/orgs/{org}/token/disable", {"reason": "TERMS_VIOLATION"})
        r = self.submit(token, body)
        self.assertEqual((r.status, r.json), (403, {"code": 403, "message": "API token disabled by your service provider"}))
        p.post(f"/api/v1/provider/orgs/{org}/token/enable")
        p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "expire"})
        r = self.submit(token, body)
        self.assertEqual((r.status, r.json), (403, {"code": 403, "message": "Sandbox subscription expired"}))
        p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "renew"})
        self.assertEqual(self.submit(token, body + b"!").status, 200)
        admin.delete("/api/v1/sandbox/token")
        self.assertEqual(self.submit(token, body).status, 401)

    def test_quota_exhausts_at_exactly_allowed(self):
        org, admin, token = self.org("Quota Co", dailyAllowance=3)
        for i in range(3):
            r = self.submit(token, b"file %d" % i)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-ratelimit-remaining"], str(2 - i))
        r = self.submit(token, b"one too many")
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["code"], 429)
        self.assertEqual(r.headers["x-ratelimit-limit"], "3")
        self.assertEqual(r.headers["x-ratelimit-remaining"], "0")
        self.assertGreater(int(r.headers["retry-after"]), 0)
        self.assertLessEqual(int(r.headers["retry-after"]), 86400)
        self.assertEqual(int(r.headers["x-ratelimit-reset"]), int(r.headers["retry-after"]))
        self.assertEqual(admin.get("/api/v1/sandbox/report/quota").json[0]["used"], 3)

    def test_rate_limit(self):
        org, admin, token = self.org("Rate Co", ratePerSecond=2)
        # Submit until the first refusal (bounded): a loaded machine may cross a second or two
        # between submissions, so how many get in first is only bounded below.
        statuses = []
        for i in range(50):
            r = self.submit(token, b"rate %d" % i)
            statuses.append(r.status)
            if r.status != 200:
                break
        self.assertEqual(statuses[-1], 429, statuses)
        self.assertGreaterEqual(statuses.count(200), 2, statuses)
        self.assertIn("/SECOND", r.json["message"])
        self.assertEqual(r.headers["retry-after"], "1")

    def test_threshold_disables_the_token_until_the_provider_enables_it(self):
        org, admin, token = self.org("Threshold Co", dailyAllowance=1, disableThreshold=2)
        self.assertEqual(self.submit(token, b"first").status, 200)
        for i in range(3):
            self.assertEqual(self.submit(token, b"over %d" % i).status, 429)
        r = self.submit(token, b"now disabled")
        self.assertEqual((r.status, r.json["message"]), (403, "API token disabled by your service provider"))
        page = admin.get("/api/v1/sandbox/token").json
        self.assertEqual((page["status"], page["statusReason"], page["disableReason"]),
                         ("DISABLED", "PROVIDER", "QUOTA_THRESHOLD"))
        self.assertError(admin.put("/api/v1/sandbox/token"), 403, "TOKEN_DISABLED")
        p = self.provider()
        audit = p.get(f"/api/v1/provider/auditLog?orgId={org}&action=TOKEN_DISABLE").json["items"]
        self.assertEqual((audit[0]["actor"], audit[0]["detail"]), ("system", "QUOTA_THRESHOLD"))
        self.assertEqual(p.post(f"/api/v1/provider/orgs/{org}/token/enable").status, 200)
        p.patch(f"/api/v1/provider/orgs/{org}", {"dailyAllowance": 10})
        self.assertEqual(self.submit(token, b"back").status, 200)

    def test_oversized_upload_is_refused_before_the_body(self):
        org, admin, token = self.org("Big Co")
        s = socket.create_connection(("127.0.0.1", self.server.port))
        size = 60 * 1024 * 1024
        s.sendall((f"POST /zscsb/submit?api_token={token} HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n").encode())
        s.settimeout(10)
        resp = s.recv(4096).decode()
        self.assertTrue(resp.startswith("HTTP/1.1 413"), resp)
        self.assertIn('"code":413', resp)
        sent = 0
        chunk = b"\0" * 65536
        try:
            while sent < size:
                sent += s.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.close()
        self.assertLess(sent, size)  # the connection was closed long before 60 MiB
        # A chunked body without a length is cut off at the limit too.
        self.assertEqual(admin.get("/api/v1/sandbox/report/quota").json[0]["used"], 0)

    def test_client_leaving_mid_upload_costs_nothing(self):
        org, admin, token = self.org("Leaver Co")
        spool = os.path.join(self.server.data, "spool")
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.sendall((f"POST /zscsb/submit?api_token={token} HTTP/1.1\r\nHost: x\r\n"
                   f"Content-Length: {10 * 1024 * 1024}\r\n\r\n").encode())
        s.sendall(os.urandom(1024 * 1024))
        time.sleep(0.3)
        self.assertEqual(len(os.listdir(spool)), 1)  # the upload is being spooled
        s.close()
        deadline = time.time() + 10
        while os.listdir(spool) and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(os.listdir(spool), [])
        self.assertEqual(admin.get("/api/v1/sandbox/report/quota").json[0]["used"], 0)
        self.assertEqual(self.submit(token, b"still fine").status, 200)

    def test_abandoned_and_refused_uploads_give_their_reservation_back(self):
        # Issue 21 (survivor 4): a submission reserves its place under the daily allowance before
        # reading the body; a client that leaves, and an empty body (400), must give it back.
        org, admin, token = self.org("Reservation Co", dailyAllowance=2)
        spool = os.path.join(self.server.data, "spool")
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.sendall((f"POST /zscsb/submit?api_token={token} HTTP/1.1\r\nHost: x\r\n"
                       f"Content-Length: {4 * 1024 * 1024}\r\n\r\n").encode())
            s.sendall(os.urandom(256 * 1024))
            deadline = time.time() + 10
            while not os.listdir(spool) and time.time() < deadline:
                time.sleep(0.02)
            self.assertEqual(len(os.listdir(spool)), 1)  # admitted: its reservation is held
            s.close()
            deadline = time.time() + 10
            while os.listdir(spool) and time.time() < deadline:
                time.sleep(0.02)
            self.assertEqual(os.listdir(spool), [])  # the server saw the client leave
        r = self.submit(token, b"")
        self.assertEqual(r.status, 400, r)
        # Other early ends after admission: a body that is not gzip, and one that inflates past
        # the 50 MiB limit.
        r = self.submit(token, b"this is not gzip data", headers={"Content-Encoding": "gzip"})
        self.assertTrue(400 <= r.status < 500 and r.status != 429, r)
        bomb = gzip.compress(b"\0" * (51 << 20), compresslevel=9)
        r = self.submit(token, bomb, headers={"Content-Encoding": "gzip"})
        self.assertEqual(r.status, 413, r)
        self.assertEqual(os.listdir(spool), [])
        for remaining in ("1", "0"):
            r = self.submit(token, b"real file " + remaining.encode())
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["x-ratelimit-remaining"], remaining)
        self.assertEqual(self.submit(token, b"over").status, 429)
        self.assertEqual(admin.get("/api/v1/sandbox/report/quota").json[0]["used"], 2)

    def test_16_concurrent_submissions(self):
        org, admin, token = self.org("Concurrent Co")
        files = [os.urandom(1024) + bytes([i]) for i in range(15)] + [eicar()]

        def one(data):
            return data, self.submit(token, data)

        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            results = list(ex.map(one, files))
        for data, r in results:
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["md5"], hashlib.md5(data).hexdigest().upper())
            self.assertEqual(r.json["sandboxSubmission"], "Virus" if data == eicar() else "Submitted")
        self.assertEqual(admin.get("/api/v1/sandbox/report/quota").json[0]["used"], 16)

    def test_zz_no_secret_in_log(self):
        self.server.assert_no_secrets_in_log(self)


class InvalidTokenThrottleTest(SubmissionTest.__bases__[0]):
    """Its own server: the throttle is per client address, and every test here comes from 127.0.0.1."""
    org = SubmissionTest.org
    submit = SubmissionTest.submit

    def test_invalid_tokens_are_throttled_per_address(self):
        org, admin, token = self.org("Guess Co")
        bogus = "sbx_" + "A" * 49
        statuses = [self.submit(bogus, b"x").status for _ in range(25)]
        self.assertEqual(statuses[:20], [401] * 20)
        self.assertEqual(statuses[-1], 429)
        r = self.submit(token, b"even a good token waits")
        self.assertEqual(r.status, 429)
        self.assertIn("retry-after", r.headers)
        self.server.advance(400)
        try:
            self.assertEqual(self.submit(token, b"after the pause").status, 200)
        finally:
            self.server.advance(-400)


if __name__ == "__main__":
    unittest.main()
