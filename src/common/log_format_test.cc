#include "common/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <spdlog/pattern_formatter.h>

#include <boost/json.hpp>

namespace sandgate {
namespace {

std::string Json(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

TEST(LogFormat, JsonStringsEscapeWhatCouldBreakTheLine) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("line\nbreak\r\x01\x7f"), "\"line\\u000abreak\\u000d\\u0001\\u007f\"");
  EXPECT_EQ(Json("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(Json("bad\xff\xc3"), "\"bad\\ufffd\\ufffd\"");
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(Json("\xe0\x80\xaf"), "\"\\ufffd\\ufffd\\ufffd\"");  // overlong
  for (std::string_view s : {"x\"}{\"forged\":1", "\xf0\x9f\x98\x80 ok", "\x00zero"}) {
    auto v = boost::json::parse(Json(s));
    ASSERT_TRUE(v.is_string());
  }
}

// The plain-run scan reads eight bytes at a time: every character that needs escaping is found
// wherever it sits in or after a word, and every byte that does not is kept.
TEST(LogFormat, JsonStringsEscapeAtEveryPosition) {
  const std::pair<std::string, std::string> specials[] = {
      {"\"", "\\\""},      {"\\", "\\\\"},
      {"\n", "\\u000a"},   {std::string(1, '\0'), "\\u0000"},
      {"\x1f", "\\u001f"}, {"\x7f", "\\u007f"},
      {"\xff", "\\ufffd"}, {"\xc3\xa9", "\xc3\xa9"}};
  for (size_t len = 0; len <= 24; ++len) {
    for (size_t at = 0; at <= len; ++at) {
      for (const auto& [raw, escaped] : specials) {
        std::string s(len, 'a');
        for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>(' ' + (i * 7) % 94);
        for (char& c : s)
          if (c == '"' || c == '\\') c = 'q';
        std::string want = "\"";  // step by step: GCC 12 warns (-Wrestrict) on "\"" + ...
        want += s.substr(0, at);
        want += escaped;
        want += s.substr(at);
        want += '"';
        s.insert(at, raw);
        EXPECT_EQ(Json(s), want) << "len " << len << " at " << at;
      }
    }
    std::string plain(len, '~');
    std::string quoted(1, '"');
    quoted += plain;
    quoted += '"';
    EXPECT_EQ(Json(plain), quoted);
  }
}

// The text formatter writes what spdlog's pattern wrote before it, byte for byte: every level, the
// milliseconds' edges, a second change within one formatter (its kept prefix), an empty message.
TEST(LogFormat, TextLinesAreThePatternsBytes) {
  spdlog::pattern_formatter pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  auto text = MakeTextFormatter();
  using namespace std::chrono;
  const auto base = spdlog::log_clock::time_point(seconds(1796466513));  // 2026-12-05T10:28:33Z
  int checked = 0;
  for (auto offset : {milliseconds(0), milliseconds(5), milliseconds(59), milliseconds(999),
                      milliseconds(1000), milliseconds(1001), milliseconds(86'399'999),
                      milliseconds(-1), milliseconds(31'536'000'123)}) {
    for (auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                       spdlog::level::warn, spdlog::level::err, spdlog::level::critical}) {
      for (std::string_view payload : {"127.0.0.1 GET /api/v1/sandbox/token 200 0.1ms", ""}) {
        spdlog::details::log_msg msg(base + offset, spdlog::source_loc{}, "access", level,
                                     spdlog::string_view_t(payload.data(), payload.size()));
        spdlog::memory_buf_t want, got;
        pattern.format(msg, want);
        text->format(msg, got);
        EXPECT_EQ(std::string(got.data(), got.size()), std::string(want.data(), want.size()));
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 108);
}

TEST(LogFormat, ParsesTheFormatNames) {
  LogFormat f;
  EXPECT_TRUE(ParseLogFormat("json", &f));
  EXPECT_EQ(f, LogFormat::kJson);
  EXPECT_TRUE(ParseLogFormat("text", &f));
  EXPECT_EQ(f, LogFormat::kText);
  EXPECT_FALSE(ParseLogFormat("JSON", &f));
  EXPECT_FALSE(ParseLogFormat("", &f));
}

std::string Format(const char* logger, std::string_view payload) {
  auto fmt = MakeJsonFormatter();
  spdlog::details::log_msg msg(logger, spdlog::level::info,
                               spdlog::string_view_t(payload.data(), payload.size()));
  spdlog::memory_buf_t buf;
  fmt->format(msg, buf);
  return std::string(buf.data(), buf.size());
}

TEST(LogFormat, OneJsonObjectPerLine) {
  std::string line = Format("sandgate", "hello \"world\"\nsecond line");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto o = boost::json::parse(line).as_object();
  EXPECT_EQ(o["level"], "info");
  EXPECT_EQ(o["logger"], "sandgate");
  EXPECT_EQ(o["message"], "hello \"world\"\nsecond line");
  EXPECT_TRUE(o["time"].as_string().ends_with("Z"));
}

TEST(LogFormat, RequestLinesCarryTheirFields) {
  AccessFields f;
  f.request_id = "abc";
  f.method = "GET";
  f.route = "/api/v1/provider/orgs/{id}";
  f.path = "/api/v1/provider/orgs/7\"\n";
  f.client = "127.0.0.1";
  f.status = 200;
  f.ms = 1.25;
  f.org_id = 7;
  std::string line = Format("access", AccessJson(f));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  auto o = boost::json::parse(line).as_object();
  EXPECT_EQ(o["message"], "request");
  EXPECT_EQ(o["requestId"], "abc");
  EXPECT_EQ(o["route"], "/api/v1/provider/orgs/{id}");
  EXPECT_EQ(o["path"], "/api/v1/provider/orgs/7\"\n");
  EXPECT_EQ(o["status"].as_int64(), 200);
  EXPECT_EQ(o["orgId"].as_int64(), 7);
  EXPECT_EQ(o["client"], "127.0.0.1");
  f.org_id = 0;
  auto o2 = boost::json::parse(Format("access", AccessJson(f))).as_object();
  EXPECT_FALSE(o2.contains("orgId"));
}

}  // namespace
}  // namespace sandgate
