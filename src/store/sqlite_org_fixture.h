// Test fixture: a throwaway SQLite store in a temporary directory holding one organization (org_),
// removed after the test. For tests of what sits on the Store interface (group commit, cluster
// admission) that need real transactions but no particular data. Test-only header.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "store/sqlite_store.h"

namespace sandgate::store {

class SqliteOrgFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "sandgate-fixture-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto st = OpenSqliteStore(dir_ + "/sandgate.db");
    ASSERT_TRUE(st.ok()) << st.status().message();
    store_ = std::move(st).value();
    ASSERT_TRUE(store_
                    ->Write([&](Tx& tx) -> Status {
                      OrgRecord o;
                      o.name = "Fixture Co";
                      auto id = tx.InsertOrg(o);
                      if (!id.ok()) return id.status();
                      org_ = *id;
                      return Status::Ok();
                    })
                    .ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  // The organization's count of admitted calls on `day` (-1 when it cannot be read).
  int64_t Used(int64_t day) {
    int64_t used = -1;
    EXPECT_TRUE(store_
                    ->Read([&](Tx& tx) -> Status {
                      auto u = tx.GetUsage(org_, day);
                      if (!u.ok()) return u.status();
                      used = u->used;
                      return Status::Ok();
                    })
                    .ok());
    return used;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  OrgId org_ = 0;
};

}  // namespace sandgate::store
