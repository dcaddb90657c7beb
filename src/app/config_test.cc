#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "app/instance.h"

namespace sandgate::app {
namespace {

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sandgate-config-test-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  Status Load(const std::string& text, Config* cfg) {
    std::ofstream(path_, std::ios::binary) << text;
    return LoadConfigFile(path_, cfg);
  }
  std::string path_;
};

TEST_F(ConfigFileTest, ReadsTopLevelKeys) {
  Config cfg;
  ASSERT_TRUE(Load("data = \"/srv/sg\"\nlisten = \"0.0.0.0:8443\"\nthreads = 4\n", &cfg).ok());
  EXPECT_EQ(cfg.data_dir, "/srv/sg");
  EXPECT_EQ(cfg.listen, "0.0.0.0:8443");
  EXPECT_EQ(cfg.threads, 4);
}

TEST_F(ConfigFileTest, InvalidTokenLimitIsBounded) {
  Config cfg;
  EXPECT_EQ(cfg.invalid_token_limit, 20);
  ASSERT_TRUE(Load("invalid_token_limit = 1000\n", &cfg).ok());
  EXPECT_EQ(cfg.invalid_token_limit, 1000);
  EXPECT_EQ(Load("invalid_token_limit = 0\n", &cfg).code(), "CONFIG_INVALID");
  EXPECT_EQ(Load("invalid_token_limit = \"many\"\n", &cfg).code(), "CONFIG_INVALID");
  EXPECT_EQ(cfg.invalid_token_limit, 1000);
}

TEST_F(ConfigFileTest, RuleSetKeys) {
  Config cfg;
  EXPECT_FALSE(cfg.rules_strict);
  EXPECT_EQ(cfg.rules_default_severity, "MODERATE");
  ASSERT_TRUE(Load("rules_strict = true\nrules_default_severity = \"HIGH\"\n"
                   "rules_cache_dir = \"/var/cache/sg\"\n",
                   &cfg)
                  .ok());
  EXPECT_TRUE(cfg.rules_strict);
  EXPECT_EQ(cfg.rules_default_severity, "HIGH");
  EXPECT_EQ(cfg.rules_cache_dir, "/var/cache/sg");
  EXPECT_EQ(Load("rules_strict = \"yes\"\n", &cfg).code(), "CONFIG_INVALID");
  EXPECT_EQ(Load("rules_default_severity = \"high\"\n", &cfg).code(), "CONFIG_INVALID");
  EXPECT_EQ(Load("rules_default_severity = 50\n", &cfg).code(), "CONFIG_INVALID");
  EXPECT_EQ(cfg.rules_default_severity, "HIGH");
}

// Found by config_toml_fuzz: toml++ 3.3 asserts on a table header not followed by a key.
TEST_F(ConfigFileTest, RefusesTableHeadersBeforeParsing) {
  Config cfg;
  for (const char* text :
       {"[ = \"\"\"multi\nline\"\"\"\n", "[server]\nport = 1\n", "data = \"x\"\n  [[servers]]\n"}) {
    Status st = Load(text, &cfg);
    EXPECT_EQ(st.code(), "CONFIG_INVALID") << text;
    EXPECT_NE(st.message().find("table header"), std::string::npos) << st.message();
  }
}

// Found by config_toml_fuzz: toml++ 3.3 reaches __builtin_unreachable on U+0359 after a value.
TEST_F(ConfigFileTest, RefusesNonAscii) {
  Config cfg;
  Status st = Load(
      "threads = 9999999\xcd\x99"
      "ds = 9\n",
      &cfg);
  EXPECT_EQ(st.code(), "CONFIG_INVALID");
  EXPECT_NE(st.message().find("non-ASCII"), std::string::npos) << st.message();
}

TEST_F(ConfigFileTest, MalformedAndWrongTypesAreConfigInvalid) {
  Config cfg;
  EXPECT_EQ(Load("threads = \"four\"\n", &cfg).code(), "CONFIG_INVALID");
  EXPECT_EQ(Load("data = \n", &cfg).code(), "CONFIG_INVALID");
  EXPECT_EQ(Load("colour = \"blue\"\n", &cfg).code(), "CONFIG_INVALID");
}

// Found by config_toml_fuzz: a float too large for an integer key (UBSan: outside the range of
// long) is refused like any out-of-range value; one in range still counts as its whole part.
TEST_F(ConfigFileTest, FloatsForIntegerKeysAreRangeChecked) {
  Config cfg;
  for (const char* text : {"threads = 99999999E98\n", "max_connections = -1e300\n",
                           "invalid_token_limit = inf\n", "analysis_queue = nan\n"})
    EXPECT_EQ(Load(text, &cfg).code(), "CONFIG_INVALID") << text;
  ASSERT_TRUE(Load("threads = 4.0\n", &cfg).ok());
  EXPECT_EQ(cfg.threads, 4);
}

}  // namespace
}  // namespace sandgate::app
