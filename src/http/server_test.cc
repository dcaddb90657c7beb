#include "http/server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace sandgate::http {
namespace {

// What Beast's own serializer writes for the same message.
std::string BeastWire(const Response& res) {
  std::ostringstream os;
  os << res;
  return os.str();
}

Response Make(bhttp::status status, std::string body, bool keep) {
  Response res{status, 11};
  res.set(bhttp::field::content_type, "application/json");
  res.body() = std::move(body);
  AddCommonHeaders(res);
  res.keep_alive(keep);
  res.prepare_payload();
  return res;
}

TEST(SerializeResponseTest, MatchesBeastByteForByte) {
  std::vector<Response> cases;
  cases.push_back(Make(bhttp::status::ok, R"({"token":"sbx_x"})", true));
  cases.push_back(Make(bhttp::status::unauthorized, R"({"code":401})", false));
  cases.push_back(Make(bhttp::status::no_content, "", true));
  cases.push_back(Make(bhttp::status::too_many_requests, std::string(70000, 'x'), true));
  Response custom = Make(static_cast<bhttp::status>(499), "gone", false);
  custom.set("X-RateLimit-Remaining", "0");
  custom.insert("Set-Cookie", "a=1");
  custom.insert("Set-Cookie", "b=2");
  cases.push_back(custom);
  Response old = Make(bhttp::status::ok, "old", false);
  old.version(10);
  cases.push_back(old);
  std::string wire;
  for (const auto& res : cases) {
    SerializeResponse(res, wire);
    EXPECT_EQ(wire, BeastWire(res)) << res.result_int();
  }
}

TEST(SerializeResponseTest, ReusesTheBufferWithoutLeftovers) {
  std::string wire = std::string(5000, 'z');
  SerializeResponse(Make(bhttp::status::ok, "{}", true), wire);
  EXPECT_EQ(wire.find('z'), std::string::npos);
  EXPECT_EQ(wire.substr(0, 17), "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(wire.substr(wire.size() - 6), "\r\n\r\n{}");
}

// The header lines of a serialized answer, sorted (order aside, the same fields).
std::vector<std::string> SortedFields(const std::string& wire) {
  std::vector<std::string> lines;
  size_t at = wire.find("\r\n") + 2;
  for (size_t end; (end = wire.find("\r\n", at)) != at; at = end + 2)
    lines.push_back(wire.substr(at, end - at));
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(CommonHeaderLinesTest, SameFieldsAsAddCommonHeaders) {
  for (bool has_cache_control : {false, true}) {
    Response plain{bhttp::status::ok, 11};
    plain.set(bhttp::field::content_type, "application/json");
    if (has_cache_control) plain.set(bhttp::field::cache_control, "no-cache");
    plain.body() = "{}";
    plain.prepare_payload();
    Response set = plain;
    AddCommonHeaders(set);
    std::string with_lines, with_fields;
    SerializeResponse(plain, with_lines, CommonHeaderLines(false, !has_cache_control));
    SerializeResponse(set, with_fields);
    EXPECT_EQ(SortedFields(with_lines), SortedFields(with_fields)) << has_cache_control;
    EXPECT_EQ(with_lines.substr(with_lines.size() - 6), "\r\n\r\n{}");
  }
  EXPECT_NE(CommonHeaderLines(true, true).find("Strict-Transport-Security: max-age=31536000\r\n"),
            std::string::npos);
  EXPECT_EQ(CommonHeaderLines(false, true).find("Strict-Transport-Security"), std::string::npos);
}

}  // namespace
}  // namespace sandgate::http
