"""The `sandgate` CLI: help at every level, argument errors exit 2, the same rules and audit as the API."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, Server


def run(*args, input=None):
    p = subprocess.run([BIN] + list(args), capture_output=True, text=True, input=input, timeout=120)
    return p.returncode, p.stdout, p.stderr


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sandgate-cli-")
        self.data = os.path.join(self.dir, "data")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_help_at_every_level(self):
        for path in ([], ["serve"], ["init"], ["org"], ["org", "create"], ["org", "list"], ["org", "show"],
                     ["org", "activate"], ["org", "expire"], ["org", "renew"], ["org", "disable"], ["org", "enable"],
                     ["org", "set"], ["user"], ["user", "create"], ["user", "list"], ["user", "set-role"],
                     ["user", "reset-password"], ["user", "delete"], ["token"], ["token", "verify"], ["token", "show"],
                     ["keys"], ["keys", "rotate"], ["keys", "reseal"], ["keys", "list"], ["keys", "retire-old"]):
            code, out, err = run(*path, "--help")
            self.assertEqual(code, 0, (path, err))
            self.assertIn("Usage", out + err, path)

    def test_wrong_arguments_exit_2(self):
        for args in (["bogus"], ["org", "create"], ["org", "show", "abc"], ["serve", "--threads", "x"],
                     ["user", "create", "bob", "--role", "KING"], ["org", "disable", "1", "--reason", "BORED"], [],
                     ["keys"], ["keys", "rotate", "--bogus"]):
            code, out, err = run(*args)
            self.assertEqual(code, 2, (args, out, err))
            self.assertIn("error", err.lower(), args)

    def test_init_then_scripted_lifecycle(self):
        code, out, err = run("init", "--data", self.data)
        self.assertEqual(code, 0, err)
        self.assertIn("password (shown once)", out)
        key = os.path.join(self.data, "sandgate.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(self.data).st_mode & 0o777, 0o700)
        code, out, err = run("init", "--data", self.data)
        self.assertEqual(code, 1)
        self.assertIn("ALREADY_INITIALIZED", err)
        code, out, err = run("org", "create", "Script Co", "--data", self.data)
        self.assertEqual(code, 0, err)
        self.assertIn("subscription:  NONE", out)
        code, out, err = run("org", "activate", "1", "--ends-at", "2099-01-01T00:00:00Z", "--data", self.data)
        self.assertEqual(code, 0, err)
        self.assertIn("status:        ENABLED", out)
        self.assertIn("last modified: system", out)
        code, out, err = run("org", "activate", "1", "--data", self.data)
        self.assertEqual(code, 1)
        self.assertIn("SUBSCRIPTION_EXISTS", err)
        code, out, err = run("org", "activate", "1", "--ends-at", "tomorrow", "--data", self.data)
        self.assertEqual(code, 2)
        code, out, err = run("user", "create", "script-admin", "--role", "ORG_ADMIN", "--org", "1", "--data", self.data)
        self.assertEqual(code, 0, err)
        code, out, err = run("org", "list", "--data", self.data)
        self.assertIn("Script Co", out)
        self.assertIn("1 organization(s)", out)
        code, out, err = run("org", "disable", "1", "--reason", "TERMS_VIOLATION", "--note", "cli", "--data", self.data)
        self.assertEqual(code, 0, err)
        self.assertIn("DISABLED (PROVIDER)", out)
        code, out, err = run("org", "enable", "1", "--data", self.data)
        self.assertEqual(code, 0, err)
        code, out, err = run("org", "set", "1", "--daily-allowance", "5", "--data", self.data)
        self.assertEqual(code, 0, err)
        code, out, err = run("token", "verify", "sbx_not-a-token", "--data", self.data)
        self.assertEqual(code, 1)
        self.assertIn("Invalid API token", out)
        code, out, err = run("token", "show", "1", "--data", self.data)
        self.assertEqual(code, 0, err)
        self.assertIn("sbx_", out)
        # The CLI's changes are audited like the API's.
        server = Server(data_dir=self.data, demo=False).start()
        try:
            code, out, err = run("user", "reset-password", "1", "--data", self.data)
            self.assertEqual(code, 0, err)
            pw = out.strip().split()[-1]
            c = server.client()
            self.assertEqual(c.login("admin", pw).status, 200)
            r = c.get("/api/v1/provider/auditLog?actor=cli&limit=100")
            actions = {a["action"] for a in r.json["items"]}
            self.assertTrue({"ORG_CREATE", "SUBSCRIPTION_ACTIVATE", "USER_CREATE", "TOKEN_DISABLE", "TOKEN_ENABLE",
                             "ORG_UPDATE"} <= actions, actions)
        finally:
            server.stop()

    def test_config_file_and_flag_override(self):
        cfg = os.path.join(self.dir, "sandgate.toml")
        with open(cfg, "w") as f:
            f.write(f'data = "{self.data}"\nlisten = "127.0.0.1:0"\n')
        code, out, err = run("init", "--config", cfg)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(os.path.join(self.data, "sandgate.db")))
        with open(cfg, "w") as f:
            f.write('colour = "red"\n')
        code, out, err = run("org", "list", "--config", cfg, "--data", self.data)
        self.assertEqual(code, 1)
        self.assertIn("Unknown config key 'colour'", err)
        code, out, err = run("org", "list", "--data", os.path.join(self.dir, "missing"))
        self.assertEqual(code, 1)
        self.assertIn("sandgate init", err)


if __name__ == "__main__":
    unittest.main()
