"""Public rule sets (issue #15): the server starts on a vendored subset of Neo23x0's signature-base
(tests/fixtures/signature-base-subset, see its README), reports the deliberately broken file in the
log and /readyz, gives the severities the rules carry, uses the `filename` parameter for the
rules' external variables, matches archive members (nested zip, tar.gz) with their path, starts
again from the compiled-rules cache, refuses to start with --rules-strict, and keeps serving when
a SIGHUP reload fails."""
import io
import os
import shutil
import signal
import tarfile
import tempfile
import unittest
import urllib.parse
import zipfile

from harness import Server, ServerTestCase, wait_for

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "signature-base-subset", "yara")
BROKEN = "zz_deliberately_broken.yar"
SUBSET_FILES = 6
# Rules in the five files that compile (`^rule` lines outside /* */ comments: 2 + 10 + 6 + 2 + 24).
SUBSET_RULES = 44

# A text that two signature-base rules and both Sandgate example rules match (no real malware:
# the strings the rules look for, nothing more).
TEXT = (b"AEAAAAEQATpVT\n"                                   # SUSP_Reversed_Base64_Encoded_EXE, score 80
        b"powershell.exe -w hidden -ep bypass -Enc\n"         # Suspicious_PowerShell_Code_1, score 60
        b"sandgate-fixture-severity-word\n"                   # severity = "high"
        b"sandgate-fixture-severity-number\n")                # severity = 35


class RuleSetTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.rules = tempfile.mkdtemp(prefix="sandgate-rules-")
        for name in os.listdir(FIXTURE):
            shutil.copy(os.path.join(FIXTURE, name), cls.rules)
        cls.server = Server(extra_args=["--rules-dir", cls.rules]).start()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.rules, ignore_errors=True)

    def org_token(self, name):
        org, admin, _ = self.new_org(name)
        r = self.provider().patch(f"/api/v1/provider/orgs/{org}",
                                  {"ratePerSecond": 1000, "ratePerHour": 100000, "dailyAllowance": 1000})
        self.assertEqual(r.status, 200, r)
        return admin, self.reveal(admin)

    def discan(self, token, body, filename=None):
        q = f"?api_token={token}"
        if filename is not None:
            q += "&filename=" + urllib.parse.quote(filename)
        c = self.server.client()
        r = c.request("POST", "/zscsb/discan" + q, raw=body, headers={"Content-Type": "application/octet-stream"})
        c.close()
        return r

    def findings(self, admin, md5):
        r = admin.get(f"/api/v1/sandbox/report/{md5}?details=full")
        self.assertEqual(r.status, 200, r)
        full = r.json["Full Details"]
        out = {}
        for section in ("SystemSummary", "Networking", "SecurityBypass", "Stealth", "Persistence", "Spyware",
                        "Exploit"):
            for f in full[section]:
                for src in f["SignatureSources"]:
                    out.setdefault(src, []).append((f["Risk"], f["Signature"]))
        return full, out

    def readyz(self):
        r = self.server.client().get("/readyz")
        self.assertEqual(r.status, 200, r)
        return r.json["analysis"]

    def test_a_starts_and_reports_the_broken_file(self):
        a = self.readyz()
        self.assertEqual(a["ruleFiles"], SUBSET_FILES)
        self.assertEqual([s["file"] for s in a["ruleFilesSkipped"]], [BROKEN])
        self.assertIn("line", a["ruleFilesSkipped"][0]["reason"])
        self.assertEqual(a["rules"], SUBSET_RULES)
        self.assertFalse(a["rulesFromCache"])
        log = self.server.log_text()
        self.assertRegex(log, r"rule file skipped: zz_deliberately_broken\.yar: line \d+: ")
        self.assertRegex(log, r"analysis engine loaded: \d+ signatures, \d+ rules from 5 of 6 rule files "
                              r"\(1 skipped\), compiled in \d+ ms, compiled rules \d+ KiB, process resident \d+ KiB")

    def test_severities_from_score_and_severity_meta(self):
        admin, token = self.org_token("Rules Sev")
        r = self.discan(token, TEXT)
        self.assertEqual(r.status, 200, r)
        full, found = self.findings(admin, r.json["md5"])
        self.assertEqual(found["YARA:SUSP_Reversed_Base64_Encoded_EXE"][0][0], "HIGH")   # score 80
        self.assertEqual(found["YARA:Suspicious_PowerShell_Code_1"][0][0], "MODERATE")   # score 60
        self.assertEqual(found["YARA:Sandgate_Example_Severity_Word"][0][0], "HIGH")     # "high"
        self.assertEqual(found["YARA:Sandgate_Example_Severity_Number"][0][0], "LOW")    # 35
        self.assertEqual(full["Classification"]["Type"], "SUSPICIOUS")
        self.assertEqual(full["Classification"]["Score"], 89)  # 50 + 30 + 50 + 10, capped

    def test_external_variables_from_the_filename_parameter(self):
        admin, token = self.org_token("Rules Ext")
        exe = b"MZ" + b"\0" * 62 + b"not really an executable\n"
        # Exe_Cloaked_as_ThumbsDb: uint16(0) == 0x5a4d and filename matches /[Tt]humbs\.db/ (score 50).
        r = self.discan(token, exe, filename="Thumbs.db")
        self.assertEqual(r.status, 200, r)
        _, found = self.findings(admin, r.json["md5"])
        self.assertEqual(found["YARA:Exe_Cloaked_as_ThumbsDb"][0][0], "MODERATE")
        # The Zscaler clients send no name: the defaults ("") match nothing.
        r = self.discan(token, exe)
        _, found = self.findings(admin, r.json["md5"])
        self.assertNotIn("YARA:Exe_Cloaked_as_ThumbsDb", found)
        # PoS_Malware_MalumPOS_Config: strings and filename == "log.ini"; no score: the default.
        r = self.discan(token, b"[PARAMS]\nName=x\nInterfacesIP=1.2.3.4\nPort=80\n", filename="log.ini")
        _, found = self.findings(admin, r.json["md5"])
        self.assertEqual(found["YARA:PoS_Malware_MalumPOS_Config"][0][0], "MODERATE")
        # A name with a control character is refused.
        r = self.discan(token, exe, filename="a\nb")
        self.assertEqual(r.status, 400, r)

    def test_archive_members_with_their_path(self):
        admin, token = self.org_token("Rules Zip")
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("payload.ps1", TEXT)
        outer = io.BytesIO()
        with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("readme.txt", b"hello\n")
            z.writestr("inner.zip", inner.getvalue())
        tgz = io.BytesIO()
        with tarfile.open(fileobj=tgz, mode="w:gz") as t:
            info = tarfile.TarInfo("nested/inner.zip")
            info.size = len(inner.getvalue())
            t.addfile(info, io.BytesIO(inner.getvalue()))
        for body, path in ((outer.getvalue(), "inner.zip/payload.ps1"),
                           (tgz.getvalue(), "?/nested/inner.zip/payload.ps1")):
            r = self.discan(token, body, filename="bundle")
            self.assertEqual(r.status, 200, r)
            full, found = self.findings(admin, r.json["md5"])
            risk, signature = found["YARA:SUSP_Reversed_Base64_Encoded_EXE"][0]
            self.assertEqual(risk, "HIGH")
            self.assertTrue(signature.endswith(f"(in {path})"), signature)
            self.assertEqual(full["Classification"]["Type"], "SUSPICIOUS")

    def test_z_restart_from_the_cache_strict_refusal_and_failed_reload(self):
        s = self.server
        s.stop()
        # --rules-strict: all or nothing; the broken file is named.
        strict = Server(data_dir=s.data, demo=False, extra_args=["--rules-dir", self.rules, "--rules-strict"])
        with self.assertRaises(RuntimeError) as cm:
            strict.start()
        strict.stop()
        self.assertIn(BROKEN, str(cm.exception))
        # A restart with unchanged rules loads them from the cache.
        s.start()
        a = self.readyz()
        self.assertTrue(a["rulesFromCache"])
        self.assertEqual([x["file"] for x in a["ruleFilesSkipped"]], [BROKEN])
        self.assertIn("loaded from the cache", s.log_text())
        rules = a["rules"]
        # A reload that fails (the directory is gone) keeps the current rules and says why.
        hidden = self.rules + ".away"
        os.rename(self.rules, hidden)
        try:
            s.proc.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "analysis engine reload failed, keeping the current one" in s.log_text()))
            self.assertIn("does not exist", s.log_text())
            self.assertEqual(self.readyz()["rules"], rules)
            admin, token = self.org_token("Rules After Reload")
            r = self.discan(token, TEXT)
            _, found = self.findings(admin, r.json["md5"])
            self.assertIn("YARA:SUSP_Reversed_Base64_Encoded_EXE", found)
        finally:
            os.rename(hidden, self.rules)
        s.assert_no_secrets_in_log(self)


if __name__ == "__main__":
    unittest.main()
