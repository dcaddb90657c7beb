#!/usr/bin/env python3
"""`make shutdown-loop`: SIGTERM a loaded `sandgate serve` N times; every stop must be clean.

Each round starts the server (a copy of one demo data directory), runs a few client threads that
log in (a handler on the blocking pool, as the password hash is) and read the token page (a
handler on the I/O threads) over keep-alive connections, and after a random delay sends SIGTERM
the moment the next login is answered (the crash needed exactly that moment), and requires exit status 0, the "stopped" line in the log, and no sanitizer report in the
output. Issue 21: once in ~216 runs the server died with SIGSEGV here, because a blocking-pool
coroutine finished (released its hold on an I/O thread's io_context) after Server::Run had
destroyed that io_context.

Usage: shutdown-loop.py SANDGATE_BIN [ROUNDS]   (env SHUTDOWN_LOOP_SEED: the random seed)
Time: measured on 2 cores shared with other builds (load ~15): ~3 s a round, Release or ASan
(500 rounds: 26 minutes in Release, ~20 under ASan); less on an idle machine.
Every loop is bounded in count and time; traffic goes to 127.0.0.1 only."""
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:", "SEGV", "ThreadSanitizer:")


def start(binary, data, out_path):
    out = open(out_path, "w")
    log = os.path.join(data, "sandgate.log")
    offset = os.path.getsize(log) if os.path.exists(log) else 0
    env = dict(os.environ)
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data", data, "--demo",
                             "--threads", "2"], stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            out.close()
            raise RuntimeError("server exited at start: " + open(out_path).read()[-2000:])
        if os.path.exists(log):
            with open(log) as f:
                f.seek(offset)
                m = re.search(r"listening on http://\S+:(\d+) ", f.read())
            if m:
                return proc, out, int(m.group(1)), offset
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    out.close()
    raise RuntimeError("server did not start")


class Trigger:
    """Sends SIGTERM once, from the first load thread that gets a login answer after arm():
    the moment the crash of issue 21 needed (a blocking-pool handler just answered)."""

    def __init__(self, proc):
        self.proc = proc
        self.armed = threading.Event()
        self.lock = threading.Lock()
        self.fired = False

    def after_login(self):
        if not self.armed.is_set():
            return
        with self.lock:
            if not self.fired:
                self.fired = True
                self.proc.send_signal(signal.SIGTERM)

    def fire(self):
        self.after_login()


def load(port, password, stop_at, ready, done, trigger):
    """Logs in and reads the token page until the server has exited or stop_at passes."""
    conn = None
    while time.time() < stop_at and not done.is_set():
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            body = json.dumps({"username": "acme-viewer", "password": password})
            conn.request("POST", "/api/v1/authenticatedSession", body=body,
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            trigger.after_login()
            cookie = re.search(r"sg_session=([^;]*)", r.getheader("set-cookie") or "")
            ready.set()
            if cookie:
                conn.request("GET", "/api/v1/sandbox/token",
                             headers={"Cookie": "sg_session=" + cookie.group(1)})
                conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.005)
    if conn is not None:
        conn.close()


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    binary = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    seed = int(os.environ.get("SHUTDOWN_LOOP_SEED", str(int(time.time()))))
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="sandgate-shutdown-loop-")
    template = os.path.join(work, "template")
    failures = 0
    started = time.time()
    try:
        # One demo data directory, made once: its passwords are printed on first start only.
        proc, out, _, _ = start(binary, template, os.path.join(work, "first.out"))
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        out.close()
        text = open(os.path.join(work, "first.out")).read()
        password = re.search(r"acme-viewer\s*/ (\S+)", text).group(1)
        for i in range(rounds):
            data = os.path.join(work, "d%d" % i)
            shutil.copytree(template, data)
            out_path = data + ".out"
            proc, out, port, offset = start(binary, data, out_path)
            ready, done = threading.Event(), threading.Event()
            trigger = Trigger(proc)
            stop_at = time.time() + 20
            threads = [threading.Thread(target=load,
                                        args=(port, password, stop_at, ready, done, trigger))
                       for _ in range(4)]
            for t in threads:
                t.start()
            ready.wait(10)
            time.sleep(rng.uniform(0, 0.15))
            trigger.armed.set()  # SIGTERM right after the next login answer
            deadline = time.time() + 10
            while not trigger.fired and time.time() < deadline:
                time.sleep(0.005)
            trigger.fire()  # no login answered in time: send it anyway
            try:
                rc = proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            done.set()
            out.close()
            for t in threads:
                t.join(30)
            text = open(out_path, errors="replace").read()
            with open(os.path.join(data, "sandgate.log"), errors="replace") as f:
                f.seek(offset)
                log = f.read()
            marks = [m for m in SANITIZER_MARKS if m in text]
            if rc != 0 or marks or "stopped" not in log:
                failures += 1
                keep = os.path.join(work, "failure-%d.out" % i)
                shutil.copy(out_path, keep)
                print("round %d: exit %s%s%s (output kept in %s)" % (
                    i, rc, ", sanitizer report" if marks else "",
                    "" if "stopped" in log else ", no 'stopped' line", keep), flush=True)
                print(text[-4000:], flush=True)
            shutil.rmtree(data, ignore_errors=True)
            if not (marks or rc != 0):
                os.remove(out_path)
            if (i + 1) % 50 == 0:
                print("shutdown-loop: %d/%d rounds, %d failed (%.0f s)" % (
                    i + 1, rounds, failures, time.time() - started), flush=True)
    finally:
        if failures == 0:
            shutil.rmtree(work, ignore_errors=True)
    print("shutdown-loop: %s: %d SIGTERMs under load, %d failed, seed %d, %.0f s" % (
        binary, rounds, failures, seed, time.time() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
