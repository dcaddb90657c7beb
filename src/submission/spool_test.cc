// The spool's file-writer seam: a write that fails (injected EIO / ENOSPC) is 503 SPOOL_FAILED and
// the spool file disappears with its SpoolFile; files left by a dead process are swept at start.
#include "submission/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/fault.h"

namespace sandgate::submission {
namespace {

namespace fs = std::filesystem;

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fault::ClearAll();
    std::string tmpl = (fs::temp_directory_path() / "sandgate-spool-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    fault::ClearAll();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  size_t Files() const {
    return static_cast<size_t>(
        std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  std::string dir_;
};

TEST_F(SpoolTest, WritesReachTheFile) {
  auto spool = SpoolFile::Create(dir_);
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(spool->Write("hello ", 6).ok());
  ASSERT_TRUE(spool->Write("world", 5).ok());
  ASSERT_TRUE(spool->Close().ok());
  std::ifstream in(spool->path());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "hello world");
}

TEST_F(SpoolTest, InjectedFaultsFailTheWriteAndLeaveNoFile) {
  for (auto [kind, reason] : {std::pair{fault::Kind::kNoSpace, "No space left on device"},
                              std::pair{fault::Kind::kIoError, "Input/output error"}}) {
    {
      auto spool = SpoolFile::Create(dir_);
      ASSERT_TRUE(spool.ok());
      ASSERT_TRUE(spool->Write("first", 5).ok());
      fault::Set(fault::Site::kSpoolWrite, kind);
      Status st = spool->Write("second", 6);
      EXPECT_EQ(st.http_status(), 503);
      EXPECT_EQ(st.code(), "SPOOL_FAILED");
      EXPECT_NE(st.message().find(reason), std::string::npos) << st.message();
      EXPECT_EQ(fs::file_size(spool->path()), 5u);  // the faulted write wrote nothing
      fault::ClearAll();
    }
    EXPECT_EQ(Files(), 0u);
  }
  // Healed: the next upload spools normally.
  auto spool = SpoolFile::Create(dir_);
  ASSERT_TRUE(spool.ok());
  EXPECT_TRUE(spool->Write("again", 5).ok());
}

// Issue 19, target 3: a small body lives in a memfd named /proc/self/fd/N: readable by path like
// a file, nothing in any directory, gone when its owner removes it (no descriptor leaks).
TEST_F(SpoolTest, InMemoryUploadIsReadableByPathAndLeavesNoFile) {
  auto fd_of = [](const std::string& path) {
    return std::stoi(path.substr(std::string("/proc/self/fd/").size()));
  };
  std::string released;
  {
    auto s = SpoolFile::CreateInMemory();
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_TRUE(s->in_memory());
    ASSERT_TRUE(s->Write("hello ", 6).ok());
    ASSERT_TRUE(s->Write("memory", 6).ok());
    ASSERT_TRUE(s->Close().ok());
    std::ifstream in(s->path(), std::ios::binary);
    std::string got((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(got, "hello memory");
    // The same bytes in memory, for readers that take a buffer; taken once.
    ASSERT_TRUE(s->content().has_value());
    EXPECT_EQ(*s->content(), "hello memory");
    EXPECT_EQ(s->TakeContent(), "hello memory");
    EXPECT_FALSE(s->content().has_value());
    EXPECT_TRUE(fs::is_empty(dir_));
    released = s->Release();
  }
  // Released: still open after the SpoolFile is gone (the rule analysis reads it later).
  const int fd = fd_of(released);
  EXPECT_NE(::fcntl(fd, F_GETFD), -1);
  RemoveSpooled(released);
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "RemoveSpooled closes the descriptor";
  // Not released: the SpoolFile closes it.
  int kept = -1;
  {
    auto s = SpoolFile::CreateInMemory();
    ASSERT_TRUE(s.ok());
    kept = fd_of(s->path());
    ASSERT_TRUE(s->Write("x", 1).ok());
  }
  EXPECT_EQ(::fcntl(kept, F_GETFD), -1);
  // A file-system spool file is still unlinked by RemoveSpooled, and is not in memory.
  auto f = SpoolFile::Create(dir_);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->in_memory());
  ASSERT_TRUE(f->Write("on disk", 7).ok());
  EXPECT_FALSE(f->content().has_value());
  EXPECT_EQ(f->TakeContent(), "");
  const std::string path = f->Release();
  EXPECT_TRUE(fs::exists(path));
  RemoveSpooled(path);
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(SpoolTest, StaleUploadsAreRemovedAndOtherFilesKept) {
  std::ofstream(dir_ + "/upload-abc123") << "left by a dead process";
  std::ofstream(dir_ + "/upload-def456") << "";
  std::ofstream(dir_ + "/clamav-tmp") << "not ours";
  EXPECT_EQ(RemoveStaleSpoolFiles(dir_), 2);
  EXPECT_EQ(Files(), 1u);
  EXPECT_TRUE(fs::exists(dir_ + "/clamav-tmp"));
  EXPECT_EQ(RemoveStaleSpoolFiles(dir_ + "/missing"), 0);
}

}  // namespace
}  // namespace sandgate::submission
