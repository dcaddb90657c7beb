"""Upgrades (issue 17): the current binary on a data directory (and a PostgreSQL dump) written by
the binary of every schema version that shipped (tests/fixtures/upgrade, made by
tests/fixtures/make_upgrade_fixtures.py from old commits). `migrate --dry-run` lists the pending
migrations and changes nothing; then the current binary migrates and serves, and the data is
intact: logins, tokens (accepted or refused as before), reports, and the audit chain verifies
(records older than the chain count as written before it). Also the PostgreSQL backup procedure:
pg_dump of a live store, restored into a fresh cluster, served."""
import glob
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import BIN, Server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "upgrade")
# Schema versions no installation was ever at: migrations 5 (audit request ids) and 6 (cluster-wide
# limits) were written on two branches and landed together, so main went from 4 straight to 6; 7
# (webhooks) and 8 (usage by day index) likewise landed together, and so did 9 (leak reports) and
# 10 (the support contact, today's usage on the organization's row).
NEVER_SHIPPED = {5, 7, 9}
PG_SCRIPT = os.path.join(ROOT, "scripts", "pg-test-cluster.sh")


def fixture_version(path):
    """The schema version in a fixture's name (sqlite-v10 -> 10): fixtures go oldest first."""
    return int(os.path.basename(path).rsplit("-v", 1)[1])


def run(*args, input=None):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=300, input=input)
    return p.returncode, p.stdout + p.stderr


def current_version(kind):
    code, out = run("migrate", "--dry-run", "--store", "sqlite:/nonexistent/none.db") if kind == "sqlite" else (0, "")
    return int(re.search(r"this build's version (\d+)", out).group(1))


def wait_ready(server):
    """A PostgreSQL node trusts its token index after its first round with the change log
    (docs/CLUSTER.md): /readyz says when. Bounded: 300 polls of 0.1 s."""
    c = server.client()
    for _ in range(300):
        if c.get("/readyz").status == 200:
            c.close()
            return
        time.sleep(0.1)
    raise AssertionError("the server never became ready")


class UpgradeChecks:
    def check_served(self, server, expected):
        wait_ready(server)
        # Logins written by the old binary still work; the token page reads.
        admin = server.client()
        self.assertEqual(admin.login("acme-admin", expected["logins"]["acme-admin"]).status, 200)
        r = admin.get("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "ENABLED")
        acme = expected["tokens"]["Acme Corp"]
        globex = expected["tokens"]["Globex"]
        server.secrets.update([acme, globex] + list(expected["logins"].values()))
        # The revealed token is the one the old binary issued (sealed under the old key file).
        self.assertEqual(admin.get("/api/v1/sandbox/token/reveal").json["token"], acme)
        # Tokens: accepted, and refused as disabled, through the Submission API.
        r = admin.request("POST", f"/zscsb/submit?api_token={acme}", raw=b"after the upgrade",
                          headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 200, r)
        r = admin.request("POST", f"/zscsb/submit?api_token={globex}", raw=b"x",
                          headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(r.status, 403, r)
        if expected["submitted_md5"]:
            r = admin.get(f"/api/v1/sandbox/report/{expected['submitted_md5']}?details=summary")
            self.assertEqual(r.status, 200, r)
            # An unknown file is a 200 too (Zscaler's shape), with Status CONTENT_NOTFOUND.
            self.assertNotEqual(r.json["Summary"]["Summary"]["Status"], "CONTENT_NOTFOUND", r)
            self.assertEqual(r.json["Summary"]["FileProperties"]["MD5"], expected["submitted_md5"], r)
        # The old audit records are there, and a new change is audited after them.
        r = admin.get("/api/v1/auditLog?limit=200")
        self.assertGreaterEqual(len(r.json["items"]), expected["acme_audit_records"])
        self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
        admin.close()

    def check_chain(self, *store_args):
        code, out = run("audit", "verify", *store_args)
        self.assertEqual(code, 0, out)
        self.assertIn("intact", out)


class SqliteUpgradeTest(unittest.TestCase, UpgradeChecks):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sandgate-upgrade-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fixture(self, name):
        src = os.path.join(FIXTURES, name)
        data = os.path.join(self.tmp, name)
        os.makedirs(data, mode=0o700)
        for f in ("sandgate.db", "sandgate.key"):
            shutil.copy(os.path.join(src, f), os.path.join(data, f))
        os.chmod(os.path.join(data, "sandgate.key"), 0o600)  # git keeps no 0600
        with open(os.path.join(src, "expected.json")) as f:
            return data, json.load(f)

    def test_every_shipped_schema_version(self):
        fixtures = sorted((os.path.basename(d) for d in glob.glob(os.path.join(FIXTURES, "sqlite-v*"))),
                          key=fixture_version)
        newest = current_version("sqlite")
        # A fixture for every version from 1 to this build's: a new migration needs a new fixture.
        self.assertEqual(fixtures, [f"sqlite-v{v}" for v in range(1, newest + 1) if v not in NEVER_SHIPPED])
        for name in fixtures:
            with self.subTest(name):
                data, expected = self.fixture(name)
                db = os.path.join(data, "sandgate.db")
                version = expected["schema_version"]
                with open(db, "rb") as f:
                    before = f.read()
                code, out = run("migrate", "--dry-run", "--data", data)
                self.assertEqual(code, 0, out)
                self.assertIn(f"schema version {version}; this build's version {newest}", out)
                pending = newest - version
                if pending:
                    self.assertIn(f"{pending} pending migration(s), not applied", out)
                    self.assertEqual(re.findall(r"-- migration (\d+)", out),
                                     [str(v) for v in range(version + 1, newest + 1)])
                else:
                    self.assertIn("no pending migrations", out)
                with open(db, "rb") as f:
                    self.assertEqual(f.read(), before, "--dry-run changed the database")
                server = Server(data_dir=data, demo=False).start()
                try:
                    self.check_served(server, expected)
                    server.assert_no_secrets_in_log(self)
                finally:
                    server.stop()
                con = sqlite3.connect(db)
                self.assertEqual(con.execute("SELECT max(version) FROM schema_version").fetchone()[0], newest)
                con.close()
                self.check_chain("--data", data)
                code, out = run("token", "verify", "-", "--data", data, input=expected["tokens"]["Globex"] + "\n")
                self.assertEqual(code, 1, out)
                self.assertIn("TOKEN_DISABLED", out)


class PostgresUpgradeAndBackupTest(unittest.TestCase, UpgradeChecks):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sandgate-pg-upgrade-")
        cls.clusters = []

    @classmethod
    def tearDownClass(cls):
        for d in cls.clusters:
            subprocess.run(["bash", PG_SCRIPT, "stop", d], capture_output=True, timeout=120)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def cluster(self):
        d = os.path.join(self.tmp, f"pg{len(self.clusters)}")
        p = subprocess.run(["bash", PG_SCRIPT, "start", d], capture_output=True, text=True, timeout=180)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.clusters.append(d)
        return p.stdout.strip().splitlines()[-1]

    def database(self, admin_url, name, dump=None):
        p = subprocess.run(["psql", admin_url, "-qAt", "-c", "CREATE DATABASE " + name],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        if dump is not None:
            p = subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-f", dump],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
        return url

    def key_copy(self, src, name):
        data = os.path.join(self.tmp, name)
        os.makedirs(data, mode=0o700)
        key = os.path.join(data, "sandgate.key")
        shutil.copy(src, key)
        os.chmod(key, 0o600)
        return data, key

    def test_dumps_of_every_shipped_schema_version_then_pg_dump_backup(self):
        admin = self.cluster()
        fixtures = sorted(glob.glob(os.path.join(FIXTURES, "pg-v*")), key=fixture_version)
        self.assertTrue(fixtures)
        for fx in fixtures:
            name = os.path.basename(fx)
            with open(os.path.join(fx, "expected.json")) as f:
                expected = json.load(f)
            url = self.database(admin, name.replace("-", "_"), os.path.join(fx, "dump.sql"))
            data, key = self.key_copy(os.path.join(fx, "sandgate.key"), name)
            code, out = run("migrate", "--dry-run", "--store", url)
            self.assertEqual(code, 0, out)
            self.assertIn(f"schema version {expected['schema_version']};", out)
            newest = int(re.search(r"this build's version (\d+)", out).group(1))
            # Nothing applied by the dry run: serving is still refused as outdated.
            if expected["schema_version"] < newest:
                code, out = run("token", "verify", "-", "--store", url, "--key-file", key, "--data", data,
                                input=expected["tokens"]["Acme Corp"] + "\n")
                self.assertNotEqual(code, 0, out)
                self.assertIn("SCHEMA_OUTDATED", out)
            code, out = run("migrate", "--store", url)
            self.assertEqual(code, 0, out)
            server = Server(data_dir=data, demo=False, extra_args=["--store", url, "--key-file", key]).start()
            try:
                self.check_served(server, expected)
            finally:
                server.stop()
            self.check_chain("--store", url, "--key-file", key, "--data", data)
            live_url, live_key, live_expected = url, key, expected

        # The documented PostgreSQL backup: pg_dump of the live database (plus the key file kept
        # apart), restored into a fresh cluster, served there with the original key file.
        os.makedirs(os.path.join(self.tmp, "pg-live"), mode=0o700)
        server = Server(data_dir=os.path.join(self.tmp, "pg-live"), demo=False,
                        extra_args=["--store", live_url, "--key-file", live_key]).start()
        try:
            c = server.client()
            self.assertEqual(c.login("acme-admin", live_expected["logins"]["acme-admin"]).status, 200)
            self.assertEqual(c.put("/api/v1/sandbox/token").status, 200)
            latest = c.get("/api/v1/sandbox/token/reveal").json["token"]
            server.secrets.add(latest)
            c.close()
            dump = os.path.join(self.tmp, "backup.sql")
            p = subprocess.run(["pg_dump", "--no-owner", "--no-privileges", "--file", dump, live_url],
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)
        finally:
            server.stop()
        fresh = self.database(self.cluster(), "restored", dump)
        data, key = self.key_copy(live_key, "pg-restored")
        self.check_chain("--store", fresh, "--key-file", key, "--data", data)
        code, out = run("token", "verify", "-", "--store", fresh, "--key-file", key, "--data", data,
                        input=latest + "\n")
        self.assertEqual(code, 0, out)
        restored = Server(data_dir=data, demo=False, extra_args=["--store", fresh, "--key-file", key]).start()
        try:
            wait_ready(restored)
            r = restored.client().request("POST", f"/zscsb/submit?api_token={latest}", raw=b"restored",
                                          headers={"Content-Type": "application/octet-stream"})
            self.assertEqual(r.status, 200, r)
        finally:
            restored.stop()


if __name__ == "__main__":
    unittest.main()
