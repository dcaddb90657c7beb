"""Black-box harness: starts the real `sandgate serve` on a free port with a temporary data
directory and drives it over real HTTP (http.client) and the real CLI (subprocess). Every
response read through http.client is held to the API contract, docs/openapi.yaml (contract.py).

Environment: SANDGATE_BIN is the binary under test (set by CTest)."""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import contract

# Every response any black-box test reads is checked against docs/openapi.yaml (contract.py).
contract.install()

BIN = os.environ.get("SANDGATE_BIN", os.path.join(os.path.dirname(__file__), "../../build/release/sandgate"))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None
        # Error bodies repeat X-Request-Id as "requestId" (issue 16): checked here for every
        # response of every test, then kept apart so that tests compare the rest of the body.
        self.request_id = None
        if isinstance(self.json, dict) and "requestId" in self.json:
            self.request_id = self.json.pop("requestId")
            assert self.request_id == headers.get("x-request-id"), (self.request_id, headers)

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Client:
    """One HTTP client with a cookie jar of one cookie (the session) and the CSRF token."""

    def __init__(self, port, ssl_context=None, source=None):
        self.port = port
        self.ssl_context = ssl_context  # set: HTTPS
        self.source = source  # local address to connect from, e.g. "127.0.0.7"
        self.cookie = None
        self.csrf = None
        self.conn = None

    def _connect(self):
        if self.conn is None:
            src = (self.source, 0) if self.source else None
            if self.ssl_context is not None:
                self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=300,
                                                        context=self.ssl_context, source_address=src)
            else:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300,
                                                       source_address=src)
        return self.conn

    def __del__(self):
        self.close()

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, headers=None, raw=None, csrf=True):
        h = {}
        if self.cookie:
            h["Cookie"] = "sg_session=" + self.cookie
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if headers:
            h.update(headers)
        for attempt in range(2):
            conn = self._connect()
            try:
                try:
                    conn.request(method, path, body=data, headers=h)
                except (BrokenPipeError, ConnectionResetError):
                    # The server may answer (413, 400) and close before the whole body is sent;
                    # its answer is still in our receive buffer, so read it before giving up.
                    pass
                r = conn.getresponse()
                payload = r.read()
                hdrs = {k.lower(): v for k, v in r.getheaders()}
                if hdrs.get("connection", "").lower() == "close":
                    self.close()
                return Response(r.status, hdrs, payload.decode("utf-8", "replace"))
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 1:
                    raise

    def login(self, username, password):
        r = self.request("POST", "/api/v1/authenticatedSession", {"username": username, "password": password})
        if r.status == 200:
            m = re.search(r"sg_session=([^;]*)", r.headers.get("set-cookie", ""))
            self.cookie = m.group(1)
            self.csrf = r.json["csrfToken"]
        return r

    get = lambda self, p, **kw: self.request("GET", p, **kw)
    post = lambda self, p, b=None, **kw: self.request("POST", p, b, **kw)
    put = lambda self, p, b=None, **kw: self.request("PUT", p, b, **kw)
    patch = lambda self, p, b=None, **kw: self.request("PATCH", p, b, **kw)
    delete = lambda self, p, b=None, **kw: self.request("DELETE", p, b, **kw)


# A server re-reads its clock file at most every 50 ms: after writing it, wait this long.
CLOCK_REREAD_WAIT = 0.12


def wait_for(predicate, timeout=30, interval=0.1):
    """True as soon as predicate() is, polling every `interval` s; False after `timeout` s."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def advance_clocks(servers, seconds):
    """Moves the clocks of `servers` forward by `seconds` together (one wait for all of them to
    see it)."""
    for s in servers:
        s.write_clock_offset(s.clock_offset + seconds)
    time.sleep(CLOCK_REREAD_WAIT)


def clear_of_midnight(servers, margin=120):
    """For a test that counts one day's usage: when the clocks of `servers` are within `margin`
    seconds of the next UTC midnight, jumps them all just past that midnight, so that the test's
    counts (and the clock moves it makes) stay on one day. A run that started at 23:58 UTC saw a
    daily count start again in the middle of a test."""
    to_midnight = 86400 - (time.time() + max(s.clock_offset for s in servers)) % 86400
    if to_midnight < margin:
        advance_clocks(servers, to_midnight + 1)


class Server:
    """A running `sandgate serve --demo` on 127.0.0.1 with its own data directory and clock file."""

    def __init__(self, data_dir=None, demo=True, extra_args=(), listen="127.0.0.1:0", ssl_context=None):
        self.owns_dir = data_dir is None
        self.data = data_dir or tempfile.mkdtemp(prefix="sandgate-test-")
        # Beside the data directory, named by its full path (not through "data/..": that stops
        # resolving once the directory is removed, and cleanup could not find the files).
        self.clock_file = os.path.abspath(self.data) + ".clock"
        self.clock_offset = 0.0
        self.set_clock_offset(0)
        # Storage faults (src/common/fault.h): empty = none; see set_faults.
        self.fault_file = os.path.abspath(self.data) + ".faults"
        self.set_faults("")
        self.demo = demo
        self.extra_args = list(extra_args)
        self.listen = listen
        self.ssl_context = ssl_context  # for clients when the server runs with --tls-cert
        self.scheme = None
        self.logins = {}
        self.proc = None
        self.port = None
        self.stdout_text = ""
        self.secrets = set()  # every secret the test saw; none may appear in the log

    def env(self):
        e = dict(os.environ)
        e["SANDGATE_TEST_CLOCK_FILE"] = self.clock_file
        e["SANDGATE_TEST_FAULT_FILE"] = self.fault_file
        return e

    def set_faults(self, text):
        """Arms storage faults in the server and its CLI, e.g. "store_write=eio",
        "store_write=enospc", "spool_write=enospc"; "" clears them. Seen at the next write."""
        tmp = self.fault_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.fault_file)  # a new inode: the server notices even a same-size change

    def write_clock_offset(self, seconds):
        """Writes the clock file without waiting for the server to read it (advance_clocks)."""
        self.clock_offset = seconds
        with open(self.clock_file, "w") as f:
            f.write(str(seconds))

    def set_clock_offset(self, seconds):
        self.write_clock_offset(seconds)
        time.sleep(CLOCK_REREAD_WAIT)

    def advance(self, seconds):
        self.set_clock_offset(self.clock_offset + seconds)

    def clear_of_midnight(self, margin=120):
        """clear_of_midnight for this server alone."""
        clear_of_midnight([self], margin)

    def start(self):
        args = [BIN, "serve", "--listen", self.listen, "--data", self.data] + self.extra_args
        if self.demo:
            args.append("--demo")
        self.stdout_path = self.data + ".stdout"
        self.stdout_file = open(self.stdout_path, "w")
        log = os.path.join(self.data, "sandgate.log")
        offset = os.path.getsize(log) if os.path.exists(log) else 0  # a restart appends to the log
        self.proc = subprocess.Popen(args, stdout=self.stdout_file, stderr=subprocess.STDOUT, env=self.env())
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.read_stdout())
            if os.path.exists(log):
                with open(log) as f:
                    f.seek(offset)
                    m = re.findall(r"sandgate \S+ listening on (https?)://\S+:(\d+) ", f.read())
                if m:
                    self.scheme, self.port = m[0][0], int(m[0][1])
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("server did not start: " + self.read_stdout())
        out = self.read_stdout()
        for user, pw in re.findall(r"(provider|acme-admin|acme-viewer)\s*/ (\S+)", out):
            self.logins[user] = pw
            self.secrets.add(pw)
        m = re.search(r"provider admin 'admin' created with password (\S+)", out)
        if m:
            self.logins["admin"] = m.group(1)
            self.secrets.add(m.group(1))
        return self

    def read_stdout(self):
        with open(self.stdout_path) as f:
            return f.read()

    def client(self, source=None):
        return Client(self.port, self.ssl_context, source)

    def login(self, user, password=None, source=None):
        c = self.client(source)
        r = c.login(user, password or self.logins[user])
        assert r.status == 200, r
        self.secrets.add(c.cookie)
        self.secrets.add(c.csrf)
        return c

    def cli(self, *args, input=None):
        """Runs `sandgate ARGS --data DIR`; returns (exit code, stdout, stderr)."""
        args = list(args)
        if not any(a == "--help" for a in args):
            args += ["--data", self.data]
        p = subprocess.run([BIN] + args, capture_output=True, text=True, env=self.env(), input=input, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def verify(self, token):
        self.secrets.add(token)
        code, out, _ = self.cli("token", "verify", "-", input=token + "\n")
        return code == 0, out

    def log_text(self):
        path = os.path.join(self.data, "sandgate.log")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode if self.proc else None
        if self.proc:
            self.stdout_file.close()
        return rc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.stdout_file.close()

    def assert_no_secrets_in_log(self, test):
        if self.proc and self.proc.poll() is None:
            time.sleep(1.2)  # request lines are buffered for up to a second (cli/main.cc)
        log = self.log_text()
        for s in self.secrets:
            if s and len(s) >= 8:
                test.assertNotIn(s, log, "a secret appears in the server log")

    def cleanup(self):
        self.stop()
        if self.owns_dir:
            shutil.rmtree(self.data, ignore_errors=True)
            for p in (self.clock_file, self.fault_file, self.data + ".stdout"):
                if os.path.exists(p):
                    os.remove(p)


class ServerTestCase(unittest.TestCase):
    """One server per test class, started once; each test gets fresh clients."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server().start()

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            cls.server.cleanup()

    def provider(self):
        return self.server.login("provider")

    def new_org(self, name, activate=True, ends_at=None):
        """Creates an organization with an admin and a read-only user. Returns (org id, admin, viewer)."""
        p = self.provider()
        r = p.post("/api/v1/provider/orgs", {"name": name})
        self.assertEqual(r.status, 201, r)
        org = r.json["id"]
        if activate:
            body = {"action": "activate"}
            if ends_at:
                body["endsAt"] = ends_at
            r = p.post(f"/api/v1/provider/orgs/{org}/subscription", body)
            self.assertEqual(r.status, 200, r)
        clients = []
        for role, suffix in (("ORG_ADMIN", "admin"), ("ORG_READONLY", "viewer")):
            uname = re.sub(r"[^a-z0-9]", "", name.lower()) + "-" + suffix
            r = p.post(f"/api/v1/provider/orgs/{org}/users", {"username": uname, "role": role})
            self.assertEqual(r.status, 201, r)
            self.server.secrets.add(r.json["password"])
            self.server.logins[uname] = r.json["password"]
            clients.append(self.server.login(uname, r.json["password"]))
        return org, clients[0], clients[1]

    def reveal(self, client):
        r = client.get("/api/v1/sandbox/token/reveal")
        self.assertEqual(r.status, 200, r)
        tok = r.json["token"]
        self.server.secrets.add(tok)
        return tok

    def assertError(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["code"], code, r)
        self.assertTrue(r.json["message"], r)
