#include "analysis/side_digest.h"

#include <fcntl.h>
#include <fuzzy.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace sandgate::analysis {
namespace {

namespace fs = std::filesystem;

// What the engine computed before issue 19 (target 5): ssdeep of the whole file, entropy of a
// whole-file read.
struct Whole {
  std::string ssdeep;
  double entropy = 0;
};

class SideDigestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/sandgate-side-digest-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir_ = templ;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  static Whole WholeFile(const std::string& path) {
    Whole w;
    char buf[FUZZY_MAX_RESULT];
    EXPECT_EQ(fuzzy_hash_filename(path.c_str(), buf), 0) << path;
    w.ssdeep = buf;
    Result<FileDigest> d = DigestFile(path);
    EXPECT_TRUE(d.ok()) << path;
    if (d.ok()) w.entropy = d->entropy;
    return w;
  }

  // Feeds `bytes` in pieces of `step` (1, 2, ... cycling up to step when step is 0), as the
  // upload's sink would: appended to a file, then Update. Follows the file when `follow`.
  static SideDigests Stream(const std::string& path, const std::string& bytes, size_t step,
                            bool follow, bool total_length) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    SideDigests out;
    {
      std::optional<SideDigester> side;
      if (follow)
        side.emplace(path);
      else
        side.emplace();
      EXPECT_EQ(side->following(), follow);
      if (total_length) side->SetTotalLength(bytes.size());
      size_t off = 0, odd = 1;
      while (off < bytes.size()) {
        size_t n = step != 0 ? step : odd;
        odd = odd % 7919 + 1;
        n = std::min(n, bytes.size() - off);
        EXPECT_EQ(::write(fd, bytes.data() + off, n), static_cast<ssize_t>(n));
        side->Update(bytes.data() + off, n);
        off += n;
      }
      Result<SideDigests> r = side->Finish();
      EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.status().message());
      if (r.ok()) out = r.value();
    }
    ::close(fd);
    return out;
  }

  // Every way of streaming `bytes` gives exactly the whole-file results.
  void ExpectStreamingEqualsWhole(const std::string& bytes, const std::string& label) {
    const Whole whole = WholeFile(Write("whole-" + label, bytes));
    for (bool follow : {false, true}) {
      for (bool total : {false, true}) {
        for (size_t step : {size_t{0}, size_t{1} << 16, size_t{SideDigester::kReadBytes + 1}}) {
          if (step == 0 && bytes.size() > (4u << 20)) continue;  // odd pieces: smaller inputs
          SCOPED_TRACE(label + " follow=" + std::to_string(follow) +
                       " total=" + std::to_string(total) + " step=" + std::to_string(step));
          const SideDigests s = Stream(dir_ + "/spool-" + label, bytes, step, follow, total);
          EXPECT_EQ(s.ssdeep, whole.ssdeep);
          EXPECT_EQ(s.entropy, whole.entropy);  // exactly: the same histogram
          EXPECT_EQ(s.size, bytes.size());
        }
      }
    }
  }

  std::string dir_;
};

std::string Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string Text(size_t n) {
  static const std::string kWords =
      "the quick brown fox jumps over the lazy dog; Sandgate streams every upload\r\n";
  std::string s;
  while (s.size() < n) s += kWords;
  s.resize(n);
  return s;
}

TEST_F(SideDigestTest, EmptyAndOneByte) {
  ExpectStreamingEqualsWhole("", "empty");
  ExpectStreamingEqualsWhole("A", "one");
  ExpectStreamingEqualsWhole(std::string(1, '\0'), "nul");
}

TEST_F(SideDigestTest, SizesAroundBlockBoundaries) {
  // ssdeep's block sizes are 3 * 2^k and a signature has up to 64 pieces, so the block size
  // chosen changes around 3 * 64 * 2^k bytes; our reads are 64 KiB pieces and kReadBytes.
  for (size_t base : {size_t{192}, size_t{384}, size_t{6144}, size_t{196608}, size_t{65536},
                      size_t{SideDigester::kReadBytes}}) {
    for (size_t n : {base - 1, base, base + 1}) {
      std::string label = std::to_string(n);
      ExpectStreamingEqualsWhole(Random(n, static_cast<uint32_t>(n)), label.append("r"));
      ExpectStreamingEqualsWhole(Text(n), label.append("t"));
    }
  }
}

TEST_F(SideDigestTest, LargerInputs) {
  ExpectStreamingEqualsWhole(Random(3 * 1024 * 1024 + 17, 7), "random3m");
  ExpectStreamingEqualsWhole(Text(5 * 1024 * 1024 + 3), "text5m");
  ExpectStreamingEqualsWhole(std::string(2 * 1024 * 1024, 'z'), "constant");
}

TEST_F(SideDigestTest, EicarAndClamavTestFiles) {
  ExpectStreamingEqualsWhole(
      "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*", "eicar");
  const std::string dir = "/usr/share/clamav-testfiles";
  ASSERT_TRUE(fs::is_directory(dir)) << "install clamav-testfiles";
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file() || ++files > 12) continue;
    std::ifstream in(e.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ExpectStreamingEqualsWhole(bytes, e.path().filename().string());
  }
  EXPECT_GT(files, 0);
}

TEST_F(SideDigestTest, AWrongTotalLengthFailsRatherThanLies) {
  SideDigester side;
  side.SetTotalLength(10);
  side.Update("abc", 3);
  EXPECT_FALSE(side.Finish().ok());
}

TEST_F(SideDigestTest, AnUnreadableFollowedFileFailsFinish) {
  const std::string path = Write("short", "abc");
  SideDigester side(path);
  ASSERT_TRUE(side.following());
  side.Update("abcdef", 6);  // says 6 bytes were appended; the file holds 3
  Result<SideDigests> r = side.Finish();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_status(), 500);
}

TEST_F(SideDigestTest, DestroyedMidUploadStopsTheFollower) {
  // A client that leaves: the digester goes away without Finish, while the follower may still be
  // reading; destruction returns (joins) and nothing leaks (ASan).
  const std::string bytes = Random(8 * 1024 * 1024, 3);
  const std::string path = Write("left", bytes);
  for (int i = 0; i < 20; ++i) {
    SideDigester side(path);
    ASSERT_TRUE(side.following());
    side.Update(bytes.data(), bytes.size());
  }
}

TEST_F(SideDigestTest, AMissingFileMeansInline) {
  SideDigester side(dir_ + "/does-not-exist");
  EXPECT_FALSE(side.following());
  side.Update("abc", 3);
  Result<SideDigests> r = side.Finish();
  ASSERT_TRUE(r.ok());
  char buf[FUZZY_MAX_RESULT];
  ASSERT_EQ(fuzzy_hash_buf(reinterpret_cast<const unsigned char*>("abc"), 3, buf), 0);
  EXPECT_EQ(r->ssdeep, buf);
}

}  // namespace
}  // namespace sandgate::analysis
