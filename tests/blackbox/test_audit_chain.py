"""The tamper-evident audit trail (issue #6): `sandgate audit verify` finds an edited, a deleted and
a reordered record, and names it; an intact trail verifies, also after a restart."""
import os
import sqlite3
import unittest

from harness import ServerTestCase


class AuditChainTest(ServerTestCase):
    orgs = 0

    def db(self):
        return os.path.join(self.server.data, "sandgate.db")

    def restart_with_empty_database(self):
        """Stops the server, removes its database (and WAL files) and starts it on a fresh one."""
        self.server.stop()
        for ext in ("", "-wal", "-shm"):
            if os.path.exists(self.db() + ext):
                os.remove(self.db() + ext)
        self.server.start()

    def verify(self):
        code, out, err = self.server.cli("audit", "verify")
        return code, out + err

    def make_some_history(self):
        AuditChainTest.orgs += 1
        org, admin, viewer = self.new_org("Chain Co %d" % AuditChainTest.orgs)
        for _ in range(3):
            r = admin.request("PUT", "/api/v1/sandbox/token")
            self.assertEqual(r.status, 200, r)
        return org

    def ids(self):
        con = sqlite3.connect(self.db())
        ids = [r[0] for r in con.execute("SELECT id FROM audit ORDER BY id")]
        con.close()
        return ids

    def tamper(self, sql, *args):
        con = sqlite3.connect(self.db())
        with con:
            con.execute(sql, args)
        con.close()

    def test_1_intact_trail_verifies(self):
        self.make_some_history()
        code, out = self.verify()
        self.assertEqual(code, 0, out)
        self.assertIn("intact", out)
        self.assertNotIn("TAMPERED", out)

    def test_2_edited_record_is_named(self):
        self.make_some_history()
        victim = self.ids()[-3]
        self.tamper("UPDATE audit SET actor = 'someone-else' WHERE id = ?", victim)
        code, out = self.verify()
        self.assertEqual(code, 1, out)
        self.assertIn("record %d was modified" % victim, out)
        self.assertEqual(out.count("TAMPERED"), 1, out)
        self.tamper("UPDATE audit SET actor = (SELECT actor FROM audit WHERE id = ?) WHERE id = ?", victim - 1, victim)

    def test_3_deleted_record_is_found(self):
        self.restart_with_empty_database()  # the previous test's edit stays in its trail
        self.make_some_history()
        ids = self.ids()
        gone = ids[-4]
        self.tamper("DELETE FROM audit WHERE id = ?", gone)
        code, out = self.verify()
        self.assertEqual(code, 1, out)
        after = [i for i in ids if i > gone][0]
        self.assertIn("record %d does not follow the record before it" % after, out)

    def test_3b_deleted_record_with_relinked_successor_is_found(self):
        # Issue 21 (survivor 5): delete record k and give record k+1 the prev_chain that would make
        # it follow record k-1. Only a chain value that covers prev_chain exposes it: k+1 no longer
        # hashes to its stored chain.
        self.restart_with_empty_database()
        self.make_some_history()
        ids = self.ids()
        before, gone, after = ids[-5], ids[-4], ids[-3]
        con = sqlite3.connect(self.db())
        with con:
            con.execute("DELETE FROM audit WHERE id = ?", (gone,))
            con.execute("UPDATE audit SET prev_chain = (SELECT chain FROM audit WHERE id = ?) WHERE id = ?",
                        (before, after))
        con.close()
        code, out = self.verify()
        self.assertEqual(code, 1, out)
        self.assertIn("TAMPERED", out)
        self.assertIn("record %d was modified" % after, out)
        self.assertNotIn("does not follow", out)  # the relinking itself is consistent

    def test_4_reordered_records_are_found(self):
        self.restart_with_empty_database()
        self.make_some_history()
        a, b = self.ids()[-3], self.ids()[-2]
        # Swap the two rows completely (every column but the id), as a reordering would.
        con = sqlite3.connect(self.db())
        cols = [r[1] for r in con.execute("PRAGMA table_info(audit)") if r[1] != "id"]
        ra = con.execute("SELECT %s FROM audit WHERE id = ?" % ", ".join(cols), (a,)).fetchone()
        rb = con.execute("SELECT %s FROM audit WHERE id = ?" % ", ".join(cols), (b,)).fetchone()
        with con:
            sets = ", ".join("%s = ?" % c for c in cols)
            con.execute("UPDATE audit SET %s WHERE id = ?" % sets, (*rb, a))
            con.execute("UPDATE audit SET %s WHERE id = ?" % sets, (*ra, b))
        con.close()
        code, out = self.verify()
        self.assertEqual(code, 1, out)
        self.assertIn("record %d" % a, out)
        self.assertIn("record %d" % b, out)

    def test_5_forged_chain_without_the_key_is_found(self):
        """Recomputing the chain needs the key file: an unkeyed recomputation does not verify."""
        self.restart_with_empty_database()
        self.make_some_history()
        victim = self.ids()[-1]
        import hashlib
        self.tamper("UPDATE audit SET detail = 'forged', chain = ? WHERE id = ?",
                    hashlib.blake2b(b"forged", digest_size=32).digest(), victim)
        code, out = self.verify()
        self.assertEqual(code, 1, out)
        self.assertIn("record %d was modified" % victim, out)


if __name__ == "__main__":
    unittest.main()
