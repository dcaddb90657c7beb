// /api/v1/authenticatedSession through the router, and the session guard every signed-in route
// shares: no cookie 401, two cookies 400, CSRF on state changes 403 (audited), and the
// before-`100 Continue` check.
#include "api/route_test_fixture.h"

namespace sandgate::api::testing {
namespace {

using SessionRoutesTest = RouteTest;

TEST_F(SessionRoutesTest, SignInSetsAnHttpOnlyCookieAndAnswersTheUserAndCsrfToken) {
  json::object body{{"username", "provider"}, {"password", kPassword}};
  Answer a = Call(verb::post, "/api/v1/authenticatedSession", nullptr, json::serialize(body));
  ASSERT_EQ(a.status, 200) << a.res.body();
  EXPECT_EQ(a.obj().at("user").at("username"), "provider");
  EXPECT_EQ(a.obj().at("user").at("role"), "PROVIDER_ADMIN");
  EXPECT_EQ(a.obj().at("idleTimeoutSeconds"), 1800);
  EXPECT_FALSE(a.obj().at("csrfToken").as_string().empty());
  std::string cookie(a.res[http::bhttp::field::set_cookie]);
  EXPECT_TRUE(cookie.starts_with("sg_session=")) << cookie;
  EXPECT_NE(cookie.find("; Path=/; HttpOnly; SameSite=Strict"), std::string::npos) << cookie;
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << cookie;  // not over TLS
}

TEST_F(SessionRoutesTest, WrongPasswordAndStrictBodyAreRefused) {
  json::object wrong{{"username", "provider"}, {"password", "not the password at all"}};
  ExpectError(Call(verb::post, "/api/v1/authenticatedSession", nullptr, json::serialize(wrong)),
              401, "INVALID_CREDENTIALS");
  json::object unknown{{"username", "nobody-here"}, {"password", kPassword}};
  ExpectError(Call(verb::post, "/api/v1/authenticatedSession", nullptr, json::serialize(unknown)),
              401, "INVALID_CREDENTIALS");
  ExpectError(Call(verb::post, "/api/v1/authenticatedSession", nullptr,
                   R"({"username":"provider","password":"x","extra":1})"),
              400, "UNKNOWN_FIELD");
  ExpectError(Call(verb::post, "/api/v1/authenticatedSession", nullptr, R"({"username":"p"})"), 400,
              "MISSING_FIELD");
}

TEST_F(SessionRoutesTest, ReadingTheSessionAnswersTheSameCsrfToken) {
  Session s = Provider();
  Answer a = Call(verb::get, "/api/v1/authenticatedSession", &s);
  ASSERT_EQ(a.status, 200) << a.res.body();
  EXPECT_EQ(a.obj().at("csrfToken"), json::value(s.csrf));
  EXPECT_EQ(a.obj().at("user").at("username"), "provider");
}

TEST_F(SessionRoutesTest, NoCookieIs401AndTwoCookiesAre400WithOursCleared) {
  ExpectError(Call(verb::get, "/api/v1/authenticatedSession", nullptr), 401, "UNAUTHENTICATED");
  Session bogus{"not-a-session", ""};
  ExpectError(Call(verb::get, "/api/v1/authenticatedSession", &bogus), 401, "UNAUTHENTICATED");

  Session s = Provider();
  CallOptions two;
  two.headers["Cookie"] = "sg_session=" + s.sid + "; sg_session=" + s.sid;
  Answer a = Call(verb::get, "/api/v1/authenticatedSession", nullptr, "", two);
  ExpectError(a, 400, "AMBIGUOUS_SESSION");
  std::string cleared(a.res[http::bhttp::field::set_cookie]);
  EXPECT_TRUE(cleared.starts_with("sg_session=;")) << cleared;
  EXPECT_NE(cleared.find("Max-Age=0"), std::string::npos) << cleared;
}

TEST_F(SessionRoutesTest, SignOutNeedsTheCsrfTokenThenEndsTheSession) {
  Session s = Provider();
  CallOptions no_csrf;
  no_csrf.csrf = false;
  const int refused_before = Audited("CSRF_CHECK", "CSRF_INVALID");
  ExpectError(Call(verb::delete_, "/api/v1/authenticatedSession", &s, "", no_csrf), 403,
              "CSRF_INVALID");
  EXPECT_EQ(Audited("CSRF_CHECK", "CSRF_INVALID"), refused_before + 1);
  Session wrong = s;
  wrong.csrf = "a-wrong-csrf-token";
  ExpectError(Call(verb::delete_, "/api/v1/authenticatedSession", &wrong), 403, "CSRF_INVALID");

  Answer out = Call(verb::delete_, "/api/v1/authenticatedSession", &s);
  EXPECT_EQ(out.status, 204) << out.res.body();
  EXPECT_NE(std::string(out.res[http::bhttp::field::set_cookie]).find("Max-Age=0"),
            std::string::npos);
  EXPECT_EQ(Audited("LOGOUT", "ALLOWED"), 1);
  ExpectError(Call(verb::get, "/api/v1/authenticatedSession", &s), 401, "UNAUTHENTICATED");
}

TEST_F(SessionRoutesTest, BeforeContinueRefusesWithoutASessionButNotTheSignInOrTheScanner) {
  const auto& hook = router_.before_continue();
  ASSERT_TRUE(hook);
  auto ask = [&](verb v, const std::string& path, const std::string& cookie) {
    http::RequestHeader h;
    h.method(v);
    h.target(path);
    if (!cookie.empty()) h.set(http::bhttp::field::cookie, cookie);
    http::RequestContext ctx;
    ctx.path = path;
    ctx.client_addr = "192.0.2.7";
    return hook(h, ctx);
  };
  auto refused = ask(verb::post, "/api/v1/sandbox/token", "");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_int(), 401);
  EXPECT_FALSE(ask(verb::post, "/api/v1/authenticatedSession", "").has_value());
  EXPECT_FALSE(ask(verb::post, "/api/v1/secret-scanning/github", "").has_value());
  EXPECT_FALSE(ask(verb::post, "/zscsb/submit", "").has_value());
  Session s = Provider();
  EXPECT_FALSE(ask(verb::post, "/api/v1/provider/orgs", "sg_session=" + s.sid).has_value());
  auto two = ask(verb::post, "/api/v1/provider/orgs", "sg_session=a; sg_session=b");
  ASSERT_TRUE(two.has_value());
  EXPECT_EQ(two->result_int(), 400);
}

TEST_F(SessionRoutesTest, UnknownMethodOnAKnownPathIsTheRouters405) {
  EXPECT_EQ(Call(verb::put, "/api/v1/authenticatedSession", nullptr).status, 405);
  EXPECT_EQ(Call(verb::get, "/api/v1/no-such-thing", nullptr).status, 404);
}

}  // namespace
}  // namespace sandgate::api::testing
