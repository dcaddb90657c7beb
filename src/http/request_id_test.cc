#include "http/request_id.h"

#include <gtest/gtest.h>

#include <set>

#include "http/server.h"

namespace sandgate::http {
namespace {

boost::asio::ip::address A(const char* s) { return boost::asio::ip::make_address(s); }

TEST(RequestId, CidrsParseAndMatch) {
  auto net = ParseCidr("10.1.0.0/16");
  ASSERT_TRUE(net);
  EXPECT_TRUE(net->Contains(A("10.1.200.3")));
  EXPECT_FALSE(net->Contains(A("10.2.0.1")));
  EXPECT_TRUE(net->Contains(A("::ffff:10.1.0.9")));  // IPv4-mapped
  auto one = ParseCidr("127.0.0.5");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->Contains(A("127.0.0.5")));
  EXPECT_FALSE(one->Contains(A("127.0.0.6")));
  auto v6 = ParseCidr("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->Contains(A("2001:db8:1::7")));
  EXPECT_FALSE(v6->Contains(A("2001:db9::1")));
  EXPECT_FALSE(v6->Contains(A("10.1.0.1")));
  ASSERT_TRUE(ParseCidr("0.0.0.0/0"));
  EXPECT_TRUE(ParseCidr("0.0.0.0/0")->Contains(A("8.8.8.8")));
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.1/8", "10.0.0.0/", "10.0.0.0/x", "nope",
                          "::1/129", "10.0.0.0/-1", "10.0.0.0/8 "})
    EXPECT_FALSE(ParseCidr(bad)) << bad;
}

TEST(RequestId, GeneratedIdsAreUniqueAndValid) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewRequestId();
    EXPECT_EQ(id.size(), 24u);
    EXPECT_TRUE(ValidRequestId(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RequestId, OnlyWellFormedIdsAreKept) {
  EXPECT_TRUE(ValidRequestId("abc-123_4.5:6"));
  EXPECT_TRUE(ValidRequestId(std::string(128, 'a')));
  EXPECT_FALSE(ValidRequestId(std::string(129, 'a')));
  EXPECT_FALSE(ValidRequestId(""));
  EXPECT_FALSE(ValidRequestId("a b"));
  EXPECT_FALSE(ValidRequestId("a\"b"));
  EXPECT_FALSE(ValidRequestId("a\nb"));
  EXPECT_FALSE(ValidRequestId("caf\xc3\xa9"));
}

TEST(RequestId, ForwardedForSkipsTrustedHopsFromTheRight) {
  std::vector<Cidr> trusted = {*ParseCidr("10.0.0.0/8")};
  EXPECT_EQ(ForwardedClient("203.0.113.9", trusted), A("203.0.113.9"));
  // The client may send its own X-Forwarded-For: only the rightmost untrusted entry counts.
  EXPECT_EQ(ForwardedClient("1.2.3.4, 203.0.113.9, 10.0.0.2", trusted), A("203.0.113.9"));
  EXPECT_EQ(ForwardedClient(" [2001:db8::1] ", trusted), A("2001:db8::1"));
  EXPECT_EQ(ForwardedClient("10.0.0.3, 10.0.0.2", trusted), A("10.0.0.3"));
  EXPECT_EQ(ForwardedClient("garbage, 203.0.113.9", trusted), A("203.0.113.9"));
  EXPECT_EQ(ForwardedClient("203.0.113.9, garbage", trusted), std::nullopt);
  EXPECT_EQ(ForwardedClient("", trusted), std::nullopt);
}

}  // namespace
}  // namespace sandgate::http

namespace sandgate::http {
namespace {

TEST(RequestId, ErrorBodiesRepeatTheId) {
  Response err = JsonError(11, 404, "NOT_FOUND", "No such resource.");
  AddRequestIdToError(err, "abc\"1");
  EXPECT_EQ(err.body(),
            R"({"code":"NOT_FOUND","message":"No such resource.","requestId":"abc\"1"})");
  Response ok{bhttp::status::ok, 11};
  ok.set(bhttp::field::content_type, "application/json");
  ok.body() = R"({"token":"x"})";
  AddRequestIdToError(ok, "abc");  // not an error: unchanged
  EXPECT_EQ(ok.body(), R"({"token":"x"})");
  Response html{bhttp::status::not_found, 11};
  html.set(bhttp::field::content_type, "text/html");
  html.body() = "<p>{}</p>";
  AddRequestIdToError(html, "abc");  // not JSON: unchanged
  EXPECT_EQ(html.body(), "<p>{}</p>");
  Response empty{bhttp::status::bad_request, 11};
  empty.set(bhttp::field::content_type, "application/json");
  empty.body() = "{}";
  AddRequestIdToError(empty, "abc");
  EXPECT_EQ(empty.body(), R"({"requestId":"abc"})");
}

}  // namespace
}  // namespace sandgate::http
