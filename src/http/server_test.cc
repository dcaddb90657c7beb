#include "http/server.h"

#include <gtest/gtest.h>

#include <sstream>

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

}  // namespace
}  // namespace sandgate::http
