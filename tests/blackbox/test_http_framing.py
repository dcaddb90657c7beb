"""Request framing (issue #6): oversized headers get 431; ambiguous framing that could smuggle a
request past a proxy -- Content-Length with Transfer-Encoding, two Content-Lengths, codings other
than chunked, obsolete line folding, bare line feeds, a body on GET hiding a second request -- is
refused (400, or 501 for an unknown transfer coding) and the connection closed. Nothing reaches a
handler: the organization's submission count stays at zero. Raw sockets throughout."""
import re
import socket
import time

from harness import ServerTestCase


def exchange(port, data, timeout=10):
    """Sends raw bytes; returns (everything received until the server closed, closed?)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        got = b""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return got, True
            except socket.timeout:
                return got, False
            if not chunk:
                return got, True
            got += chunk
        return got, False


def statuses(raw):
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


class FramingTest(ServerTestCase):
    def setUp(self):
        if not hasattr(type(self), "token"):
            org, admin, viewer = self.new_org("Framing Co")
            r = self.provider().patch(f"/api/v1/provider/orgs/{org}",
                                      {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000})
            self.assertEqual(r.status, 200, r)
            type(self).admin = admin
            type(self).token = self.reveal(admin)

    def used(self):
        r = self.admin.get("/api/v1/sandbox/report/quota")
        self.assertEqual(r.status, 200, r)
        return r.json[0]["used"]

    def submit_head(self, extra):
        return (f"POST /zscsb/submit?api_token={self.token} HTTP/1.1\r\nHost: x\r\n"
                "Content-Type: application/octet-stream\r\n").encode() + extra

    def hidden_request(self):
        body = b"smuggled file"
        return (f"POST /zscsb/submit?api_token={self.token}&force=1 HTTP/1.1\r\nHost: x\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    def assertRefused(self, data, status):
        before = self.used()
        got, closed = exchange(self.server.port, data)
        self.assertEqual(statuses(got), [status], got)
        self.assertTrue(closed, "the connection stays open after a refused request")
        self.assertIn(b"connection: close", got.lower())
        self.assertEqual(self.used(), before, "a refused request reached the handler")

    def test_oversized_headers_get_431(self):
        got, closed = exchange(self.server.port,
                               b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertEqual(statuses(got), [431], got)
        self.assertTrue(closed)
        got, closed = exchange(self.server.port, b"GET /" + b"a" * 17000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(statuses(got), [431], got)
        # Just under the cap is fine.
        got, closed = exchange(self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 15000 +
                               b"\r\nConnection: close\r\n\r\n")
        self.assertEqual(statuses(got), [200], got[:200])

    def test_content_length_with_transfer_encoding(self):
        hidden = self.hidden_request()
        chunk = b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n"
        self.assertRefused(self.submit_head(b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk), 400)
        self.assertRefused(self.submit_head(b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" + chunk), 400)
        # Beast's parser lets Content-Length through with a coding other than chunked: the filter's
        # own check answers 400 (the coding alone would get 501). Issue 21, survivor 3.
        self.assertRefused(self.submit_head(b"Transfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\n" + hidden), 400)
        self.assertRefused(self.submit_head(b"Content-Length: 4\r\nTransfer-Encoding: gzip\r\n\r\n" + hidden), 400)

    def test_two_content_lengths(self):
        body = b"abcd" + self.hidden_request()
        n = len(body)
        self.assertRefused(self.submit_head(f"Content-Length: 4\r\nContent-Length: {n}\r\n\r\n".encode() + body), 400)
        self.assertRefused(self.submit_head(f"Content-Length: {n}\r\nContent-Length: {n}\r\n\r\n".encode() + body),
                           400)
        self.assertRefused(self.submit_head(f"Content-Length: {n}, 4\r\n\r\n".encode() + body), 400)

    def test_unknown_transfer_codings(self):
        hidden = self.hidden_request()
        chunked = b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n"
        self.assertRefused(self.submit_head(b"Transfer-Encoding: gzip, chunked\r\n\r\n" + chunked), 501)
        # Without chunked last the body has no length a proxy and we would agree on: what follows
        # would be read as the next request.
        self.assertRefused(self.submit_head(b"Transfer-Encoding: gzip\r\n\r\n" + hidden), 501)
        self.assertRefused(self.submit_head(b"Transfer-Encoding: identity\r\n\r\n" + hidden), 501)
        self.assertRefused(self.submit_head(b"Transfer-Encoding: xchunked\r\n\r\n" + hidden), 501)
        self.assertRefused(self.submit_head(b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                            chunked), 400)
        self.assertRefused(self.submit_head(b"Transfer-Encoding: chunked, chunked\r\n\r\n" + chunked), 400)

    def test_malformed_header_syntax(self):
        hidden = self.hidden_request()
        body = b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n"
        # Obsolete line folding: "X-Note: a\r\n Transfer-Encoding: chunked" is one field to some parsers.
        self.assertRefused(self.submit_head(b"X-Note: a\r\n Transfer-Encoding: chunked\r\n"
                                            b"Content-Length: 4\r\n\r\n" + body), 400)
        self.assertRefused(self.submit_head(b"X-Note: a\r\n\tmore\r\nContent-Length: 4\r\n\r\nabcd"), 400)
        # Whitespace before the colon, a bare LF, a bare CR.
        self.assertRefused(self.submit_head(b"Transfer-Encoding : chunked\r\n\r\n" + body), 400)
        self.assertRefused(self.submit_head(b"Content-Length: 4\nTransfer-Encoding: chunked\r\n\r\n" + body), 400)
        self.assertRefused(self.submit_head(b"Content-Length: 4\rTransfer-Encoding: chunked\r\n\r\n" + body), 400)

    def test_body_on_get_cannot_hide_a_request(self):
        hidden = self.hidden_request()
        self.assertRefused(f"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: {len(hidden)}\r\n\r\n".encode() +
                           hidden, 400)
        self.assertRefused(b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                           b"%x\r\n" % len(hidden) + hidden + b"\r\n0\r\n\r\n", 400)

    def test_well_framed_requests_still_work(self):
        # The control: the same submission, chunked and with Content-Length, pipelined, is counted.
        before = self.used()
        body = b"a well framed file\n"
        chunked = self.submit_head(b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        plain = self.submit_head(f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        got, closed = exchange(self.server.port, chunked + plain, timeout=60)
        self.assertEqual(statuses(got), [200, 200], got)
        self.assertGreater(self.used(), before)

    def test_binary_garbage_is_refused_at_once(self):
        # A TLS ClientHello on the plain port: no blank line will ever come; answered without waiting.
        started = time.time()
        got, closed = exchange(self.server.port, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
        self.assertEqual(statuses(got), [400], got)
        self.assertTrue(closed)
        self.assertLess(time.time() - started, 5)

    def test_every_answer_carries_each_security_header_once(self):
        # The server writes the security headers itself, as ready-made lines after the handler's
        # fields: each exactly once, whoever answered (a handler, the router, a refusal before any
        # handler), and Cache-Control once (no-store unless the answer has its own, like the
        # portal's no-cache).
        security = {b"server": b"sandgate", b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY", b"referrer-policy": b"no-referrer",
                    b"content-security-policy": b"default-src 'self'; frame-ancestors 'none'"}
        cases = [
            (b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, b"no-store"),
            (b"GET /no/such/thing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, b"no-store"),
            (b"POST /zscsb/submit?api_token=sbx_nope HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
             b"Connection: close\r\n\r\nx", 401, b"no-store"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200, b"no-cache"),
            (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", 400,
             b"no-store"),
        ]
        for request, status, cache in cases:
            got, _ = exchange(self.server.port, request)
            self.assertEqual(statuses(got), [status], got[:300])
            head = got.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]
            fields = [line.split(b":", 1) for line in head]
            names = [name.strip().lower() for name, _ in fields]
            for name, value in security.items():
                self.assertEqual(names.count(name), 1, (request, head))
                self.assertEqual(dict((n.strip().lower(), v.strip()) for n, v in fields)[name], value)
            self.assertEqual(names.count(b"cache-control"), 1, (request, head))
            self.assertIn((b"cache-control", cache), [(n.strip().lower(), v.strip()) for n, v in fields])
            self.assertNotIn(b"strict-transport-security", names)  # plain HTTP: no HSTS
