#include "metrics/registry.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "metrics/sandgate_metrics.h"

namespace sandgate::metrics {
namespace {

TEST(MetricsRegistry, CountersSumTheirShardsAcrossThreads) {
  Registry r;
  Counter& c = r.GetCounter("t_requests_total", "Requests.", {{"route", "/a"}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Inc();
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 80000u);
  // The same labels give the same series.
  EXPECT_EQ(&r.GetCounter("t_requests_total", "Requests.", {{"route", "/a"}}), &c);
  EXPECT_NE(&r.GetCounter("t_requests_total", "Requests.", {{"route", "/b"}}), &c);
}

TEST(MetricsRegistry, GaugeAddsAndSets) {
  Registry r;
  Gauge& g = r.GetGauge("t_in_flight", "In flight.");
  std::thread a([&] { g.Add(5); });
  a.join();
  g.Add(-2);
  EXPECT_EQ(g.Value(), 3);
  g.Set(42);
  EXPECT_EQ(g.Value(), 42);
}

TEST(MetricsRegistry, HistogramBucketsAreCumulative) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 2.0, 100.0}) h.Observe(v);
  auto s = h.Take();
  ASSERT_EQ(s.cumulative.size(), 4u);
  EXPECT_EQ(s.cumulative[0], 2u);  // le=0.1 includes 0.1 itself
  EXPECT_EQ(s.cumulative[1], 3u);
  EXPECT_EQ(s.cumulative[2], 4u);
  EXPECT_EQ(s.cumulative[3], 5u);
  EXPECT_EQ(s.count, 5u);
  EXPECT_DOUBLE_EQ(s.sum, 102.65);
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
}

TEST(MetricsRegistry, RefusesBadNamesAndMismatchedFamilies) {
  Registry r;
  EXPECT_THROW(r.GetCounter("1bad", "x"), std::invalid_argument);
  EXPECT_THROW(r.GetCounter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(r.GetCounter("ok_total", "x", {{"__reserved", "v"}}), std::invalid_argument);
  EXPECT_THROW(r.GetCounter("ok_total", "x", {{"le", "v"}}), std::invalid_argument);
  r.GetCounter("ok_total", "x", {{"a", "1"}});
  EXPECT_THROW(r.GetGauge("ok_total", "x", {{"a", "1"}}), std::invalid_argument);
  EXPECT_THROW(r.GetCounter("ok_total", "x", {{"b", "1"}}), std::invalid_argument);
}

TEST(MetricsRegistry, ExposesTheTextFormat) {
  Registry r;
  r.GetCounter("t_total", "A \\ counter\nwith two lines.", {{"path", "a\"b\\c\nd"}}).Inc(3);
  r.GetGauge("t_gauge", "A gauge.").Add(-4);
  r.GetHistogram("t_seconds", "A histogram.", {0.5, 1}, {{"kind", "read"}}).Observe(0.75);
  size_t id = r.AddSampled("t_sampled", "Sampled.", false, {}, [] { return 2.5; });
  const std::string text = r.Expose();
  EXPECT_NE(text.find("# HELP t_total A \\\\ counter\\nwith two lines.\n# TYPE t_total counter\n"
                      "t_total{path=\"a\\\"b\\\\c\\nd\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE t_gauge gauge\nt_gauge -4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{kind=\"read\",le=\"0.5\"} 0\n"
                      "t_seconds_bucket{kind=\"read\",le=\"1\"} 1\n"
                      "t_seconds_bucket{kind=\"read\",le=\"+Inf\"} 1\n"
                      "t_seconds_sum{kind=\"read\"} 0.75\n"
                      "t_seconds_count{kind=\"read\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("t_sampled 2.5\n"), std::string::npos) << text;
  r.RemoveSampled(id);
  EXPECT_EQ(r.Expose().find("t_sampled"), std::string::npos);
}

// Runs `promtool check metrics` (Debian's prometheus package) on `text`; returns its exit status
// and output.
int PromtoolCheck(const std::string& text, std::string* output) {
  char path[] = "/tmp/sandgate-metrics-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  FILE* f = fdopen(fd, "w");
  fwrite(text.data(), 1, text.size(), f);
  fclose(f);
  const std::string cmd = std::string("promtool check metrics < ") + path + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) output->append(buf, n);
  int status = pclose(p);
  unlink(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(MetricsRegistry, PromtoolAcceptsTheCatalogue) {
  M();  // registers every Sandgate metric in Global()
  CountTokenVerification(TokenOutcome::kInvalid);
  CountSubmission("submit", "accepted");
  CountVerdict("Virus");
  std::string out;
  const std::string text = Global().Expose();
  EXPECT_NE(text.find("sandgate_token_verifications_total{outcome=\"invalid\"}"),
            std::string::npos);
  EXPECT_EQ(PromtoolCheck(text, &out), 0) << out << "\n" << text;
  EXPECT_EQ(out, "") << out;  // no lint complaints either
}

TEST(MetricsRegistry, PromtoolCatchesABrokenExposition) {
  // The check above can fail: promtool refuses a counter without _total and a bad line.
  std::string out;
  EXPECT_NE(PromtoolCheck("# TYPE x counter\nx{a=\"1\" 1\n", &out), 0) << out;
}

}  // namespace
}  // namespace sandgate::metrics
