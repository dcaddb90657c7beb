#include "common/fault.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

namespace sandgate::fault {
namespace {

TEST(FaultTest, ParsesSitesAndKinds) {
  Kind k[kSiteCount] = {};
  Parse("store_write=eio\nspool_write=enospc, bogus=eio store_sync=what\n", k);
  EXPECT_EQ(k[static_cast<int>(Site::kStoreWrite)], Kind::kIoError);
  EXPECT_EQ(k[static_cast<int>(Site::kSpoolWrite)], Kind::kNoSpace);
  EXPECT_EQ(k[static_cast<int>(Site::kStoreSync)], Kind::kNone);
  Parse("store_write=none", k);
  EXPECT_EQ(k[static_cast<int>(Site::kStoreWrite)], Kind::kNone);
  EXPECT_EQ(Errno(Kind::kIoError), EIO);
  EXPECT_EQ(Errno(Kind::kNoSpace), ENOSPC);
  EXPECT_EQ(Errno(Kind::kNone), 0);
}

TEST(FaultTest, SetArmsASiteAfterSomeCalls) {
  ClearAll();
  Set(Site::kSpoolWrite, Kind::kNoSpace, 2);
  EXPECT_TRUE(Enabled());
  EXPECT_EQ(At(Site::kStoreWrite), Kind::kNone);
  EXPECT_EQ(At(Site::kSpoolWrite), Kind::kNone);
  EXPECT_EQ(At(Site::kSpoolWrite), Kind::kNone);
  EXPECT_EQ(At(Site::kSpoolWrite), Kind::kNoSpace);
  EXPECT_EQ(At(Site::kSpoolWrite), Kind::kNoSpace);
  ClearAll();
  EXPECT_EQ(At(Site::kSpoolWrite), Kind::kNone);
}

TEST(FaultTest, FollowsTheWatchedFile) {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "sandgate-faultfile-XXXXXX").string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  const std::string file = tmpl + "/faults";
  auto write = [&](const std::string& text) { std::ofstream(file, std::ios::trunc) << text; };
  WatchFile(file);  // missing: no faults
  EXPECT_EQ(At(Site::kStoreWrite), Kind::kNone);
  write("store_write=eio");
  EXPECT_EQ(At(Site::kStoreWrite), Kind::kIoError);  // seen at the next call, no delay
  write("store_write=enospc");
  EXPECT_EQ(At(Site::kStoreWrite), Kind::kNoSpace);
  write("spool_write=enospc");
  EXPECT_EQ(At(Site::kStoreWrite), Kind::kNone);
  EXPECT_EQ(At(Site::kSpoolWrite), Kind::kNoSpace);
  write("");
  EXPECT_EQ(At(Site::kSpoolWrite), Kind::kNone);
  write("store_sync=eio");
  EXPECT_EQ(At(Site::kStoreSync), Kind::kIoError);
  std::filesystem::remove(file);
  EXPECT_EQ(At(Site::kStoreSync), Kind::kNone);
  ClearAll();  // stops watching
  write("store_write=eio");
  EXPECT_EQ(At(Site::kStoreWrite), Kind::kNone);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace sandgate::fault
