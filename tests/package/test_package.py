#!/usr/bin/env python3
"""`make test-package`: installs build/deb/sandgate_*.deb (built by `make deb`) on this machine
with apt-get, checks what it installed, runs the installed binary as the `sandgate` user with the
packaged config against a temporary data directory (the unit's ExecStart line, with --data and
--listen added; systemd is not PID 1 here, so the sandboxing itself is not exercised, but the
notification protocol is: a real AF_UNIX datagram socket stands in for systemd's), checks /healthz,
then purges the package and checks that nothing but the data directory remains.

Needs root (apt-get, the sandgate user). Python standard library only."""
import glob
import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEB_DIR = os.environ.get("DEB_OUT", os.path.join(ROOT, "build", "deb"))
UNIT = "/lib/systemd/system/sandgate.service"


def run(*args, check=True, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def installed():
    p = run("dpkg-query", "-W", "-f=${Status}", "sandgate", check=False)
    return "install ok installed" in p.stdout or "config-files" in p.stdout


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        debs = glob.glob(os.path.join(DEB_DIR, "sandgate_*_*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"expected one sandgate_*.deb in {DEB_DIR} (run `make deb`): {debs}")
        cls.deb = debs[0]
        if installed():
            run("apt-get", "purge", "-y", "-qq", "sandgate")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", cls.deb, env=env)
        cls.files = [l for l in run("dpkg-query", "-L", "sandgate").stdout.splitlines() if l]

    def test_1_contents(self):
        for path in ("/usr/bin/sandgate", "/etc/sandgate/sandgate.toml", UNIT,
                     "/usr/share/man/man1/sandgate.1.gz", "/usr/share/sandgate/signatures/sandgate.ndb",
                     "/usr/share/sandgate/signatures/sandgate.hdb", "/usr/share/sandgate/rules/elf.yar"):
            self.assertIn(path, self.files)
            self.assertTrue(os.path.exists(path), path)
        conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "sandgate").stdout
        self.assertIn("/etc/sandgate/sandgate.toml", conffiles)
        pw = run("getent", "passwd", "sandgate").stdout.split(":")
        self.assertEqual(pw[5], "/var/lib/sandgate")
        self.assertIn(pw[6].strip(), ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"))
        st = os.stat("/var/lib/sandgate")
        self.assertEqual(st.st_mode & 0o7777, 0o700)
        self.assertEqual(st.st_uid, int(pw[2]))
        # The packaged config is valid and documents every key `config check` knows.
        out = run("/usr/bin/sandgate", "config", "check", "/etc/sandgate/sandgate.toml").stdout
        keys = re.findall(r"^(\w+) = ", out, re.M)
        with open("/etc/sandgate/sandgate.toml") as f:
            documented = set(re.findall(r"^#? ?(\w+) = ", f.read(), re.M))
        self.assertEqual(sorted(set(keys) - documented), [])
        # The man page renders without a groff warning.
        p = run("man", "--warnings", "-l", "-Tutf8", "/usr/share/man/man1/sandgate.1.gz", check=False,
                env=dict(os.environ, MANWIDTH="80"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.strip(), "")
        self.assertIn("backup", p.stdout)

    def test_2_unit(self):
        p = run("systemd-analyze", "verify", UNIT, check=False)
        self.assertEqual((p.returncode, p.stdout.strip(), p.stderr.strip()), (0, "", ""))
        # systemd is not PID 1 here: the offline analysis of the unit file.
        p = run("systemd-analyze", "security", "--offline=true", UNIT, check=False)
        m = re.search(r"Overall exposure level for sandgate.service: ([0-9.]+)", p.stdout)
        self.assertIsNotNone(m, p.stdout + p.stderr)
        print(f"systemd-analyze security --offline=true: {m.group(1)}", file=sys.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0)
        with open(UNIT) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^Type=notify$")
        self.assertRegex(unit, r"(?m)^User=sandgate$")
        self.assertRegex(unit, r"(?m)^ExecReload=/bin/kill -HUP \$MAINPID$")

    def test_3_serve_as_the_unit(self):
        with open(UNIT) as f:
            unit = f.read()
        # What the unit sets for the process that this test can reproduce without systemd: the
        # command line, User=, Group= and UMask=.
        exec_start = re.search(r"(?m)^ExecStart=(.*)$", unit).group(1)
        umask = int(re.search(r"(?m)^UMask=(\d+)$", unit).group(1), 8)
        user = re.search(r"(?m)^User=(\S+)$", unit).group(1)
        group = re.search(r"(?m)^Group=(\S+)$", unit).group(1)
        data = tempfile.mkdtemp(prefix="sandgate-pkg-")
        sockdir = tempfile.mkdtemp(prefix="sandgate-notify-")
        try:
            shutil.chown(data, "sandgate", "sandgate")
            os.chmod(data, 0o700)
            os.chmod(sockdir, 0o755)
            notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            notify_path = os.path.join(sockdir, "notify")
            notify.bind(notify_path)
            os.chmod(notify_path, 0o777)
            notify.settimeout(30)
            args = shlex.split(exec_start) + ["--data", data, "--listen", "127.0.0.1:0"]
            env = {"PATH": "/usr/bin:/bin", "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "2000000"}
            proc = subprocess.Popen(["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups",
                                     "--"] + args, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, umask=umask)
            try:
                seen = []

                def expect(state):
                    for _ in range(20):  # bounded: watchdog pings interleave
                        msg = notify.recv(4096).decode()
                        seen.append(msg)
                        if msg.split("\n")[0] == state:
                            return msg
                    self.fail(f"no {state} among {seen}")

                ready = expect("READY=1")
                port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", ready).group(1))
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/healthz")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
                conn.close()
                expect("WATCHDOG=1")
                proc.send_signal(signal.SIGHUP)
                expect("RELOADING=1")
                expect("READY=1")
                proc.send_signal(signal.SIGTERM)
                expect("STOPPING=1")
                self.assertEqual(proc.wait(60), 0)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                out = proc.stdout.read()
                proc.stdout.close()
                notify.close()
            # It ran as sandgate: everything it created belongs to sandgate, private to it.
            for name in ("sandgate.db", "sandgate.key", "sandgate.log"):
                st = os.stat(os.path.join(data, name))
                self.assertEqual(st.st_uid, int(run("id", "-u", "sandgate").stdout), name)
                self.assertEqual(st.st_mode & 0o077, 0, name)
            self.assertIn("listening on", out)
        finally:
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(sockdir, ignore_errors=True)

    def test_4_purge(self):
        run("apt-get", "purge", "-y", "-qq", "sandgate", env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertFalse(installed())
        left = [f for f in self.files if os.path.lexists(f) and not os.path.isdir(f)]
        self.assertEqual(left, [])
        left_dirs = [f for f in self.files if os.path.isdir(f) and "sandgate" in f
                     and not f.startswith("/var/lib/sandgate")]
        self.assertEqual(left_dirs, [])
        for path in ("/etc/sandgate", "/usr/share/sandgate", "/usr/bin/sandgate", UNIT):
            self.assertFalse(os.path.lexists(path), path)
        # The data directory stays (policy: purge keeps data a user may still want).
        self.assertTrue(os.path.isdir("/var/lib/sandgate"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
