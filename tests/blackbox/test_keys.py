"""`sandgate keys rotate` on a running server: every token keeps verifying and revealing unchanged,
the database records the new key id, the key file keeps the old key (mode 0600), a restart reads it,
and no token text reaches the log or the CLI's output. Also: --no-reseal + SIGHUP + reseal,
retire-old refused while a key is in use, `keys list`."""
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import BIN, ServerTestCase


def key_file_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def key_id(hex_key):
    # The key id is BLAKE2b-128 keyed with the seal key, personalisation "sandgate.kid.v1", first 8 hex.
    return hashlib.blake2b(b"", digest_size=16, key=bytes.fromhex(hex_key), person=b"sandgate.kid.v1").hexdigest()[:8]


class KeysRotateTest(ServerTestCase):
    def setUp(self):
        self.key_path = os.path.join(self.server.data, "sandgate.key")
        self.db_path = os.path.join(self.server.data, "sandgate.db")

    def db_key_ids(self):
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return dict(con.execute("SELECT org_id, key_id FROM tokens").fetchall())
        finally:
            con.close()

    def db_tokens(self):
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return {r[0]: r[1:] for r in con.execute(
                "SELECT org_id, lookup_hash, sealed, last4, created_at, last_modified_by, last_modified_on FROM tokens")}
        finally:
            con.close()

    def cli(self, *args):
        code, out, err = self.server.cli(*args)
        for tok in self.tokens.values():
            self.assertNotIn(tok, out + err, "a token appears in the CLI's output")
        return code, out, err

    def submit(self, token):
        c = self.server.client()
        r = c.request("POST", f"/zscsb/submit?api_token={token}", raw=os.urandom(64),
                      headers={"Content-Type": "application/octet-stream"})
        c.close()
        return r

    def check_all(self, admins, label):
        """Every token verifies (Submission API and CLI) and reveals unchanged through the server."""
        self.server.advance(5)  # next rate-limit second for every organization
        for org, tok in self.tokens.items():
            r = self.submit(tok)
            self.assertEqual(r.status, 200, (label, org, r))
            ok, out = self.server.verify(tok)
            self.assertTrue(ok, (label, org, out))
            c = self.server.client()  # the session (stored) outlives a restart; the port does not
            c.cookie, c.csrf = admins[org].cookie, admins[org].csrf
            self.assertEqual(self.reveal(c), tok, (label, org))
            c.close()

    def test_rotate_while_serving_then_restart(self):
        admins = {}
        self.tokens = {}
        for i in range(6):
            org, admin, _ = self.new_org(f"Rotate Co {i}")  # activation provisions a token
            admins[org] = admin
            self.tokens[org] = self.reveal(admin)
        lines = key_file_lines(self.key_path)
        self.assertEqual(lines[0], "sandgate-keyfile 2")
        lookup_line, old_seal = lines[1], lines[2].split()[1]
        old_id = key_id(old_seal)
        self.assertEqual(set(self.db_key_ids()[o] for o in self.tokens), {old_id})
        before = self.db_tokens()

        # Rotate while the server runs.
        code, out, err = self.cli("keys", "rotate")
        self.assertEqual(code, 0, err)
        m = re.search(r"new seal key ([0-9a-f]{8})", out)
        self.assertTrue(m, out)
        new_id = m.group(1)
        self.assertNotEqual(new_id, old_id)
        self.assertIn(f"under key {new_id}", out)
        n = len(before)
        self.assertIn(f"resealed {n} token(s)", out)

        # The key file: same lookup key, the new key current, the old one kept; 0600.
        lines = key_file_lines(self.key_path)
        self.assertEqual(lines, ["sandgate-keyfile 2", lookup_line, lines[2], "seal-old " + old_seal])
        self.assertTrue(lines[2].startswith("seal "))
        self.assertEqual(key_id(lines[2].split()[1]), new_id)
        self.assertEqual(os.stat(self.key_path).st_mode & 0o777, 0o600)
        leftovers = [f for f in os.listdir(self.server.data) if f.startswith(".sandgate-key-")]
        self.assertEqual(leftovers, [])

        # The database: every token re-sealed under the new key; nothing else changed.
        after = self.db_tokens()
        self.assertEqual(set(self.db_key_ids().values()), {new_id})
        for org, row in before.items():
            self.assertEqual(after[org][0], row[0])  # lookup hash
            self.assertNotEqual(after[org][1], row[1])  # sealed copy
            self.assertEqual(after[org][2:], row[2:])  # last4, created_at, last_modified_*

        # The running server (which loaded the old key file) verifies and reveals every token.
        self.check_all(admins, "after rotate")
        p = self.provider()
        r = p.get("/api/v1/provider/auditLog?action=KEYS_ROTATE")
        self.assertEqual(r.status, 200, r)
        rec = [a for a in r.json["items"] if f"under key {new_id}" in a["detail"]]
        self.assertEqual(len(rec), 1, r)
        self.assertEqual(rec[0]["actor"], "cli")
        self.assertEqual(rec[0]["detail"], f"resealed {n} of {n} tokens under key {new_id}")

        # Restart: the new file is read, everything still works.
        self.server.stop()
        self.server.start()
        self.check_all(admins, "after restart")
        self.assertEqual(set(self.db_key_ids().values()), {new_id})
        self.server.assert_no_secrets_in_log(self)

    def test_no_reseal_sighup_reseal_and_retire(self):
        admins = {}
        self.tokens = {}
        for i in range(3):
            org, admin, _ = self.new_org(f"Retire Co {i}")
            admins[org] = admin
            self.tokens[org] = self.reveal(admin)
        orgs = sorted(self.tokens)
        # Bring this server's keyring up to the file (an earlier test may have rotated it).
        self.server.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        # Regenerate so that every token here is sealed under the file's current key.
        for org in orgs:
            self.assertEqual(admins[org].put("/api/v1/sandbox/token").status, 200)
            self.tokens[org] = self.reveal(admins[org])
        k1 = key_id(key_file_lines(self.key_path)[2].split()[1])

        # 1. New key written, tokens not re-sealed: the server keeps sealing with the key it holds.
        code, out, err = self.cli("keys", "rotate", "--no-reseal")
        self.assertEqual(code, 0, err)
        k2 = re.search(r"new seal key ([0-9a-f]{8})", out).group(1)
        self.assertIn("not resealed", out)
        r = admins[orgs[0]].put("/api/v1/sandbox/token")  # regenerate on the server: old key
        self.assertEqual(r.status, 200, r)
        self.tokens[orgs[0]] = self.reveal(admins[orgs[0]])
        self.assertEqual(self.db_key_ids()[orgs[0]], k1)

        # 2. SIGHUP: the server reloads the key file and seals with the new key.
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while f"sealing with key {k2}" not in self.server.log_text() and time.time() < deadline:
            time.sleep(0.05)
        self.assertIn(f"sealing with key {k2}", self.server.log_text())
        r = admins[orgs[1]].put("/api/v1/sandbox/token")
        self.assertEqual(r.status, 200, r)
        self.tokens[orgs[1]] = self.reveal(admins[orgs[1]])
        self.assertEqual(self.db_key_ids()[orgs[1]], k2)
        self.assertEqual(self.db_key_ids()[orgs[2]], k1)

        # 3. The old key is in use: retire-old refuses and changes nothing.
        with open(self.key_path) as f:
            text = f.read()
        code, out, err = self.cli("keys", "retire-old")
        self.assertEqual(code, 1, out)
        self.assertIn("KEYS_IN_USE", err)
        with open(self.key_path) as f:
            self.assertEqual(f.read(), text)
        code, out, err = self.cli("keys", "list")
        self.assertEqual(code, 0, err)
        self.assertRegex(out, rf"{k2}\tcurrent\t\d+ token\(s\)")
        self.assertRegex(out, rf"{k1}\told\t\d+ token\(s\)")

        # 4. Reseal, then retire: only the current key remains; the running server still reveals.
        code, out, err = self.cli("keys", "reseal")
        self.assertEqual(code, 0, err)
        self.assertIn(f"under key {k2}", out)
        self.assertEqual(set(self.db_key_ids().values()), {k2})
        code, out, err = self.cli("keys", "retire-old")
        self.assertEqual(code, 0, err)
        self.assertIn(k1, out)
        lines = key_file_lines(self.key_path)
        self.assertEqual(len(lines), 3, "only the lookup and the current seal key remain")
        self.assertEqual(key_id(lines[2].split()[1]), k2)
        self.assertEqual(os.stat(self.key_path).st_mode & 0o777, 0o600)
        self.check_all(admins, "after retire")
        self.server.stop()
        self.server.start()
        self.check_all(admins, "after retire and restart")
        self.server.assert_no_secrets_in_log(self)


class KeyFileVersion1Test(unittest.TestCase):
    """An installation whose key file is still version 1 keeps working and is rotated to version 2."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sandgate-keys-")
        self.data = os.path.join(self.dir, "data")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def run_cli(self, *args):
        p = subprocess.run([BIN] + list(args) + ["--data", self.data], capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def test_version1_file_is_read_and_rotated(self):
        self.assertEqual(self.run_cli("init")[0], 0)
        key = os.path.join(self.data, "sandgate.key")
        lines = key_file_lines(key)
        with open(key, "w") as f:  # the same keys in the version 1 format
            f.write("\n".join(["sandgate-keyfile 1"] + lines[1:]) + "\n")
        os.chmod(key, 0o600)
        old_id = key_id(lines[2].split()[1])
        self.assertEqual(self.run_cli("org", "create", "V1 Co")[0], 0)
        self.assertEqual(self.run_cli("org", "activate", "1")[0], 0)  # provisions a token
        code, out, err = self.run_cli("keys", "list")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, f"{old_id}\tcurrent\t1 token(s)\n")
        code, out, err = self.run_cli("keys", "rotate")
        self.assertEqual(code, 0, err)
        new_id = re.search(r"new seal key ([0-9a-f]{8})", out).group(1)
        self.assertIn(f"resealed 1 token(s) under key {new_id} (1 token(s) in the store)", out)
        self.assertEqual(key_file_lines(key), ["sandgate-keyfile 2", lines[1], key_file_lines(key)[2],
                                               "seal-old " + lines[2].split()[1]])
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        code, out, err = self.run_cli("keys", "list")
        self.assertEqual(out, f"{new_id}\tcurrent\t1 token(s)\n{old_id}\told\t0 token(s)\n")
        # A key file that is group-readable is refused, and nothing is rotated.
        os.chmod(key, 0o640)
        code, out, err = self.run_cli("keys", "rotate")
        self.assertEqual(code, 1)
        self.assertIn("KEYFILE_INSECURE", err)
        os.chmod(key, 0o600)
        self.assertEqual(len(key_file_lines(key)), 4)


if __name__ == "__main__":
    unittest.main()
