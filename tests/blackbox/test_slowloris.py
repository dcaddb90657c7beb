"""Slow clients and connection caps (issue #6).

A slowloris attack opens many connections and sends each header a byte at a time, to hold every
connection slot. Sandgate bounds it three ways: the header must be complete within the header
timeout (10 s) of the connection's start however steadily bytes arrive; one client address holds
at most --max-connections-per-address connections (default 256; over the cap a connection is closed
before a byte is read); and --max-connections caps the whole listener (default 10000).

The tests drip from 500 connections -- 300 from one address and 200 spread over 40 more
(127.0.0.x, bound per socket) -- and show that ordinary requests from 127.0.0.1 are served promptly
meanwhile, that the one address gets only its 256 slots, and that every dripping connection is
closed by the header timeout. With low caps, connections beyond them are refused."""
import http.client
import resource
import select
import socket
import threading
import time
import unittest

from harness import Server

HEADER_TIMEOUT = 10
PROMPT = 2.0  # seconds: a generous bound for an ordinary request while the attack runs


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def timed_get(port, path="/healthz", source=None):
    started = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0) if source else None)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return r.status, time.monotonic() - started
    finally:
        c.close()


def connect_from(port, source):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def is_closed(s, wait=0.0):
    """True when the server closed (or reset, or refused with a 503) the connection."""
    r, _, _ = select.select([s], [], [], wait)
    if not r:
        return False
    try:
        data = s.recv(4096, socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    except OSError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 503")


class SlowlorisTest(unittest.TestCase):
    def setUp(self):
        raise_fd_limit()
        self.server = Server().start()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.server.cleanup()

    def test_dripping_connections_do_not_starve_other_clients(self):
        port = self.server.port
        one = [connect_from(port, "127.0.0.2") for _ in range(300)]
        many = [connect_from(port, f"127.0.0.{3 + i % 40}") for i in range(200)]
        self.socks = one + many
        started = time.monotonic()
        header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 100
        stop = threading.Event()

        def drip():
            i = 0
            while not stop.is_set() and i < len(header):
                tick = time.monotonic()
                for s in self.socks:
                    try:
                        s.send(header[i:i + 1], socket.MSG_DONTWAIT)
                    except OSError:
                        pass
                i += 1
                stop.wait(max(0.0, 1.0 - (time.monotonic() - tick)))

        dripper = threading.Thread(target=drip)
        dripper.start()
        try:
            # One address got its 256 slots; the rest of its connections were closed at once.
            refused = set()
            wait_until = time.monotonic() + 5
            while len(refused) < 300 - 256 and time.monotonic() < wait_until:
                refused.update(i for i, s in enumerate(one) if i not in refused and is_closed(s))
                time.sleep(0.1)
            self.assertEqual(len(refused), 300 - 256)
            self.assertEqual(sum(is_closed(s) for s in many), 0)
            # Ordinary clients are served promptly while 456 connections drip.
            durations = []
            while time.monotonic() - started < HEADER_TIMEOUT - 2:
                for path, want in (("/healthz", 200), ("/api/v1/sandbox/token", 401)):
                    status, took = timed_get(port, path)
                    self.assertEqual(status, want)
                    durations.append(took)
                time.sleep(0.3)
            self.assertGreater(len(durations), 10)
            self.assertLess(max(durations), PROMPT, durations)
            # A byte a second does not keep a header alive: every dripping connection is closed by
            # the header timeout, counted from the connection's start.
            deadline = started + HEADER_TIMEOUT + 3
            open_socks = [s for s in self.socks if not is_closed(s)]
            while open_socks and time.monotonic() < deadline:
                open_socks = [s for s in open_socks if not is_closed(s, 0.2)]
            self.assertEqual(len(open_socks), 0, "dripping connections outlived the header timeout")
            self.assertTrue(dripper.is_alive(), "the drip ended before the check")
        finally:
            stop.set()
            dripper.join()
        self.assertEqual(timed_get(port, "/healthz", "127.0.0.2")[0], 200)  # its slots are free again


class KeepAliveDripTest(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.cleanup()

    def test_second_request_header_is_bounded_from_its_first_byte(self):
        # A kept-alive connection may idle (60 s) before its next request; once that request's
        # first byte arrives its header must be complete within the header timeout, however
        # steadily the rest drips.
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
            time.sleep(2)  # idle: allowed
            header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: " + b"a" * 100
            first_byte = time.monotonic()
            closed_after = None
            for i in range(len(header)):
                if is_closed(s, 1.0):
                    closed_after = time.monotonic() - first_byte
                    break
                try:
                    s.send(header[i:i + 1])
                except OSError:
                    closed_after = time.monotonic() - first_byte
                    break
            self.assertIsNotNone(closed_after, "a dripping header kept the connection open")
            self.assertGreaterEqual(closed_after, HEADER_TIMEOUT - 1)
            self.assertLess(closed_after, HEADER_TIMEOUT + 3)
        finally:
            s.close()


class ConnectionCapTest(unittest.TestCase):
    def setUp(self):
        raise_fd_limit()
        self.server = Server(extra_args=["--max-connections", "60", "--max-connections-per-address", "20"]).start()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.server.cleanup()

    def keepalive(self, source):
        """An admitted connection: one request answered, kept alive."""
        c = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10, source_address=(source, 0))
        c.request("GET", "/healthz")
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 200)
        self.socks.append(c)
        return c

    def test_per_address_and_total_caps(self):
        port = self.server.port
        held = [self.keepalive("127.0.0.9") for _ in range(20)]
        # The 21st connection from that address is closed without being read.
        s = connect_from(port, "127.0.0.9")
        self.socks.append(s)
        self.assertTrue(is_closed(s, 3), "a connection over the per-address cap was kept")
        # Other addresses are not affected.
        status, took = timed_get(port, "/healthz", "127.0.0.1")
        self.assertEqual(status, 200)
        self.assertLess(took, PROMPT)
        # A slot freed is a slot available again.
        held[0].close()
        time.sleep(0.3)
        self.assertEqual(timed_get(port, "/healthz", "127.0.0.9")[0], 200)
        # The total cap: 19 + 20 + 20 open now, one more connection fits, then nobody gets in.
        for _ in range(20):
            self.keepalive("127.0.0.10")
        for _ in range(20):
            self.keepalive("127.0.0.11")
        self.keepalive("127.0.0.12")
        s = connect_from(port, "127.0.0.1")
        self.socks.append(s)
        self.assertTrue(is_closed(s, 3), "a connection over the total cap was kept")
        self.assertRegex(self.server.log_text(), r"connection from \S+ refused: over the (per-address|total) "
                                                 r"connection cap")


if __name__ == "__main__":
    unittest.main()
