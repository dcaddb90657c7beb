"""Hardening of the built binary and the running process (issue #6).

- The Release binary is a PIE with full RELRO (BIND_NOW + GNU_RELRO), the stack protector and
  _FORTIFY_SOURCE's checked functions (readelf). Skipped for sanitizer builds, which are not Release.
- `sandgate serve` is not dumpable (prctl(PR_SET_DUMPABLE, 0) in src/cli/main.cc): no core file
  holds its keys, and another process of the same user cannot ptrace it or read its /proc files.
  The kernel shows this as /proc/PID/* owned by root instead of the process's user, and refuses
  /proc/PID/environ to that same user. As root the server is started as `nobody` so the difference
  is visible. Skipped under ASan, where the CLI stays dumpable for LeakSanitizer."""
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import BIN

SANITIZED = os.environ.get("SANDGATE_SANITIZED") == "1"


def readelf(*args):
    return subprocess.run(["readelf", "-W", *args, BIN], capture_output=True, text=True, check=True).stdout


@unittest.skipIf(SANITIZED, "sanitizer builds are Debug builds without the Release hardening flags")
@unittest.skipUnless(shutil.which("readelf"), "readelf (binutils) is not installed")
class BinaryHardeningTest(unittest.TestCase):
    def test_position_independent_executable(self):
        self.assertRegex(readelf("-h"), r"Type:\s+DYN ")

    def test_full_relro(self):
        self.assertIn("GNU_RELRO", readelf("-l"))
        dyn = readelf("-d")
        self.assertTrue(re.search(r"\(FLAGS\)\s+.*BIND_NOW", dyn) or re.search(r"\(FLAGS_1\)\s+.*\bNOW\b", dyn),
                        "no BIND_NOW / FLAGS_1 NOW: relocations are not resolved at start")

    def test_stack_protector(self):
        self.assertIn("__stack_chk_fail", readelf("--dyn-syms"))

    def test_fortify_source(self):
        checked = set(re.findall(r"\b(__\w+_chk)\b", readelf("--dyn-syms")))
        checked.discard("__stack_chk_fail")
        self.assertTrue(checked, "no _FORTIFY_SOURCE checked functions (__*_chk) are imported")

    def test_no_executable_stack(self):
        stack = [l for l in readelf("-l").splitlines() if "GNU_STACK" in l]
        self.assertEqual(len(stack), 1)
        self.assertNotIn("E", stack[0].split()[-2], "the stack is executable")


@unittest.skipIf(SANITIZED, "under ASan the server stays dumpable (LeakSanitizer needs ptrace)")
class NotDumpableTest(unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="sandgate-dump-")
        self.user = None
        if os.getuid() == 0:
            try:
                self.user = pwd.getpwnam("nobody")
            except KeyError:
                self.skipTest("running as root and there is no user 'nobody' to run the server as")
            os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.data, 0o700)
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.data, ignore_errors=True)

    def start(self):
        data = os.path.join(self.data, "data")
        kw = {}
        if self.user:
            kw = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        self.proc = subprocess.Popen([BIN, "serve", "--listen", "127.0.0.1:0", "--data", data],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=self.data, **kw)
        log = os.path.join(data, "sandgate.log")
        deadline = time.time() + 30
        while time.time() < deadline:
            self.assertIsNone(self.proc.poll(), "the server exited")
            if os.path.exists(log):
                with open(log) as f:
                    if "listening on" in f.read():
                        return
            time.sleep(0.05)
        self.fail("the server did not start")

    def test_server_is_not_dumpable(self):
        self.start()
        pid = self.proc.pid
        server_uid = self.user.pw_uid if self.user else os.getuid()
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        self.assertEqual(int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1)), server_uid)
        # Non-dumpable: the kernel reports the per-process files as root's.
        self.assertNotEqual(server_uid, 0)
        self.assertEqual(os.stat(f"/proc/{pid}/environ").st_uid, 0, "/proc/PID/environ is not root's: dumpable")
        # And the server's own user cannot read its environment (ptrace-mode access check).
        probe = subprocess.run(
            ["python3", "-c", "import sys; open(sys.argv[1], 'rb').read()", f"/proc/{pid}/environ"],
            capture_output=True, text=True,
            **({"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []} if self.user else {}))
        self.assertNotEqual(probe.returncode, 0, "the server's user could read /proc/PID/environ")
        self.assertIn("PermissionError", probe.stderr)


if __name__ == "__main__":
    unittest.main()
