// ClamAV's official database formats (.cvd signed and compressed, .cld signed and uncompressed, as
// freshclam leaves them after applying daily diffs; .cud unsigned) on the loading path Sandgate
// uses (cl_load with CL_DB_STDOPT: digital signature checks on, bytecode in its default
// trust-signed mode). There is no network and no Talos signing key here, so the databases are
// built locally by `sigtool --build --unsigned` from Sandgate's own test signatures:
//  - an unsigned .cud loads, and its signatures detect;
//  - the same container named .cvd is refused (its digital signature does not verify): the
//    signature check is on;
//  - a .cld made from it (uncompressed) is refused: its daily.info carries no digital signature;
//  - a damaged container is refused.
// What a real main.cvd / daily.cld / bytecode.cvd signed by Talos does (loads, bytecode runs) is
// not exercised here.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "analysis/engine.h"
#include "analysis/test_samples.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANDGATE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDGATE_ASAN 1
#endif
#endif
#ifdef SANDGATE_ASAN
#include <sanitizer/lsan_interface.h>
#endif

namespace sandgate::analysis {
namespace {

namespace fs = std::filesystem;

using test_samples::Eicar;

class ClamavDbTest : public testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v sigtool >/dev/null 2>&1") != 0) {
      GTEST_SKIP() << "sigtool (Debian package clamav) not installed";
    }
    std::string tmpl = testing::TempDir() + "sg_cvd_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    // sigtool --build NAME packs NAME's files (daily.ndb, daily.hdb) plus COPYING.
    const std::string build = dir_ + "/build";
    fs::create_directories(build);
    const std::string sigs = EngineConfig{}.signatures_dir;
    fs::copy_file(sigs + "/sandgate.ndb", build + "/daily.ndb");
    fs::copy_file(sigs + "/sandgate.hdb", build + "/daily.hdb");
    std::ofstream(build + "/COPYING") << "Sandgate test signatures\n";
    const std::string cmd = "cd '" + build +
                            "' && printf 'sandgate-test\\n' | sigtool --build=daily.cud --unsigned "
                            "--cvd-version=1 --datadir='" +
                            build + "' >sigtool.log 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "sigtool failed, see " << build << "/sigtool.log";
    cud_ = build + "/daily.cud";
    ASSERT_TRUE(fs::exists(cud_));
    eicar_ = dir_ + "/eicar.txt";
    std::ofstream(eicar_) << Eicar() << "\n";
  }
  void TearDown() override {
    std::error_code ec;
    if (!dir_.empty()) fs::remove_all(dir_, ec);
  }
  // A signatures directory holding `file` under `name`.
  std::string DbDir(const std::string& sub, const std::string& file, const std::string& name) {
    const std::string d = dir_ + "/" + sub;
    fs::create_directories(d);
    fs::copy_file(file, d + "/" + name);
    return d;
  }
  Result<std::shared_ptr<Engine>> Load(const std::string& sigdir) {
#ifdef SANDGATE_ASAN
    // libclamav 1.4.6 leaks a hash context (cl_hash_init, about 1 KiB) when cl_load reads the
    // daily.info of a .cud/.cld container; not ours to free.
    __lsan::ScopedDisabler libclamav_leaks;
#endif
    EngineConfig c;
    c.signatures_dir = sigdir;
    c.load_rules = false;
    return Engine::Load(c);
  }

  std::string dir_, cud_, eicar_;
};

TEST_F(ClamavDbTest, UnsignedCudLoadsAndDetects) {
  Result<std::shared_ptr<Engine>> e = Load(DbDir("cud", cud_, "daily.cud"));
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ((*e)->signature_count(), 45u);  // 1 body signature + 44 hashes, as in share/signatures
  std::string virus, av_error;
  ASSERT_TRUE((*e)->ScanAv(eicar_, &virus, &av_error).ok());
  EXPECT_EQ(virus, "Eicar-Test-Signature.UNOFFICIAL");  // a .cud is not official
}

TEST_F(ClamavDbTest, CvdWhoseDigitalSignatureDoesNotVerifyIsRefused) {
  Result<std::shared_ptr<Engine>> e = Load(DbDir("cvd", cud_, "daily.cvd"));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("verify"), std::string::npos) << e.status().message();
}

TEST_F(ClamavDbTest, CldWithoutSignedInfoIsRefused) {
  // A .cld is the 512-byte header followed by the uncompressed tar (what freshclam writes).
  const std::string cld = dir_ + "/daily.cld";
  const std::string cmd =
      "(head -c 512 '" + cud_ + "'; tail -c +513 '" + cud_ + "' | gzip -dc) > '" + cld + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  Result<std::shared_ptr<Engine>> e = Load(DbDir("cld", cld, "daily.cld"));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("Malformed database"), std::string::npos)
      << e.status().message();
}

TEST_F(ClamavDbTest, DamagedContainerIsRefused) {
  const std::string d = DbDir("bad", cud_, "daily.cud");
  {
    std::fstream f(d + "/daily.cud", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.write("\0\0\0\0", 4);
  }
  EXPECT_FALSE(Load(d).ok());
}

}  // namespace
}  // namespace sandgate::analysis
