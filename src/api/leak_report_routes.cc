// Leaked-token reports (issue 20): POST /api/v1/secret-scanning/github, GitHub's secret scanning
// partner endpoint (no session, no CSRF token: the scanner signs the body), and POST
// /api/v1/provider/leak-reports, a provider administrator's report of one token (provider only).
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "api/json_body.h"
#include "api/responses.h"
#include "api/routes.h"
#include "api/views.h"
#include "common/secret.h"

namespace sandgate::api {

namespace json = boost::json;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

constexpr size_t kMaxLeakBatch = 1000;  // tokens in one report
constexpr size_t kMaxTokenText = 1024;  // a reported "token" (ours are 53 characters)

struct ReportedToken {
  std::string token, type;
  service::LeakReport where;
};

// Verify, parse every entry, then act on each; answer in GitHub's feedback shape. Nothing changes
// unless the whole body verified and parsed.
Response GithubLeakReport(const Routes& api, const Request& req, RequestContext& ctx) {
  auth::ScannerKeys* keys = api.options.scanner_keys;
  if (!keys || !keys->configured())
    return Error(Status::NotFound(
        "NOT_CONFIGURED",
        "Secret scanning reports are not configured on this server (secret_scanning_keys_file "
        "or secret_scanning_keys_url)."));
  if (Status st = keys->Verify(req["Github-Public-Key-Identifier"],
                               req["Github-Public-Key-Signature"], req.body());
      !st.ok()) {
    spdlog::warn("secret scanning report refused from {}: {}", ctx.client_addr, st.message());
    return Error(st);
  }
  auto bad = [](const std::string& why) {
    return Error(Status::Invalid("INVALID_BODY", "The report " + why + "."));
  };
  boost::system::error_code ec;
  json::value doc = json::parse(req.body(), ec);
  if (ec || !doc.is_array()) return bad("is not a JSON array");
  if (doc.as_array().size() > kMaxLeakBatch) return bad("has more than 1000 entries");
  std::vector<ReportedToken> items;
  struct WipeAll {
    std::vector<ReportedToken>& v;
    ~WipeAll() {
      for (auto& t : v) Wipe(t.token);
    }
  } wipe_items{items};
  for (json::value& e : doc.as_array()) {
    json::object* o = e.if_object();
    if (!o) return bad("has an entry that is not an object");
    ReportedToken t;
    auto text = [&](const char* k, std::string* out, bool required) {
      json::value* v = o->if_contains(k);
      if (!v) return !required;
      if (!v->is_string()) return false;
      *out = std::string(v->as_string());
      return true;
    };
    const bool ok = text("token", &t.token, true) && text("type", &t.type, false) &&
                    text("url", &t.where.url, false) && text("source", &t.where.source, false);
    if (auto* v = o->if_contains("token"); v && v->is_string()) Wipe(v->as_string());
    if (!ok) return bad("has an entry without a \"token\" string, or a non-string field");
    if (t.token.size() > kMaxTokenText) return bad("has a token longer than 1024 characters");
    if (t.type.size() > 200) return bad("has a type longer than 200 characters");
    if (Status st = service::Services::CheckLeakReport(t.where); !st.ok()) return Error(st);
    items.push_back(std::move(t));
  }
  const service::Actor actor = service::Services::SecretScanning(ctx.client_addr, ctx.request_id);
  json::array out;
  int live = 0;
  for (const ReportedToken& t : items) {
    auto r = api.services.ReportLeak(actor, t.token, t.where);
    if (!r.ok()) return Error(r.status());  // the scanner retries; a replay is harmless
    live += r->live ? 1 : 0;
    out.push_back(json::object{{"token_raw", t.token},
                               {"token_type", t.type},
                               {"label", r->live ? "true_positive" : "false_positive"}});
  }
  spdlog::info("secret scanning report: {} token(s), {} live", items.size(), live);
  Response res = JsonResponse(200, out);
  for (auto& v : out) Wipe(v.as_object()["token_raw"].as_string());
  return res;
}

Response ProviderLeakReport(const Routes& api, const Request& req, const service::Actor& a) {
  auto body = ParseBody(req, {{"token", Field::Kind::kString, true},
                              {"url", Field::Kind::kString, true},
                              {"source", Field::Kind::kString, false}});
  if (!body.ok()) return Error(body.status());
  ReportedToken t;
  t.token = std::string(body->at("token").as_string());
  Wipe(body->at("token").as_string());
  WipeOnExit wipe_token(t.token);
  t.where.url = std::string(body->at("url").as_string());
  if (auto* v = body->if_contains("source")) t.where.source = v->as_string();
  if (t.where.url.empty())
    return Error(Status::Invalid("INVALID_FIELD", "Field 'url' must not be empty."));
  if (t.token.size() > kMaxTokenText)
    return Error(Status::Invalid("INVALID_FIELD", "Field 'token' is at most 1024 characters."));
  auto out = api.services.ReportLeak(a, t.token, t.where);
  if (!out.ok()) return Error(out.status());
  return JsonResponse(200, LeakOutcomeJson(*out));
}

}  // namespace

void RegisterLeakReportRoutes(http::Router& r, const Routes& api) {
  // Exempt from the before-continue session check (SessionGuard::InstallBeforeContinue); blocking
  // because the signature check may fetch the scanner's keys.
  r.Add(
      verb::post, "/api/v1/secret-scanning/github",  // kSecretScanningPath
      [api](const Request& req, RequestContext& ctx) { return GithubLeakReport(api, req, ctx); },
      http::RouteOptions{1024 * 1024, true});
  api.guard.Provider(r).Add(verb::post, "/api/v1/provider/leak-reports",
                            [api](const Request& req, RequestContext&, auto&, auto& a) {
                              return ProviderLeakReport(api, req, a);
                            });
}

}  // namespace sandgate::api
