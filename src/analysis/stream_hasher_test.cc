#include "analysis/stream_hasher.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace sandgate::analysis {
namespace {

Hashes HashOf(const std::string& s) {
  StreamHasher h;
  h.Update(s.data(), s.size());
  Result<Hashes> r = h.Finish();
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : Hashes{};
}

// The digests of 1,000,000 x 'a' (FIPS 180 and RFC 1321 test vectors).
void ExpectMillionAs(const Hashes& h) {
  EXPECT_EQ(h.md5, "7707d6ae4e027c70eea2a935c2296f21");
  EXPECT_EQ(h.sha1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  EXPECT_EQ(h.sha256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(h.size, 1000000u);
}

TEST(StreamHasherTest, EmptyInput) {
  StreamHasher h;
  h.Update(nullptr, 0);
  Result<Hashes> r = h.Finish();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->md5, "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(r->sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(r->sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(r->size, 0u);
}

TEST(StreamHasherTest, Abc) {
  Hashes h = HashOf("abc");
  EXPECT_EQ(h.md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(h.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(h.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(h.size, 3u);
}

TEST(StreamHasherTest, PiecesEqualWhole) {
  StreamHasher h;
  h.Update("a", 1);
  h.Update("", 0);
  h.Update("bc", 2);
  Result<Hashes> r = h.Finish();
  ASSERT_TRUE(r.ok());
  Hashes whole = HashOf("abc");
  EXPECT_EQ(r->md5, whole.md5);
  EXPECT_EQ(r->sha1, whole.sha1);
  EXPECT_EQ(r->sha256, whole.sha256);
}

TEST(StreamHasherTest, MillionAsInOddChunks) {
  const std::string a(1000000, 'a');
  StreamHasher h;
  size_t off = 0;
  size_t step = 1;
  while (off < a.size()) {
    const size_t n = std::min(step, a.size() - off);
    h.Update(a.data() + off, n);
    off += n;
    step = step * 3 + 1;
    if (step > 70000) step = 7;
  }
  Result<Hashes> r = h.Finish();
  ASSERT_TRUE(r.ok());
  ExpectMillionAs(*r);
}

TEST(StreamHasherTest, SecondFinishIsAnError) {
  StreamHasher h;
  h.Update("abc", 3);
  ASSERT_TRUE(h.Finish().ok());
  h.Update("more", 4);  // ignored
  Result<Hashes> again = h.Finish();
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), "INTERNAL");
}

TEST(StreamHasherTest, MoveKeepsState) {
  StreamHasher a;
  a.Update("ab", 2);
  StreamHasher b(std::move(a));
  b.Update("c", 1);
  StreamHasher c;
  c = std::move(b);
  Result<Hashes> r = c.Finish();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(a.Finish().ok());  // NOLINT(bugprone-use-after-move): moved-from is spent
}

// Issue 19, target 4: MD5 and SHA-1 on a helper thread. Same digests as inline for sizes around
// the helper's block (256 KiB) and ring (8 blocks), fed in chunks smaller and larger than a block
// from one buffer the caller overwrites as soon as each Update returns.
TEST(StreamHasherTest, HelperThreadGivesTheSameDigestsAsInline) {
  const size_t kBlock = 256 * 1024;
  std::vector<unsigned char> data(5 * 1024 * 1024 + 123);
  uint32_t x = 12345;
  for (auto& b : data) b = static_cast<unsigned char>((x = x * 1103515245 + 12345) >> 16);
  for (size_t size : {size_t{0}, size_t{1}, size_t{3}, kBlock - 1, kBlock, kBlock + 1,
                      8 * kBlock - 1, 8 * kBlock, 8 * kBlock + 1, data.size()}) {
    for (size_t chunk : {size_t{1000}, size_t{64 * 1024}, kBlock, size_t{600 * 1024}}) {
      if (size > 300000 && chunk < 64 * 1024) continue;  // byte-sized steps cost time, not cover
      StreamHasher inline_h, helped;
      ASSERT_TRUE(helped.UseHelperThread());
      std::vector<unsigned char> buf(chunk);
      for (size_t off = 0; off < size; off += chunk) {
        const size_t n = std::min(chunk, size - off);
        std::copy_n(data.begin() + static_cast<std::ptrdiff_t>(off), n, buf.begin());
        inline_h.Update(buf.data(), n);
        helped.Update(buf.data(), n);
        std::fill(buf.begin(), buf.end(), 0xEE);  // the helper must have copied what it needs
      }
      Result<Hashes> a = inline_h.Finish(), b = helped.Finish();
      ASSERT_TRUE(a.ok() && b.ok()) << size << " " << chunk;
      EXPECT_EQ(a->md5, b->md5) << size << " " << chunk;
      EXPECT_EQ(a->sha1, b->sha1) << size << " " << chunk;
      EXPECT_EQ(a->sha256, b->sha256) << size << " " << chunk;
      EXPECT_EQ(b->size, size);
    }
  }
}

TEST(StreamHasherTest, HelperThreadKnownVectorAndMove) {
  const std::string a(1000000, 'a');
  StreamHasher h;
  ASSERT_TRUE(h.UseHelperThread());
  EXPECT_FALSE(h.UseHelperThread());  // at most once
  h.Update(a.data(), 400000);
  StreamHasher moved(std::move(h));  // the helper goes with the state
  moved.Update(a.data() + 400000, a.size() - 400000);
  Result<Hashes> r = moved.Finish();
  ASSERT_TRUE(r.ok());
  ExpectMillionAs(*r);
  StreamHasher started;
  started.Update("x", 1);
  EXPECT_FALSE(started.UseHelperThread());  // only before the first byte
}

// An upload abandoned half-way (client gone, 413): the hasher is destroyed without Finish, with
// blocks still in flight; the helper stops and is joined (a hang here fails the test by timeout).
TEST(StreamHasherTest, HelperThreadStopsWhenAbandoned) {
  std::vector<unsigned char> data(3 * 1024 * 1024, 0x5A);
  for (int i = 0; i < 20; ++i) {
    StreamHasher h;
    ASSERT_TRUE(h.UseHelperThread());
    h.Update(data.data(), data.size() - static_cast<size_t>(i));
  }
}

TEST(EntropyTest, EmptyAndZeros) {
  EntropyAccumulator e;
  EXPECT_EQ(e.Bits(), 0.0);
  const std::string zeros(4096, '\0');
  e.Update(zeros.data(), zeros.size());
  EXPECT_EQ(e.Bits(), 0.0);
  EXPECT_EQ(e.size(), 4096u);
}

TEST(EntropyTest, AllByteValuesIsEight) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EntropyAccumulator e;
  e.Update(all.data(), all.size());
  EXPECT_DOUBLE_EQ(e.Bits(), 8.0);

  // The same distribution streamed in uneven chunks, 1000 times over.
  EntropyAccumulator s;
  for (int round = 0; round < 1000; ++round) {
    const size_t cut = static_cast<size_t>(round % 251);
    s.Update(all.data(), cut);
    s.Update(all.data() + cut, all.size() - cut);
  }
  EXPECT_NEAR(s.Bits(), 8.0, 1e-9);
  EXPECT_EQ(s.size(), 256000u);
}

TEST(EntropyTest, TwoEqualSymbolsIsOneBit) {
  EntropyAccumulator e;
  const std::string ab = "abababababababab";
  e.Update(ab.data(), ab.size());
  EXPECT_NEAR(e.Bits(), 1.0, 1e-12);
  e.Reset();
  EXPECT_EQ(e.Bits(), 0.0);
  EXPECT_EQ(e.size(), 0u);
}

TEST(DigestFileTest, MatchesStreamingAndReportsMissingFile) {
  std::string dir = testing::TempDir() + "sg_digest_XXXXXX";
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/abc";
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("abc", f);
  std::fclose(f);

  Result<FileDigest> d = DigestFile(path);
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->hashes.md5, "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(d->hashes.size, 3u);
  EXPECT_NEAR(d->entropy, 1.584962500721156, 1e-9);  // log2(3)

  Result<FileDigest> missing = DigestFile(dir + "/nope");
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace sandgate::analysis
