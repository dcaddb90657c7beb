// Config keys of issue 16: log_format, metrics, metrics_listen, metrics_bearer_file,
// trusted_proxies (the CIDR syntax itself is checked by `serve`, http/request_id_test.cc).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "app/instance.h"

namespace sandgate::app {
namespace {

Status LoadText(const std::string& text, Config* cfg) {
  char tmpl[] = "/tmp/sandgate-obs-config-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return Status::Internal("mkstemp");
  close(fd);
  std::ofstream(tmpl, std::ios::binary) << text;
  Status st = LoadConfigFile(tmpl, cfg);
  std::remove(tmpl);
  return st;
}

TEST(ObservabilityConfig, ReadsTheKeys) {
  Config cfg;
  EXPECT_EQ(cfg.log_format, "text");
  EXPECT_TRUE(cfg.metrics);
  ASSERT_TRUE(LoadText("log_format = \"json\"\nmetrics = \"off\"\nmetrics_listen = "
                       "\"127.0.0.1:9464\"\nmetrics_bearer_file = \"/etc/sg/bearer\"\n"
                       "trusted_proxies = [\"10.0.0.0/8\", \"::1/128\"]\nlog_file = \"-\"\n",
                       &cfg)
                  .ok());
  EXPECT_EQ(cfg.log_format, "json");
  EXPECT_FALSE(cfg.metrics);
  EXPECT_EQ(cfg.metrics_listen, "127.0.0.1:9464");
  EXPECT_EQ(cfg.metrics_bearer_file, "/etc/sg/bearer");
  EXPECT_EQ(cfg.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "::1/128"}));
  EXPECT_EQ(cfg.log_file, "-");
  ASSERT_TRUE(LoadText("metrics = true\n", &cfg).ok());
  EXPECT_TRUE(cfg.metrics);
}

TEST(ObservabilityConfig, RefusesBadValuesNamingTheKey) {
  for (const char* text : {"log_format = \"xml\"\n", "log_format = 1\n", "metrics = \"maybe\"\n",
                           "metrics = 1\n", "trusted_proxies = \"10.0.0.0/8\"\n",
                           "trusted_proxies = [1]\n", "metrics_listen = 9464\n"}) {
    Config cfg;
    Status st = LoadText(text, &cfg);
    EXPECT_EQ(st.code(), "CONFIG_INVALID") << text;
    const std::string key(text, std::string(text).find(' '));
    EXPECT_NE(st.message().find(key), std::string::npos) << st.message();
  }
}

}  // namespace
}  // namespace sandgate::app
