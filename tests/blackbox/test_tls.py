"""TLS (issue #6): `serve --tls-cert --tls-key` serves HTTPS on the main listener and on
--submission-listen; only TLS 1.2 and later; Strict-Transport-Security on every response; the
session cookie is Secure. Plain HTTP on a non-loopback address is warned about at start; a bad
certificate or key path stops `serve` with a clear error."""
import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import unittest
import warnings

from harness import BIN, Server, ServerTestCase

HSTS = "max-age=31536000"


def make_cert(directory, name="server"):
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def old_tls_client_context():
    """A client that speaks only TLS 1.0/1.1 (security level 0 so OpenSSL itself allows it)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


class TlsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="sandgate-tls-")
        cls.cert, cls.key = make_cert(cls.dir)
        cls.ctx = ssl.create_default_context(cafile=cls.cert)
        cls.server = Server(extra_args=["--tls-cert", cls.cert, "--tls-key", cls.key,
                                        "--submission-listen", "127.0.0.1:0"], ssl_context=cls.ctx).start()
        m = re.search(r"Submission API listening on https://127\.0\.0\.1:(\d+)", cls.server.log_text())
        cls.sub_port = int(m.group(1))

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def handshake(self, ctx, port=None):
        with socket.create_connection(("127.0.0.1", port or self.server.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return s.version()

    def test_https_works_and_every_response_has_hsts(self):
        self.assertEqual(self.server.scheme, "https")
        c = self.server.client()
        for path, status in (("/healthz", 200), ("/api/v1/sandbox/token", 401), ("/no/such/thing", 404)):
            r = c.get(path)
            self.assertEqual(r.status, status, r)
            self.assertEqual(r.headers.get("strict-transport-security"), HSTS, path)
        self.assertIn(self.handshake(self.ctx), ("TLSv1.2", "TLSv1.3"))

    def test_tls12_client_is_served(self):
        ctx = ssl.create_default_context(cafile=self.cert)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.assertEqual(self.handshake(ctx), "TLSv1.2")

    def test_tls10_and_tls11_are_refused(self):
        # Control: this client does complete a TLS 1.0/1.1 handshake with a server that allows it,
        # so its failure against Sandgate is the server's refusal, not the client's own policy.
        srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        srv_ctx.load_cert_chain(self.cert, self.key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            srv_ctx.minimum_version = ssl.TLSVersion.TLSv1
        srv_ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def serve_one():
            conn, _ = listener.accept()
            try:
                srv_ctx.wrap_socket(conn, server_side=True).close()
            except (ssl.SSLError, OSError):
                conn.close()

        t = threading.Thread(target=serve_one)
        t.start()
        try:
            self.assertIn(self.handshake(old_tls_client_context(), listener.getsockname()[1]), ("TLSv1", "TLSv1.1"))
        finally:
            t.join(10)
            listener.close()
        for port in (self.server.port, self.sub_port):
            with self.assertRaises((ssl.SSLError, ConnectionResetError)):
                self.handshake(old_tls_client_context(), port)
        self.assertEqual(self.server.client().get("/healthz").status, 200)

    def test_plain_http_on_the_tls_port_gets_no_http_answer(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except ConnectionResetError:
                pass
        self.assertFalse(data.startswith(b"HTTP/"), data)

    def test_session_cookie_is_secure(self):
        c = self.server.client()
        r = c.login("provider", self.server.logins["provider"])
        self.assertEqual(r.status, 200, r)
        self.server.secrets.update([c.cookie, c.csrf])
        cookie = r.headers["set-cookie"]
        self.assertIn("; Secure", cookie)
        self.assertIn("HttpOnly", cookie)
        r = c.delete("/api/v1/authenticatedSession")
        self.assertIn("; Secure", r.headers.get("set-cookie", ""), r)

    def test_submission_api_over_tls(self):
        org, admin, viewer = self.new_org("Tls Co")
        token = self.reveal(admin)
        r = admin.get("/api/v1/sandbox/token")
        self.assertTrue(r.json["baseUrl"].startswith("https://127.0.0.1:"), r)
        conn = http.client.HTTPSConnection("127.0.0.1", self.sub_port, timeout=60, context=self.ctx)
        conn.request("POST", f"/zscsb/submit?api_token={token}", body=b"hello over tls\n",
                     headers={"Content-Type": "application/octet-stream"})
        r = conn.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200, body)
        self.assertEqual(r.getheader("Strict-Transport-Security"), HSTS)
        conn.request("POST", "/zscsb/submit?api_token=sbx_nope", body=b"x")
        r = conn.getresponse()
        r.read()
        self.assertEqual(r.status, 401)
        conn.close()
        self.server.assert_no_secrets_in_log(self)

    def test_no_plain_http_warning_on_tls(self):
        self.assertNotIn("plain HTTP", self.server.log_text())


class ConfigFileTest(unittest.TestCase):
    def test_tls_and_caps_from_the_config_file(self):
        d = tempfile.mkdtemp(prefix="sandgate-tls-config-")
        try:
            cert, key = make_cert(d)
            config = os.path.join(d, "sandgate.toml")
            with open(config, "w") as f:
                f.write(f'tls_cert = "{cert}"\ntls_key = "{key}"\nmax_connections = 500\n'
                        'max_connections_per_address = 7\n')
            s = Server(extra_args=["--config", config], ssl_context=ssl.create_default_context(cafile=cert)).start()
            try:
                self.assertEqual(s.scheme, "https")
                self.assertIn("connection caps: 500 per listener, 7 per client address", s.log_text())
                r = s.client().get("/healthz")
                self.assertEqual(r.status, 200)
                self.assertEqual(r.headers.get("strict-transport-security"), HSTS)
            finally:
                s.cleanup()
        finally:
            shutil.rmtree(d, ignore_errors=True)


class PlainHttpWarningTest(unittest.TestCase):
    def test_warning_on_a_non_loopback_address(self):
        s = Server(listen="0.0.0.0:0").start()
        try:
            self.assertEqual(s.scheme, "http")
            for text in (s.log_text(), s.read_stdout()):  # the log file and stderr
                self.assertRegex(text, r"warn.*plain HTTP on 0\.0\.0\.0:\d+.*token travels in the query string")
            self.assertEqual(s.client().get("/healthz").status, 200)
        finally:
            s.cleanup()

    def test_no_warning_on_loopback(self):
        s = Server().start()
        try:
            self.assertNotIn("plain HTTP", s.log_text())
        finally:
            s.cleanup()


class BadTlsFilesTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sandgate-tls-bad-")
        self.cert, self.key = make_cert(self.dir)
        self.other_cert, self.other_key = make_cert(self.dir, "other")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def serve(self, *args):
        data = os.path.join(self.dir, "data")
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data] + list(args),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr

    def test_missing_certificate_file(self):
        missing = os.path.join(self.dir, "nope.pem")
        rc, err = self.serve("--tls-cert", missing, "--tls-key", self.key)
        self.assertNotEqual(rc, 0)
        self.assertIn("certificate", err)
        self.assertIn(missing, err)
        self.assertIn("No such file", err)

    def test_missing_key_file(self):
        missing = os.path.join(self.dir, "nope.key")
        rc, err = self.serve("--tls-cert", self.cert, "--tls-key", missing)
        self.assertNotEqual(rc, 0)
        self.assertIn(missing, err)

    def test_key_not_matching_and_not_pem(self):
        rc, err = self.serve("--tls-cert", self.cert, "--tls-key", self.other_key)
        self.assertNotEqual(rc, 0)
        self.assertIn("does not match", err)
        rc, err = self.serve("--tls-cert", self.key, "--tls-key", self.key)  # a key is no certificate
        self.assertNotEqual(rc, 0)
        self.assertIn("certificate", err)

    def test_certificate_without_key(self):
        rc, err = self.serve("--tls-cert", self.cert)
        self.assertNotEqual(rc, 0)
        self.assertIn("--tls-key", err)


if __name__ == "__main__":
    unittest.main()
