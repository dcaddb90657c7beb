"""The token's documented regular expression and checksum rule (README, "Recognising a token"),
read from the README itself, against real tokens from the server and near misses (issue 20)."""
import os
import re
import secrets
import unittest
import zlib

from harness import ServerTestCase

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def documented_regex():
    with open(README) as f:
        text = f.read()
    m = re.search(r"<!-- token-regex -->\n    (\S+)\n", text)
    assert m, "README lost its token-regex block"
    return re.compile(m.group(1))


def base62(n, width):
    out = ""
    while n:
        n, d = divmod(n, 62)
        out = ALPHABET[d] + out
    return out.rjust(width, "0")


def checksum_ok(token):
    """The documented rule: last 6 = base62(CRC-32 of the first 47), left-padded with 0."""
    return base62(zlib.crc32(token[:47].encode()), 6) == token[47:]


def make_token():
    """A token built by the documented rules (not by the server)."""
    body = base62(int.from_bytes(secrets.token_bytes(32), "big"), 43)
    head = "sbx_" + body
    return head + base62(zlib.crc32(head.encode()), 6)


class TokenRegexTest(ServerTestCase):
    def test_real_tokens_match_and_pass_the_checksum(self):
        rx = documented_regex()
        admin = self.server.login("acme-admin")
        for _ in range(20):
            self.assertEqual(admin.put("/api/v1/sandbox/token").status, 200)
            tok = self.reveal(admin)
            found = rx.findall(f"config:\n  api_key = \"{tok}\" # prod\n")
            self.assertEqual(found, [tok])
            self.assertTrue(checksum_ok(tok), tok)
        # A token built from the documented rules alone has the server's exact shape.
        for _ in range(1000):
            t = make_token()
            self.assertEqual(rx.findall(f"x={t};"), [t])
            self.assertTrue(checksum_ok(t))

    def test_near_misses(self):
        rx = documented_regex()
        good = make_token()
        for miss in (good[:-1], good + "A", "SBX_" + good[4:], "sbx-" + good[4:], "xsbx_" + good[4:],
                     good[:20] + "-" + good[21:], good[:20] + "_" + good[21:], "sbx_" + good[5:]):
            self.assertEqual(rx.findall(f" {miss} "), [], miss)
        # One character changed: the expression matches, the checksum rule refuses.
        flips = 0
        for i in range(4, 53):
            c = good[i]
            other = ALPHABET[(ALPHABET.index(c) + 1) % 62]
            t = good[:i] + other + good[i + 1:]
            self.assertEqual(rx.findall(t), [t])
            if not checksum_ok(t):
                flips += 1
        self.assertEqual(flips, 49)
        # The server refuses such a token too.
        admin = self.server.login("acme-admin")
        real = self.reveal(admin)
        bad = real[:10] + ("A" if real[10] != "A" else "B") + real[11:]
        self.assertFalse(checksum_ok(bad))
        self.assertFalse(self.server.verify(bad)[0])
        self.assertTrue(self.server.verify(real)[0])


if __name__ == "__main__":
    unittest.main()
