"""`sandgate migrate` and `sandgate store copy` (issue #5), against a throwaway PostgreSQL cluster.

- 10,000 organizations (with tokens, users, sessions, usage, reports, audit records, webhook
  endpoints and their outbox) copied SQLite -> PostgreSQL -> SQLite come back identical, compared
  field by field, table by table (an outbox message's claim is not carried: nobody delivers it on
  the target yet).
- A copy into a non-empty store is refused and changes nothing.
- Nodes refuse a PostgreSQL schema that is older (until `sandgate migrate`) or newer than they know.
"""
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from harness import BIN, Server

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_SCRIPT = os.path.join(ROOT, "scripts", "pg-test-cluster.sh")
ORGS = 10_000

TABLES = {
    "orgs": "id",
    "tokens": "org_id",
    "users": "id",
    "sessions": "id_hash",
    "usage": "org_id, day",
    "reports": "org_id, md5",
    "audit": "id",
    "leak_reports": "org_id",  # issue 20
    "webhook_endpoints": "id",
    "webhook_outbox": "id",
    "support_contact": "id",
}
OUTBOX_CLAIMED_UNTIL = 10  # column index of webhook_outbox.claimed_until


def run(*args, timeout=600):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def seed(db_path):
    """Fills a migrated SQLite store with ORGS organizations and related rows (every column, NULLs,
    binary values with NUL and high bytes, non-ASCII text, gaps in ids)."""
    rnd = random.Random(7)
    con = sqlite3.connect(db_path)
    with con:
        for i in range(1, ORGS + 1):
            oid = i * 2 + 5  # gaps in the ids
            sub = ("NONE", "ACTIVE", "EXPIRED")[i % 3]
            con.execute(
                "INSERT INTO orgs (id, name, created_at, subscription, ends_at, provider_disabled, disable_reason,"
                " disable_note, disabled_at, disabled_by, daily_allowance, rate_per_second, rate_per_hour,"
                " disable_threshold) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (oid, "Org %d \u00e9\u4e2d '\"" % i, 1_790_000_000_000 + i, sub,
                 1_800_000_000_000 + i if sub == "ACTIVE" and i % 2 else None, i % 7 == 0,
                 ("QUOTA_THRESHOLD", "TERMS_VIOLATION", "OTHER")[i % 3], "note %d" % i if i % 7 == 0 else "",
                 1_790_000_000_500 + i if i % 7 == 0 else None, "provider" if i % 7 == 0 else "",
                 100 + i, 1 + i % 5, 400 + i, 100 + i % 9))
            if i % 4 != 0:
                h = bytes([0, 255]) + i.to_bytes(4, "big") + rnd.randbytes(26)
                con.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?,?,?)",
                            (oid, h, rnd.randbytes(80), "k1", "%04d" % (i % 10000), 1_790_000_000_000 + i,
                             "admin%d" % i, 1_790_000_001_000 + i))
            if i % 10 == 0:
                cur = con.execute("INSERT INTO users (username, password_hash, role, org_id, created_at)"
                                  " VALUES (?,?,?,?,?)",
                                  ("user%d" % i, "$argon2id$v=19$m=65536,t=2,p=1$x$y%d" % i,
                                   ("ORG_ADMIN", "ORG_READONLY")[i % 20 == 0], oid, 1_790_000_000_000 + i))
                if i % 30 == 0:
                    con.execute("INSERT INTO sessions VALUES (?,?,?,?)",
                                (rnd.randbytes(32), cur.lastrowid, 1_790_000_000_000, 1_790_000_000_000 + i))
            if i % 3 == 0:
                con.execute("INSERT INTO usage VALUES (?,?,?,?,?)",
                            (oid, 20_700 + i % 5, i % 100, i % 4, 1_790_000_000_000 + i if i % 6 else None))
            if i % 25 == 0:
                con.execute("INSERT INTO reports VALUES (?,?,?,?,?,?,?)",
                            (oid, "%032X" % i, "%064x" % i, "COMPLETED",
                             '{"verdict":"BENIGN","n":%d,"s":"\u00e9"}' % i, 1_790_000_000_000, 1_790_000_000_001))
            if i % 11 == 0:  # issue 20: the leak policy and a last report (or none)
                con.execute("INSERT INTO leak_reports VALUES (?,?,?,?,?,?,?)",
                            (oid, ("REVOKE", "NOTIFY")[i % 2], 1_790_000_000_000 + i if i % 3 else None,
                             "https://github.com/o/r/blob/%d/\u00e9 '\"" % i if i % 3 else "",
                             "commit" if i % 3 else "", ("REVOKED", "NOTIFIED")[i % 2] if i % 3 else "",
                             "%04d" % (i % 10000) if i % 3 else ""))
            con.execute("INSERT INTO audit (ts, actor, actor_role, org_id, action, outcome, client_addr, token_fp,"
                        " detail) VALUES (?,?,?,?,?,?,?,?,?)",
                        (1_790_000_000_000 + i, "provider", "PROVIDER_ADMIN", oid if i % 5 else None,
                         "ORG_CREATE", "ALLOWED", "127.0.0.1", "", "org %d" % i))
            if i % 500 == 0:  # webhook endpoints (issue 20), one provider-wide, with messages
                cur = con.execute(
                    "INSERT INTO webhook_endpoints (id, org_id, url, events, description, seed, old_seed,"
                    " old_until, created_at, failing_since) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (i // 10 + 3, oid if i % 1000 else None, "https://hooks.example.com/%d?a=b" % i,
                     "token.disabled,quota.warning", "desc é %d" % i, bytes([0, 255]) + rnd.randbytes(30),
                     rnd.randbytes(32) if i % 1000 else None, 1_790_000_100_000 if i % 1000 else None,
                     1_790_000_000_000 + i, 1_790_000_200_000 if i % 1500 == 0 else None))
                for k in range(3):
                    con.execute(
                        "INSERT INTO webhook_outbox (endpoint_id, msg_id, event, payload, dedupe_key, created_at,"
                        " state, attempts, next_attempt_at, claimed_until, last_status, last_error,"
                        " last_latency_ms, delivered_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (cur.lastrowid, "msg_%032x" % (i * 10 + k), "quota.warning",
                         '{"type":"quota.warning","n":%d,"s":"\u00e9"}' % i, "quota.warning:%d:%d" % (oid, k) if k else "",
                         1_790_000_000_000 + i, ("pending", "delivered", "failed")[k], k * 3,
                         1_790_000_000_000 + i + k, 1_790_000_900_000 if k == 0 else 0, (0, 204, 500)[k],
                         ("", "", "answered 500")[k], (0, 12, 3000)[k], 1_790_000_000_100 if k == 1 else None))
        # Each organization's row carries the usage of its latest day (migration 10; the store keeps
        # it on every usage write): set here as the migration sets it, and recomputed by the copy.
        con.execute("UPDATE orgs SET (usage_day, used_today, over_quota_today) = (SELECT u.day, u.used,"
                    " u.over_quota FROM usage u WHERE u.org_id = orgs.id ORDER BY u.day DESC LIMIT 1)"
                    " WHERE EXISTS (SELECT 1 FROM usage u WHERE u.org_id = orgs.id)")
        # The support contact saved in the console (one row).
        con.execute("INSERT INTO support_contact VALUES (1,?,?,?,?,?,?)",
                    ("Support \u00e9quipe '\"", "help@example.com", "https://help.example.com/a?b=c&d=e",
                     "+1 555 0100", 1_790_000_000_123, "provider"))
    con.close()


def dump(db_path):
    con = sqlite3.connect(db_path)
    out = {t: con.execute("SELECT * FROM %s ORDER BY %s" % (t, key)).fetchall() for t, key in TABLES.items()}
    con.close()
    return out


class StoreCopyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sandgate-copy-")
        cls.pg_dir = os.path.join(cls.tmp, "pg")
        p = subprocess.run(["bash", PG_SCRIPT, "start", cls.pg_dir], capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise RuntimeError("PostgreSQL did not start: " + p.stderr)
        cls.admin_url = p.stdout.strip().splitlines()[-1]

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["bash", PG_SCRIPT, "stop", cls.pg_dir], capture_output=True, timeout=120)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def new_database(self, name):
        p = subprocess.run(["psql", self.admin_url, "-qAt", "-c", "CREATE DATABASE " + name],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def test_round_trip_of_10000_organizations(self):
        src = os.path.join(self.tmp, "src.db")
        code, out, err = run("migrate", "--store", "sqlite:" + src)
        self.assertEqual(code, 0, err)
        self.assertIn("up to date", out)
        seed(src)
        pg = self.new_database("copy_target")
        code, out, err = run("store", "copy", "--from", "sqlite:" + src, "--to", pg)
        self.assertEqual(code, 0, err)
        self.assertIn("orgs: %d rows" % ORGS, out)
        self.assertIn("support_contact: 1 rows", out)
        self.assertNotIn("password", out + err)

        # The PostgreSQL side holds the rows (a spot check there; the full comparison is below).
        p = subprocess.run(["psql", pg, "-At", "-c", "SELECT count(*), max(id) FROM orgs"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.stdout.strip(), "%d|%d" % (ORGS, ORGS * 2 + 5))

        back = os.path.join(self.tmp, "back.db")
        code, out, err = run("store", "copy", "--from", pg, "--to", "sqlite:" + back)
        self.assertEqual(code, 0, err)
        a, b = dump(src), dump(back)
        self.assertGreater(len(a["webhook_outbox"]), 0)
        # A message's claim is not carried (nobody is delivering it on the target).
        a["webhook_outbox"] = [r[:OUTBOX_CLAIMED_UNTIL] + (0,) + r[OUTBOX_CLAIMED_UNTIL + 1:]
                               for r in a["webhook_outbox"]]
        self.assertIn("webhook_outbox: %d rows" % len(a["webhook_outbox"]), out)
        for table in TABLES:
            self.assertEqual(len(a[table]), len(b[table]), table)
            for ra, rb in zip(a[table], b[table]):
                self.assertEqual(ra, rb, "table %s differs after the round trip" % table)
        self.assertEqual(len(a["orgs"]), ORGS)
        self.assertEqual(len(a["support_contact"]), 1)

        # A second copy into the non-empty target is refused and changes nothing.
        code, out, err = run("store", "copy", "--from", "sqlite:" + src, "--to", pg)
        self.assertEqual(code, 1)
        self.assertIn("STORE_NOT_EMPTY", err)
        p = subprocess.run(["psql", pg, "-At", "-c", "SELECT count(*) FROM orgs"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.stdout.strip(), str(ORGS))

        # The copied installation serves: its tokens and ids are intact (new ids continue above).
        os.makedirs(os.path.join(self.tmp, "node"))
        node = Server(data_dir=os.path.join(self.tmp, "node"), demo=False, extra_args=["--store", pg])
        try:
            node.start()
            code, out, err = node.cli("org", "create", "After Copy", "--store", pg)
            self.assertEqual(code, 0, err)
            self.assertIn(str(ORGS * 2 + 6), out)
        finally:
            node.stop()

    def test_nodes_refuse_an_outdated_or_newer_schema(self):
        pg = self.new_database("schema_check")
        data = os.path.join(self.tmp, "schema-node")
        code, out, err = run("serve", "--store", pg, "--data", data, "--listen", "127.0.0.1:0", timeout=60)
        self.assertEqual(code, 1, out + err)
        self.assertIn("sandgate migrate", err)
        self.assertIn("SCHEMA_OUTDATED", err)
        code, out, err = run("migrate", "--store", pg)
        self.assertEqual(code, 0, err)
        p = subprocess.run(["psql", pg, "-qAt", "-c", "INSERT INTO schema_version VALUES (999, 0)"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        code, out, err = run("serve", "--store", pg, "--data", data, "--listen", "127.0.0.1:0", timeout=60)
        self.assertEqual(code, 1, out + err)
        self.assertIn("SCHEMA_TOO_NEW", err)
        code, out, err = run("migrate", "--store", pg)
        self.assertEqual(code, 1)
        self.assertIn("SCHEMA_TOO_NEW", err)

    def test_bad_store_urls_are_clear_errors(self):
        code, out, err = run("store", "copy", "--from", "mysql://x/y", "--to", "sqlite:/tmp/x.db")
        self.assertEqual(code, 1)
        self.assertIn("STORE_INVALID", err)
        code, out, err = run("migrate", "--store", "postgres://u:hunter2secret@127.0.0.1:1/db")
        self.assertEqual(code, 1)
        self.assertIn("STORE_UNAVAILABLE", err)
        self.assertNotIn("hunter2secret", out + err)


if __name__ == "__main__":
    unittest.main()
