"""Crash consistency (issue #6): mixed traffic — token regenerate/delete/add/reveal by organization
admins, disable/enable/expire/renew by the provider (API and CLI), submissions against a small
daily allowance, logins — while the server is killed with SIGKILL at random moments, then restarted
on the same data directory. After every restart the database (read directly, read-only) and the
API must agree with the audit trail and with every acknowledged (2xx) change:

- at most one token per organization;
- every acknowledged change is there with its audit record;
- nothing is half-applied: replaying the audit trail gives exactly the stored state (token,
  disabled flag, subscription), so an in-flight change happened whole, with its audit, or not at all;
- usage never exceeds the daily allowance, and covers every acknowledged submission;
- no spool file survives a restart.

50 kills in Release; fewer, shorter rounds under ASan (SANDGATE_SANITIZED=1). SANDGATE_CRASH_SEED
replays a run (the seed is printed on failure)."""
import collections
import os
import random
import sqlite3
import subprocess
import threading
import time
import unittest

from harness import BIN, Server

SANITIZED = os.environ.get("SANDGATE_SANITIZED") == "1"
ROUNDS = 12 if SANITIZED else 50
TRAFFIC_SECONDS = (0.3, 2.5) if SANITIZED else (0.05, 1.2)
ORGS = 3
DAILY_ALLOWANCE = 10
ROUNDS_PER_DAY = 4  # then the clock moves to the next UTC day: a fresh allowance, new sign-ins
DAY = 86400

TOKEN_SET = {"TOKEN_PROVISION", "TOKEN_ADD", "TOKEN_REGENERATE"}


class Ledger:
    """Acknowledged changes, recorded as soon as their 2xx response arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = collections.Counter()  # (org or user, audit action) -> acknowledged count
        self.fingerprints = []  # (org, audit action, last4) of acknowledged token changes
        self.submissions = collections.Counter()  # org -> acknowledged submissions
        self.md5s = []  # (org, md5)

    def change(self, org, action, last4=None):
        with self.lock:
            self.counts[(org, action)] += 1
            if last4:
                self.fingerprints.append((org, action, last4))

    def submission(self, org, md5):
        with self.lock:
            self.submissions[org] += 1
            self.md5s.append((org, md5))


class CrashConsistencyTest(unittest.TestCase):
    def setUp(self):
        self.seed = int(os.environ.get("SANDGATE_CRASH_SEED", random.randrange(1 << 30)))
        self.rng = random.Random(self.seed)
        self.server = Server()
        self.addCleanup(self.server.cleanup)
        self.ledger = Ledger()
        self.errors = []  # unexpected failures in traffic threads before the kill
        self.tokens = {}  # org -> the latest token text its admin revealed
        self.passwords = {}

    def fail_with_seed(self, msg):
        self.fail(f"{msg} (SANDGATE_CRASH_SEED={self.seed})")

    # --- Setup -------------------------------------------------------------------------------

    def set_up_orgs(self):
        p = self.server.login("provider")
        self.passwords["provider"] = self.server.logins["provider"]
        self.orgs = []
        for i in range(ORGS):
            r = p.post("/api/v1/provider/orgs", {"name": f"Crash {i}"})
            self.assertEqual(r.status, 201, r)
            org = r.json["id"]
            self.assertEqual(p.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": "activate"}).status, 200)
            r = p.patch(f"/api/v1/provider/orgs/{org}", {"dailyAllowance": DAILY_ALLOWANCE, "ratePerSecond": 1000,
                                                        "ratePerHour": 1000000, "disableThreshold": 50})
            self.assertEqual(r.status, 200, r)
            r = p.post(f"/api/v1/provider/orgs/{org}/users", {"username": f"crash{i}-admin", "role": "ORG_ADMIN"})
            self.assertEqual(r.status, 201, r)
            self.passwords[f"crash{i}-admin"] = r.json["password"]
            self.server.secrets.add(r.json["password"])
            self.orgs.append(org)
        self.admin_of = {org: f"crash{i}-admin" for i, org in enumerate(self.orgs)}

    # --- Traffic -----------------------------------------------------------------------------

    def login(self, user):
        c = self.server.client()
        r = c.login(user, self.passwords[user])
        if r.status == 200:
            self.ledger.change(user, "LOGIN")
            self.server.secrets.update((c.cookie, c.csrf))
            return c
        raise RuntimeError(f"login {user}: {r}")

    def client_of(self, user):
        """A new connection in `user`'s session (sessions survive restarts)."""
        c = self.server.client()
        c.cookie, c.csrf = self.sessions[user]
        return c

    def reveal(self, client, org):
        r = client.get("/api/v1/sandbox/token/reveal")
        if r.status == 200:
            self.ledger.change(org, "TOKEN_REVEAL")
            self.server.secrets.add(r.json["token"])
            self.tokens[org] = r.json["token"]
        return r

    def guarded(self, killed, fn):
        """Runs a traffic loop; failures after the kill are expected, before it they are errors."""
        def run():
            try:
                fn(killed)
            except Exception as e:  # noqa: BLE001 - the server may vanish mid-request
                if not killed.is_set():
                    self.errors.append(f"{fn.__name__}: {e!r}")
        return threading.Thread(target=run)

    def admin_traffic(self, org, client, rng):
        def admin(killed):
            while not killed.is_set():
                action = rng.choice(["regenerate", "regenerate", "delete", "add", "reveal"])
                if action == "regenerate":
                    r = client.put("/api/v1/sandbox/token")
                    if r.status == 200:
                        self.ledger.change(org, "TOKEN_REGENERATE", r.json["token"]["last4"])
                        self.reveal(client, org)
                elif action == "delete":
                    r = client.delete("/api/v1/sandbox/token")
                    if r.status == 200:
                        self.ledger.change(org, "TOKEN_DELETE")
                elif action == "add":
                    r = client.post("/api/v1/sandbox/token")
                    if r.status == 201:
                        self.ledger.change(org, "TOKEN_ADD", r.json["token"]["last4"])
                        self.reveal(client, org)
                else:
                    r = self.reveal(client, org)
                if r.status >= 500:
                    raise RuntimeError(f"{action}: {r}")
        return admin

    def provider_traffic(self, client, rng, cli_procs):
        def provider(killed):
            while not killed.is_set():
                org = rng.choice(self.orgs)
                action = rng.choice(["disable", "enable", "enable", "expire", "renew", "renew"])
                audit = {"disable": "TOKEN_DISABLE", "enable": "TOKEN_ENABLE",
                         "expire": "SUBSCRIPTION_EXPIRE", "renew": "SUBSCRIPTION_RENEW"}[action]
                if rng.random() < 0.15:
                    # The CLI: its own process on the same database; acknowledged by exit status 0.
                    args = [BIN, "org", action, str(org), "--data", self.server.data]
                    if action == "disable":
                        args += ["--reason", "OTHER"]
                    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                         env=self.server.env())
                    cli_procs.append((p, org, audit))
                    time.sleep(0.05)
                    continue
                if action in ("disable", "enable"):
                    body = {"reason": "TERMS_VIOLATION", "note": "crash test"} if action == "disable" else None
                    r = client.post(f"/api/v1/provider/orgs/{org}/token/{action}", body)
                else:
                    r = client.post(f"/api/v1/provider/orgs/{org}/subscription", {"action": action})
                if r.status == 200:
                    self.ledger.change(org, audit)
                elif r.status >= 500:
                    raise RuntimeError(f"{action}: {r}")
                time.sleep(rng.uniform(0, 0.03))
        return provider

    def submit_traffic(self, rng):
        def submitter(killed):
            c = self.server.client()
            while not killed.is_set():
                org = rng.choice(self.orgs)
                token = self.tokens.get(org)
                if not token:
                    time.sleep(0.01)
                    continue
                data = os.urandom(48)
                r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=data,
                              headers={"Content-Type": "application/octet-stream"})
                if r.status == 200:
                    self.ledger.submission(org, r.json["md5"])
                elif r.status >= 500:
                    raise RuntimeError(f"submit: {r}")
                elif r.status == 429:
                    time.sleep(0.02)
        return submitter

    def login_traffic(self, rng):
        def logins(killed):
            while not killed.is_set():
                self.login(rng.choice(sorted(self.passwords)))
                time.sleep(rng.uniform(0, 0.1))
        return logins

    # --- Checks ------------------------------------------------------------------------------

    def check(self, round_no):
        where = f"after restart {round_no}"
        spool = os.path.join(self.server.data, "spool")
        stray = [f for f in os.listdir(spool) if f.startswith("upload-")] if os.path.isdir(spool) else []
        self.assertEqual(stray, [], f"{where}: spool files survived the restart")

        db = sqlite3.connect(f"file:{os.path.join(self.server.data, 'sandgate.db')}?mode=ro", uri=True)
        try:
            tokens = db.execute("SELECT org_id, count(*), max(last4) FROM tokens GROUP BY org_id").fetchall()
            orgs = {r[0]: r[1:] for r in db.execute(
                "SELECT id, subscription, provider_disabled, daily_allowance FROM orgs").fetchall()}
            audit = db.execute("SELECT id, org_id, actor, action, outcome, token_fp FROM audit ORDER BY id").fetchall()
            usage = db.execute("SELECT org_id, day, used FROM usage").fetchall()
            reports = set(db.execute("SELECT org_id, md5 FROM reports").fetchall())
        finally:
            db.close()

        # At most one token per organization.
        for org, n, _ in tokens:
            self.assertEqual(n, 1, f"{where}: organization {org} has {n} tokens")
        token_of = {org: last4 for org, _, last4 in tokens}

        # Replaying the audit trail gives exactly the stored state: nothing half-applied.
        allowed = [a for a in audit if a[4] == "ALLOWED"]
        for org in self.orgs:
            token, disabled, sub = None, 0, "NONE"
            for _, a_org, _, action, _, fp in allowed:
                if a_org != org:
                    continue
                if action in TOKEN_SET:
                    token = fp
                elif action == "TOKEN_DELETE":
                    token = None
                elif action == "TOKEN_DISABLE":
                    disabled = 1
                elif action == "TOKEN_ENABLE":
                    disabled = 0
                elif action in ("SUBSCRIPTION_ACTIVATE", "SUBSCRIPTION_RENEW"):
                    sub = "ACTIVE"
                elif action == "SUBSCRIPTION_EXPIRE":
                    sub = "EXPIRED"
            self.assertEqual(token_of.get(org), token, f"{where}: org {org} token row vs its audit trail")
            self.assertEqual(orgs[org][1], disabled, f"{where}: org {org} disabled flag vs its audit trail")
            self.assertEqual(orgs[org][0], sub, f"{where}: org {org} subscription vs its audit trail")

        # Every acknowledged change is there with its audit record.
        audited = collections.Counter()
        fps = set()
        for _, a_org, actor, action, _, fp in allowed:
            audited[(actor if action == "LOGIN" else a_org, action)] += 1
            fps.add((a_org, action, fp))
        for key, n in self.ledger.counts.items():
            self.assertGreaterEqual(audited[key], n, f"{where}: acknowledged {key} x{n}, audited x{audited[key]}")
        for org, action, last4 in self.ledger.fingerprints:
            self.assertIn((org, action, last4), fps, f"{where}: acknowledged {action} of org {org} not audited")

        # Usage: within the allowance every day, and covering every acknowledged submission.
        used = collections.Counter()
        for org, day, n in usage:
            self.assertLessEqual(n, orgs[org][2], f"{where}: org {org} day {day} used {n}")
            used[org] += n
        for org, n in self.ledger.submissions.items():
            self.assertGreaterEqual(used[org], n, f"{where}: org {org}: {n} acknowledged submissions")
        for org, md5 in self.ledger.md5s:
            self.assertIn((org, md5), reports, f"{where}: acknowledged submission without its report")

        # The restarted server (its token index) and the CLI agree with the database.
        p = self.client_of("provider")
        for org in self.orgs:
            r = p.get(f"/api/v1/provider/orgs/{org}")
            self.assertEqual(r.status, 200, r)
            shown = (r.json.get("token") or {}).get("last4")
            self.assertEqual(shown, token_of.get(org), f"{where}: API token of org {org}")
        if round_no % 5 == 0:
            for org, token in self.tokens.items():
                ok, _ = self.server.verify(token)
                usable = token_of.get(org) == token[-4:] and orgs[org][1] == 0 and orgs[org][0] == "ACTIVE"
                self.assertEqual(ok, usable, f"{where}: CLI verify of org {org}'s last revealed token")

    # --- The test ----------------------------------------------------------------------------

    def test_random_kills_keep_the_store_consistent(self):
        try:
            self.run_rounds()
        except AssertionError as e:
            self.fail_with_seed(str(e))

    def run_rounds(self):
        self.server.start()
        self.set_up_orgs()
        kills = 0
        day = 0
        self.sessions = {}
        for round_no in range(ROUNDS + 1):
            new_day = round_no % ROUNDS_PER_DAY == 0
            if round_no > 0:
                if new_day:
                    # The next UTC day: a fresh allowance, so submissions keep being accepted (the
                    # sessions of the day before have expired by then).
                    day += 1
                    self.server.set_clock_offset(day * DAY)
                self.server.start()
            if new_day:
                for user in [self.admin_of[org] for org in self.orgs] + ["provider"]:
                    c = self.login(user)
                    self.sessions[user] = (c.cookie, c.csrf)
            if round_no > 0:
                self.check(round_no)
            if round_no == ROUNDS:
                break
            rng = random.Random(self.rng.random())
            admins = {org: self.client_of(self.admin_of[org]) for org in self.orgs}
            for org, c in admins.items():
                r = self.reveal(c, org)
                self.assertIn(r.status, (200, 403, 404), r)
            provider = self.client_of("provider")
            killed = threading.Event()
            cli_procs = []
            threads = [self.guarded(killed, self.admin_traffic(org, c, random.Random(rng.random())))
                       for org, c in admins.items()]
            threads.append(self.guarded(killed, self.provider_traffic(provider, random.Random(rng.random()),
                                                                      cli_procs)))
            threads += [self.guarded(killed, self.submit_traffic(random.Random(rng.random()))) for _ in range(2)]
            threads.append(self.guarded(killed, self.login_traffic(random.Random(rng.random()))))
            for t in threads:
                t.start()
            time.sleep(rng.uniform(*TRAFFIC_SECONDS))
            killed.set()
            self.server.kill9()
            kills += 1
            for t in threads:
                t.join(60)
            for p, org, audit in cli_procs:
                if p.wait(60) == 0:
                    self.ledger.change(org, audit)
            if self.errors:
                self.fail(f"round {round_no}: {self.errors}")
        self.assertEqual(kills, ROUNDS)
        acks = collections.Counter()
        for (_, action), n in self.ledger.counts.items():
            acks[action] += n
        acks["SUBMISSION"] = sum(self.ledger.submissions.values())
        print(f"\n{kills} kills; acknowledged: {dict(sorted(acks.items()))}", flush=True)
        self.assertGreater(sum(self.ledger.submissions.values()), 0)
        self.assertGreater(sum(n for (k, a), n in self.ledger.counts.items() if a == "TOKEN_REGENERATE"), 0)
        self.server.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
