"""scripts/check-layers.py: the real tree passes, and a wrong include in a copy of it fails with a
line that names the file, the folder and what the folder may use (issue 13)."""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
CHECK = REPO / "scripts" / "check-layers.py"


def run(repo):
    return subprocess.run([sys.executable, str(CHECK), str(repo)], capture_output=True, text=True)


class CheckLayersTest(unittest.TestCase):
    def setUp(self):
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="layers-"))
        shutil.copytree(REPO / "src", self.tmp / "src")
        (self.tmp / "docs").mkdir()
        shutil.copy(REPO / "docs" / "ARCHITECTURE.md", self.tmp / "docs")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def test_the_tree_follows_its_layers(self):
        r = run(REPO)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_a_store_file_that_includes_the_services_fails(self):
        self.assertEqual(run(self.tmp).returncode, 0)
        f = self.tmp / "src" / "store" / "store.h"
        f.write_text('#include "service/services.h"\n' + f.read_text())
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn('src/store/store.h:1: includes service/, but store/ may use only: common, '
                      'domain, metrics', r.stdout)

    def test_the_domain_may_not_use_the_store(self):
        f = self.tmp / "src" / "domain" / "decide.cc"
        f.write_text('#include "store/store.h"\n')
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn("src/domain/decide.cc:1: includes store/", r.stdout)

    def test_tests_may_include_any_folder(self):
        (self.tmp / "src" / "domain" / "x_test.cc").write_text('#include "app/instance.h"\n')
        self.assertEqual(run(self.tmp).returncode, 0)

    def test_a_cycle_in_the_table_fails(self):
        doc = self.tmp / "docs" / "ARCHITECTURE.md"
        text = doc.read_text().replace("| common |\n", "| common, store |\n", 1)
        self.assertNotEqual(text, doc.read_text())
        doc.write_text(text)
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn("the Folders table has a cycle", r.stdout)

    def test_a_folder_without_a_row_fails(self):
        (self.tmp / "src" / "newthing").mkdir()
        (self.tmp / "src" / "newthing" / "a.h").write_text("")
        r = run(self.tmp)
        self.assertEqual(r.returncode, 1)
        self.assertIn("src/newthing/ has no row", r.stdout)


if __name__ == "__main__":
    unittest.main()
