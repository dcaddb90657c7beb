#include "http/router.h"

#include <gtest/gtest.h>

namespace sandgate::http {
namespace {

Response Ok(const Request&, RequestContext&) { return Response{bhttp::status::ok, 11}; }

TEST(Router, MatchesLiteralsAndCaptures) {
  Router r;
  r.Add(bhttp::verb::get, "/api/v1/provider/orgs", Ok);
  r.Add(bhttp::verb::post, "/api/v1/provider/orgs", Ok);
  r.Add(bhttp::verb::get, "/api/v1/provider/orgs/{id}/users/{uid}", Ok);
  auto m = r.Find(bhttp::verb::get, "/api/v1/provider/orgs/12/users/34");
  ASSERT_NE(m.route, nullptr);
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"id", "12"}));
  EXPECT_EQ(m.params[1], (std::pair<std::string, std::string>{"uid", "34"}));
  EXPECT_EQ(r.Find(bhttp::verb::get, "/api/v1/provider").status, 404);
  auto m405 = r.Find(bhttp::verb::delete_, "/api/v1/provider/orgs");
  EXPECT_EQ(m405.status, 405);
  EXPECT_EQ(m405.allow, "GET, POST");
}

// Paths that only parameter-free routes match are looked up in an index; the answer must be the
// one the scan in registration order gives, including when a route with a capture (registered
// earlier) matches the same path, and for spellings of a path that the index does not hold.
TEST(Router, IndexedPathsAnswerAsTheScanDoes) {
  Router r;
  r.Add(bhttp::verb::get, "/a/{id}", Ok);  // 0
  r.Add(bhttp::verb::get, "/a/b", Ok);     // 1: shadowed by 0 for GET
  r.Add(bhttp::verb::post, "/a/b", Ok);    // 2
  r.Add(bhttp::verb::get, "/c/d", Ok);     // 3
  r.Add(bhttp::verb::put, "/c/d", Ok);     // 4
  r.Add(bhttp::verb::get, "/", Ok);        // 5
  const auto& routes = r.routes();
  auto get_ab = r.Find(bhttp::verb::get, "/a/b");
  EXPECT_EQ(get_ab.route, &routes[0]);
  ASSERT_EQ(get_ab.params.size(), 1u);
  EXPECT_EQ(get_ab.params[0].second, "b");
  EXPECT_EQ(r.Find(bhttp::verb::post, "/a/b").route, &routes[2]);
  EXPECT_EQ(r.Find(bhttp::verb::put, "/c/d").route, &routes[4]);
  for (const char* spelling : {"/c/d", "/c/d/", "//c//d"}) {
    EXPECT_EQ(r.Find(bhttp::verb::get, spelling).route, &routes[3]) << spelling;
    auto m = r.Find(bhttp::verb::delete_, spelling);
    EXPECT_EQ(m.status, 405) << spelling;
    EXPECT_EQ(m.allow, "GET, PUT") << spelling;
  }
  EXPECT_EQ(r.Find(bhttp::verb::get, "/").route, &routes[5]);
  EXPECT_EQ(r.Find(bhttp::verb::get, "/c").status, 404);
  // A route added later that also matches an indexed path takes part in its answers.
  r.Add(bhttp::verb::delete_, "/c/{x}", Ok);  // 6
  EXPECT_EQ(r.Find(bhttp::verb::delete_, "/c/d").route, &r.routes()[6]);
}

TEST(Router, SplitTargetDecodesPathAndKeepsQueryRaw) {
  std::string path, query;
  ASSERT_TRUE(SplitTarget("/a%20b/c?x=1&y=%41", &path, &query));
  EXPECT_EQ(path, "/a b/c");
  EXPECT_EQ(query, "x=1&y=%41");
  EXPECT_FALSE(SplitTarget("a/b", &path, &query));
  EXPECT_FALSE(SplitTarget("/a%2", &path, &query));
  EXPECT_FALSE(SplitTarget("/a%zz", &path, &query));
  EXPECT_FALSE(SplitTarget("/a%00b", &path, &query));
}

TEST(Router, QueryParam) {
  EXPECT_EQ(QueryParam("a=1&b=two+words&c=%41", "b"), "two words");
  EXPECT_EQ(QueryParam("a=1&b=2", "c"), std::nullopt);
  EXPECT_EQ(QueryParam("flag&a=1", "flag"), "");
  EXPECT_EQ(QueryParam("c=%41", "c"), "A");
  EXPECT_EQ(QueryParam("c=%4", "c"), std::nullopt);
  EXPECT_EQ(QueryParam("", "c"), std::nullopt);
}

// A '%' escape or a '+' at any offset of a long value (the eight-bytes-at-a-time scan and the byte
// by byte tail) is decoded; a value without one comes back unchanged.
TEST(Router, QueryParamDecodesAnEscapeAtEveryOffset) {
  const std::string plain(40, 'x');
  EXPECT_EQ(QueryParam("v=" + plain, "v"), plain);
  for (size_t at = 0; at <= plain.size(); ++at) {
    std::string pct = plain, plus = plain, want_pct = plain, want_plus = plain;
    pct.insert(at, "%41");
    want_pct.insert(at, "A");
    plus.insert(at, "+");
    want_plus.insert(at, " ");
    EXPECT_EQ(QueryParam("v=" + pct, "v"), want_pct) << at;
    EXPECT_EQ(QueryParam("v=" + plus, "v"), want_plus) << at;
    EXPECT_EQ(QueryParam("v=" + plain.substr(0, at) + "%4", "v"), std::nullopt) << at;
    // In a name too: "%61pi_token" is "api_token", "api+token" is not.
    const std::string key = std::string(at % 9, 'k');
    EXPECT_EQ(QueryParamCount(key + "%61=1", key + "a"), 1u) << at;
    EXPECT_EQ(QueryParamCount(key + "+a=1", key + "a"), 0u) << at;
  }
}

TEST(Router, QueryParamCountComparesDecodedNames) {
  EXPECT_EQ(QueryParamCount("api_token=a", "api_token"), 1u);
  EXPECT_EQ(QueryParamCount("api_token=a&api_token=b", "api_token"), 2u);
  EXPECT_EQ(QueryParamCount("api%5Ftoken=a&api_token=b", "api_token"), 2u);
  EXPECT_EQ(QueryParamCount("API_TOKEN=a&force=1", "api_token"), 0u);
  EXPECT_EQ(QueryParamCount("api_token&x=1", "api_token"), 1u);
  EXPECT_EQ(QueryParamCount("", "api_token"), 0u);
}

}  // namespace
}  // namespace sandgate::http
