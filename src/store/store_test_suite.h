// The backend-agnostic Store test suite: one set of tests (store_test_suite_test.cc) that every
// Store implementation must pass unchanged. A backend instantiates it in its own *_test.cc:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSuite,
//                            ::testing::Values(StoreBackend{"Sqlite", open_fn, nullptr}),
//                            StoreBackendName);
//
// The tests live in a *_test.cc file (not a plain .cc) so the build links them into the unit-test
// binary; a plain .cc would land in the core library, where nothing references it and the linker
// would drop the tests without a word.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <system_error>

#include "store/store.h"

namespace sandgate::store {

struct StoreBackend {
  // Test-name suffix: letters, digits and '_' only.
  std::string name;
  // Opens the store whose data belongs to `scratch_dir`, an empty directory the suite creates for
  // each test and removes afterwards. Called again with the same directory after the previous
  // store was destroyed, it must open the same data (the durability tests rely on it). Returns
  // null on failure (the test then fails).
  std::function<std::unique_ptr<Store>(const std::string& scratch_dir)> open;
  // Optional: called after the store is destroyed, before the directory is removed (e.g. to drop
  // a per-test database on a server).
  std::function<void(const std::string& scratch_dir)> cleanup;
  // Optional: a non-empty reason skips the test (a server-backed backend outside CTest, where the
  // server is not set up). Under CTest the server is always set up, so nothing is skipped there.
  std::function<std::string()> skip_reason;
};

inline void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

inline std::string StoreBackendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

// Fixture: a fresh, empty store per test in its own scratch directory.
class StoreSuite : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (GetParam().skip_reason) {
      if (std::string why = GetParam().skip_reason(); !why.empty()) GTEST_SKIP() << why;
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "sandgate-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << "mkdtemp failed";
    scratch_dir_ = tmpl;
    store_ = GetParam().open(scratch_dir_);
    ASSERT_NE(store_, nullptr) << "backend " << GetParam().name << " failed to open";
  }

  void TearDown() override {
    store_.reset();
    if (scratch_dir_.empty()) return;
    if (GetParam().cleanup) GetParam().cleanup(scratch_dir_);
    std::error_code ec;
    std::filesystem::remove_all(scratch_dir_, ec);
  }

  // Closes the store and opens it again on the same data.
  void Reopen() {
    store_.reset();
    store_ = GetParam().open(scratch_dir_);
    ASSERT_NE(store_, nullptr) << "backend " << GetParam().name << " failed to reopen";
  }

  Store& store() { return *store_; }

  std::string scratch_dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace sandgate::store
