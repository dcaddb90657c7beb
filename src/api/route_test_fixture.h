// For the route groups' unit tests (src/api/*_routes_test.cc): the real Services over a real
// SQLite store in a temporary directory, the real SessionManager and the real router with every
// API route (RegisterApi), and requests handed to the matched route's handler in-process (no
// socket, no server: the server's own headers and request ids are not added).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "api/api.h"
#include "auth/sessions.h"
#include "http/router.h"
#include "service/services.h"
#include "store/store.h"
#include "token/keyring.h"

namespace sandgate::api::testing {

namespace fs = std::filesystem;
namespace json = boost::json;
using http::bhttp::verb;

inline constexpr TimeMs kNow = 1800000000000;  // 2027-01-15T08:00:00Z
inline constexpr const char* kPassword = "a long enough password 1";

// A signed-in browser: the session cookie's value and the CSRF token the sign-in answered.
struct Session {
  std::string sid;
  std::string csrf;
};

// What a route answered (or the router: 404/405 without a route).
struct Answer {
  int status = 0;
  http::Response res;
  json::value body;  // the parsed JSON body; null when there is none
  std::string code() const {
    const auto* o = body.if_object();
    const auto* c = o ? o->if_contains("code") : nullptr;
    return c && c->is_string() ? std::string(c->as_string()) : std::string();
  }
  const json::object& obj() const { return body.as_object(); }
};

struct CallOptions {
  bool csrf = true;  // send the session's X-CSRF-Token header
  std::map<std::string, std::string> headers;
};

class RouteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sandgate-routes-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto keys = token::Keyring::LoadOrCreate((dir_ / "sandgate.key").string());
    ASSERT_TRUE(keys.ok());
    auto st = store::OpenSqliteStore((dir_ / "sandgate.db").string());
    ASSERT_TRUE(st.ok());
    clock_ = std::make_shared<ManualClock>(kNow);
    services_ = std::make_unique<service::Services>(
        std::shared_ptr<store::Store>(std::move(st.value())), *keys, clock_, service::Settings{});
    ASSERT_TRUE(services_->LoadIndex().ok());
    sessions_ = std::make_unique<auth::SessionManager>(*services_);
    ApiOptions options;
    Configure(options);
    handle_ = RegisterApi(router_, *services_, *sessions_, options);
    ASSERT_TRUE(CreateUser("provider", domain::Role::kProviderAdmin, std::nullopt));
  }
  void TearDown() override {
    router_ = http::Router{};
    handle_.reset();
    BeforeServicesGo();
    sessions_.reset();
    services_.reset();
    fs::remove_all(dir_);
  }
  // Adds to the API's options before the routes are registered (the Submission API, ...).
  virtual void Configure(ApiOptions&) {}
  // Runs after the routes are gone, before the services go (to destroy what uses them).
  virtual void BeforeServicesGo() {}

  // An organization with an active subscription, and so a token.
  domain::OrgId ActiveOrg(const std::string& name) {
    auto org = services_->CreateOrg(service::Actor::Cli(), name);
    EXPECT_TRUE(org.ok());
    if (!org.ok()) return 0;
    EXPECT_TRUE(services_
                    ->ChangeSubscription(service::Actor::Cli(), org->org.id,
                                         domain::Action::kActivate, std::nullopt)
                    .ok());
    return org->org.id;
  }
  bool CreateUser(const std::string& name, domain::Role role, std::optional<domain::OrgId> org) {
    service::NewUser nu;
    nu.username = name;
    nu.role = role;
    nu.org = org;
    nu.password = kPassword;
    auto r = services_->CreateUser(service::Actor::Cli(), nu);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok();
  }
  // Signs in through POST /api/v1/authenticatedSession.
  Session SignIn(const std::string& name) {
    json::object body{{"username", name}, {"password", kPassword}};
    Answer a = Call(verb::post, "/api/v1/authenticatedSession", nullptr, json::serialize(body));
    EXPECT_EQ(a.status, 200) << a.res.body();
    Session s;
    std::string cookie(a.res[http::bhttp::field::set_cookie]);
    const std::string prefix = "sg_session=";
    if (cookie.starts_with(prefix))
      s.sid = cookie.substr(prefix.size(), cookie.find(';') - prefix.size());
    if (a.status == 200) s.csrf = std::string(a.obj().at("csrfToken").as_string());
    return s;
  }
  // A provider administrator's session.
  Session Provider() { return SignIn("provider"); }
  // A new organization (active) and a session of one of its users with `role`.
  Session OrgUser(const std::string& name, domain::Role role = domain::Role::kOrgAdmin,
                  domain::OrgId* org_out = nullptr) {
    domain::OrgId org = ActiveOrg(name + " Corp");
    if (org_out) *org_out = org;
    EXPECT_TRUE(CreateUser(name, role, org));
    return SignIn(name);
  }

  // Hands the request to the route the router matches, as the server would after reading it.
  Answer Call(verb method, const std::string& target, const Session* s,
              const std::string& body = "", const CallOptions& o = {}) {
    Answer out;
    std::string path, query;
    EXPECT_TRUE(http::SplitTarget(target, &path, &query)) << target;
    http::Router::Match m = router_.Find(method, path);
    if (!m.route) {
      out.status = m.status;
      return out;
    }
    http::Request req{method, target, 11};
    if (s) req.set(http::bhttp::field::cookie, "sg_session=" + s->sid);
    if (s && o.csrf) req.set("X-CSRF-Token", s->csrf);
    if (!body.empty()) req.set(http::bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : o.headers) req.set(k, v);
    req.body() = body;
    req.prepare_payload();
    http::RequestContext ctx;
    ctx.client_addr = "192.0.2.7";
    ctx.client_key = "192.0.2.7";
    ctx.path = path;
    ctx.query = query;
    ctx.params = m.params;
    ctx.request_id = "route-test";
    out.res = m.route->handler(req, ctx);
    out.status = out.res.result_int();
    if (!out.res.body().empty()) {
      boost::system::error_code ec;
      out.body = json::parse(out.res.body(), ec);
      EXPECT_FALSE(ec) << out.res.body();
    }
    return out;
  }

  // How many audit records of `action` with `outcome` there are.
  int Audited(const std::string& action, const std::string& outcome) {
    store::AuditFilter f;
    f.action = action;
    f.limit = 1000;
    auto r = services_->ListAudit(service::Actor::Cli(), f);
    EXPECT_TRUE(r.ok());
    int n = 0;
    if (r.ok())
      for (const auto& rec : r.value()) n += rec.outcome == outcome ? 1 : 0;
    return n;
  }

  // An error answer: the status, and the body's "code" and a non-empty "message".
  static void ExpectError(const Answer& a, int status, const std::string& code) {
    EXPECT_EQ(a.status, status) << a.res.body();
    EXPECT_EQ(a.code(), code) << a.res.body();
    ASSERT_TRUE(a.body.is_object()) << a.res.body();
    const auto* msg = a.obj().if_contains("message");
    ASSERT_TRUE(msg && msg->is_string()) << a.res.body();
    EXPECT_FALSE(msg->as_string().empty());
    EXPECT_EQ(a.res[http::bhttp::field::content_type], "application/json");
  }

  fs::path dir_;
  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<service::Services> services_;
  std::unique_ptr<auth::SessionManager> sessions_;
  http::Router router_;
  std::shared_ptr<void> handle_;
};

}  // namespace sandgate::api::testing
