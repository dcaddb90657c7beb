"""`sandgate config check` and the systemd notification protocol of `serve` (issue 17)."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest

from harness import BIN, Server

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PACKAGED_CONFIG = os.path.join(ROOT, "debian", "sandgate.toml")


def run(*args):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class ConfigCheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sandgate-config-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, text):
        path = os.path.join(self.tmp, "c.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_every_serve_flag_has_a_config_key(self):
        code, out, _ = run("serve", "--help")
        self.assertEqual(code, 0)
        flags = set(re.findall(r"^\s+(?:-\w,\s*)?--([a-z][a-z0-9-]*)", out, re.M)) - {"help", "help-all", "config"}
        self.assertIn("listen", flags)
        code, out, err = run("config", "check", self.write(""))
        self.assertEqual(code, 0, err)
        keys = set(re.findall(r"^(\w+) = ", out, re.M))
        self.assertEqual(sorted(f for f in flags if f.replace("-", "_") not in keys), [])
        # Each key is accepted by the config file, too.
        for k in keys:
            value = out.split(f"\n{k} = ", 1)[1].split("\n", 1)[0] if f"\n{k} = " in out else None
            if value is None or value == '""':
                continue
            code, _, err = run("config", "check", self.write(f"{k} = {value}\n"))
            self.assertEqual(code, 0, (k, err))

    def test_the_packaged_config_documents_every_key(self):
        code, out, err = run("config", "check", PACKAGED_CONFIG)
        self.assertEqual(code, 0, err)
        keys = set(re.findall(r"^(\w+) = ", out, re.M))
        with open(PACKAGED_CONFIG) as f:
            documented = set(re.findall(r"^#? ?(\w+) = ", f.read(), re.M))
        self.assertEqual(sorted(keys - documented), [])
        self.assertIn('data = "/var/lib/sandgate"', out)

    def test_secrets_are_masked_and_values_applied(self):
        path = self.write('store = "postgres://sandgate:hunter2-secret@db:5432/sandgate"\n'
                          'listen = "0.0.0.0:9000"\nthreads = 3\ndemo = true\nnode_id = "n1"\n'
                          'submission_listen = "127.0.0.1:9001"\n')
        code, out, err = run("config", "check", path)
        self.assertEqual(code, 0, err)
        self.assertNotIn("hunter2-secret", out + err)
        self.assertIn('store = "postgres://sandgate:****@db:5432/sandgate"', out)
        self.assertIn('listen = "0.0.0.0:9000"', out)
        self.assertIn("threads = 3", out)
        self.assertIn("demo = true", out)
        self.assertIn('submission_listen = "127.0.0.1:9001"', out)

    def test_invalid_files_are_refused_with_the_key_named(self):
        for text, word in (('listen = "nowhere"\n', "listen"), ("threads = 9999\n", "threads"),
                           ("colour = 1\n", "colour"), ('tls_cert = "/x.pem"\n', "tls_key"),
                           ("demo = 1\n", "demo"), ('store = "mysql://x"\n', "store")):
            code, out, err = run("config", "check", self.write(text))
            self.assertEqual(code, 1, text)
            self.assertIn(word, err)
            self.assertIn("CONFIG_INVALID", err)
            self.assertEqual(out, "")
        code, _, err = run("config", "check", os.path.join(self.tmp, "missing.toml"))
        self.assertEqual(code, 1)

    def test_serve_reads_the_new_keys(self):
        # submission_listen from the config file: the Submission API gets its own listener.
        data = os.path.join(self.tmp, "data")
        os.makedirs(data)
        path = self.write('submission_listen = "127.0.0.1:0"\n')
        server = Server(data_dir=data, extra_args=["--config", path]).start()
        try:
            log = server.log_text()
            self.assertRegex(log, r"Submission API listening on http://127\.0\.0\.1:\d+")
        finally:
            server.stop()


class SystemdNotifyTest(unittest.TestCase):
    """The datagrams systemd would receive (Type=notify), on a real AF_UNIX socket."""

    def test_ready_watchdog_reloading_stopping(self):
        tmp = tempfile.mkdtemp(prefix="sandgate-notify-")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = os.path.join(tmp, "notify")
        sock.bind(path)
        sock.settimeout(60)
        data = os.path.join(tmp, "data")
        env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="1000000")
        proc = subprocess.Popen([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen = []
        try:
            def expect(state):
                for _ in range(30):  # bounded; watchdog pings interleave
                    msg = sock.recv(4096).decode()
                    seen.append(msg.split("\n")[0])
                    if msg.split("\n")[0] == state:
                        return msg
                self.fail(f"no {state} in {seen}")

            ready = expect("READY=1")
            self.assertRegex(ready, r"STATUS=listening on 127\.0\.0\.1:\d+")
            expect("WATCHDOG=1")
            proc.send_signal(signal.SIGHUP)
            reloading = expect("RELOADING=1")
            self.assertRegex(reloading, r"MONOTONIC_USEC=\d+")
            expect("READY=1")
            proc.send_signal(signal.SIGTERM)
            expect("STOPPING=1")
            self.assertEqual(proc.wait(60), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            sock.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
