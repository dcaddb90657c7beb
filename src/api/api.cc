#include "api/api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>

#include "api/audit_actions_api.h"
#include "api/json_body.h"
#include "api/webhooks_api.h"
#include "common/secret.h"
#include "http/server.h"
#include "metrics/sandgate_metrics.h"
#include "quota/quota.h"
#include "token/token_format.h"

namespace sandgate::api {

namespace json = boost::json;
using domain::Action;
using domain::Role;
using http::Request;
using http::RequestContext;
using http::Response;
using http::bhttp::verb;

namespace {

constexpr const char* kCookie = "sg_session";
constexpr const char* kSecretScanningPath = "/api/v1/secret-scanning/github";

Response JsonResponse(int status, const json::value& v) {
  Response res{static_cast<http::bhttp::status>(status), 11};
  res.set(http::bhttp::field::content_type, "application/json");
  res.body() = json::serialize(v);
  return res;
}

// A JSON response from `v`, then wipes the secret string fields `secret_keys` of the object `v`
// (the serialized copy lives in the response body, which the server wipes after sending it).
Response JsonResponseWiping(int status, json::object& v,
                            std::initializer_list<const char*> secret_keys) {
  Response res = JsonResponse(status, v);
  for (const char* k : secret_keys)
    if (auto* f = v.if_contains(k); f && f->is_string()) Wipe(f->as_string());
  return res;
}

Response Error(const Status& s) {
  return http::JsonError(11, s.http_status(), s.code(), s.message());
}

json::value OptTime(const std::optional<TimeMs>& t) {
  if (!t) return nullptr;
  return json::value(FormatIso8601(*t));
}

json::array ActionNames(const std::vector<Action>& actions) {
  json::array a;
  for (Action x : actions) a.emplace_back(std::string(domain::ToString(x)));
  return a;
}

// The token page's read model.
json::object TokenViewJson(const service::TokenView& v, const std::string& base_url,
                           bool provider) {
  json::object o;
  o["orgId"] = v.org.id;
  o["orgName"] = v.org.name;
  o["baseUrl"] = base_url;
  if (v.token) {
    json::object t;
    t["masked"] = token::Mask(v.token->last4);
    t["last4"] = v.token->last4;
    t["createdOn"] = FormatIso8601(v.token->created_at);
    o["token"] = std::move(t);
    o["lastModifiedBy"] = v.token->last_modified_by;
    o["lastModifiedOn"] = FormatIso8601(v.token->last_modified_on);
  } else {
    o["token"] = nullptr;
    o["lastModifiedBy"] = nullptr;
    o["lastModifiedOn"] = nullptr;
  }
  o["status"] = std::string(domain::ToString(v.status.status));
  o["statusReason"] = v.status.reason == domain::StatusReason::kNone
                          ? json::value(nullptr)
                          : json::value(std::string(domain::ToString(v.status.reason)));
  o["disabledByProvider"] = v.org.provider_disabled;
  if (v.org.provider_disabled) {
    o["disableReason"] = std::string(domain::ToString(v.org.disable_reason));
    o["disabledOn"] = OptTime(v.org.disabled_at);
    // By the over-quota threshold (the "system" actor, submission/submission.cc), not a person.
    o["disabledAutomatically"] = v.org.disabled_by == "system";
    if (provider) {
      o["disableNote"] = v.org.disable_note;
      o["disabledBy"] = v.org.disabled_by;
    }
  } else {
    o["disableReason"] = nullptr;
  }
  json::object sub;
  sub["state"] = std::string(domain::ToString(v.subscription));
  sub["endsAt"] = OptTime(v.org.ends_at);
  o["subscription"] = std::move(sub);
  o["allowedActions"] = ActionNames(v.allowed);
  // Issue 20: the organization's leak policy, and the last report of its token found in public
  // (cleared when a new token is added). The URL is the scanner's text: clients show it as text.
  o["leakPolicy"] = std::string(domain::ToString(v.leak.policy));
  if (v.leak.reported_at) {
    o["leakReport"] = json::object{{"foundAt", FormatIso8601(*v.leak.reported_at)},
                                   {"url", v.leak.url},
                                   {"source", v.leak.source},
                                   {"action", v.leak.action},
                                   {"tokenLast4", v.leak.token_last4}};
  } else {
    o["leakReport"] = nullptr;
  }
  return o;
}

json::object OrgJson(const service::TokenView& v, const std::string& base_url) {
  json::object o = TokenViewJson(v, base_url, true);
  o["id"] = v.org.id;
  o["name"] = v.org.name;
  o["createdAt"] = FormatIso8601(v.org.created_at);
  json::object settings;
  settings["dailyAllowance"] = v.org.daily_allowance;
  settings["ratePerSecond"] = v.org.rate_per_second;
  settings["ratePerHour"] = v.org.rate_per_hour;
  settings["disableThreshold"] = v.org.disable_threshold;
  o["settings"] = std::move(settings);
  return o;
}

json::object UserJson(const store::UserRecord& u) {
  json::object o;
  o["id"] = u.id;
  o["username"] = u.username;
  o["role"] = std::string(domain::ToString(u.role));
  o["orgId"] = u.org_id ? json::value(*u.org_id) : json::value(nullptr);
  o["createdAt"] = FormatIso8601(u.created_at);
  return o;
}

json::object AuditJson(const store::AuditRecord& r) {
  json::object o;
  o["id"] = r.id;
  o["time"] = FormatIso8601(r.ts);
  o["actor"] = r.actor;
  o["actorRole"] = r.actor_role;
  o["orgId"] = r.org_id ? json::value(*r.org_id) : json::value(nullptr);
  o["action"] = r.action;
  o["outcome"] = r.outcome;
  o["clientAddress"] = r.client_addr;
  o["tokenFingerprint"] = r.token_fp;
  o["detail"] = r.detail;
  o["requestId"] = r.request_id;
  return o;
}

// How many cookies named `name` the request carries (every Cookie header).
size_t CookieCount(const http::RequestHeader& req, std::string_view name) {
  size_t n = 0;
  for (auto it = req.find(http::bhttp::field::cookie);
       it != req.end() && it->name() == http::bhttp::field::cookie; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      size_t semi = v.find(';');
      std::string_view part = v.substr(0, semi);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      size_t eq = part.find('=');
      if (eq != std::string_view::npos && part.substr(0, eq) == name) n++;
      if (semi == std::string_view::npos) break;
      v.remove_prefix(semi + 1);
    }
  }
  return n;
}

std::string CookieValue(const http::RequestHeader& req, std::string_view name) {
  for (auto it = req.find(http::bhttp::field::cookie);
       it != req.end() && it->name() == http::bhttp::field::cookie; ++it) {
    std::string_view v = it->value();
    while (!v.empty()) {
      size_t semi = v.find(';');
      std::string_view part = v.substr(0, semi);
      while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
      size_t eq = part.find('=');
      if (eq != std::string_view::npos && part.substr(0, eq) == name)
        return std::string(part.substr(eq + 1));
      if (semi == std::string_view::npos) break;
      v.remove_prefix(semi + 1);
    }
  }
  return "";
}

bool ParseId(const std::string* s, int64_t* out) {
  if (!s || s->empty() || s->size() > 18) return false;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), *out);
  return ec == std::errc() && p == s->data() + s->size() && *out > 0;
}

// The {id} and {uid} captures of a user route.
bool ParseOrgAndUser(const RequestContext& ctx, int64_t* org, int64_t* uid) {
  return ParseId(ctx.param("id"), org) && ParseId(ctx.param("uid"), uid);
}

// Reads an optional integer query parameter within [lo, hi].
Status IntParam(const RequestContext& ctx, const char* name, int64_t lo, int64_t hi, int64_t* out) {
  auto v = http::QueryParam(ctx.query, name);
  if (!v) return Status::Ok();
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || p != v->data() + v->size() || v->empty() || x < lo || x > hi)
    return Status::Invalid("INVALID_PARAMETER", std::string("Query parameter '") + name +
                                                    "' must be a whole number from " +
                                                    std::to_string(lo) + " to " +
                                                    std::to_string(hi) + ".");
  *out = x;
  return Status::Ok();
}

Status TimeParam(const RequestContext& ctx, const char* name, std::optional<TimeMs>* out) {
  auto v = http::QueryParam(ctx.query, name);
  if (!v) return Status::Ok();
  TimeMs t;
  if (!ParseIso8601(*v, &t))
    return Status::Invalid("INVALID_PARAMETER", std::string("Query parameter '") + name +
                                                    "' must be a time like 2026-01-31T12:00:00Z.");
  *out = t;
  return Status::Ok();
}

class Api {
 public:
  Api(service::Services& s, auth::SessionManager& sessions, ApiOptions o)
      : s_(s), sessions_(sessions), opt_(o) {}

  using Authed = std::function<Response(const Request&, RequestContext&, const auth::Authenticated&,
                                        const service::Actor&)>;

  // Reads the request's one sg_session cookie into *sid, or returns the refusal. Two session
  // cookies (one planted by a sibling subdomain or a path-scoped cookie, "cookie tossing") are
  // ambiguous: which one a server or a proxy honours would decide who acts. They are refused
  // whatever their order or validity (400, ours cleared so the browser can recover); none is 401.
  std::optional<Response> ReadSessionCookie(const http::RequestHeader& h, std::string* sid) const {
    if (CookieCount(h, kCookie) > 1) {
      Response res = Error(
          Status::Invalid("AMBIGUOUS_SESSION",
                          "The request carries more than one sg_session cookie; sign in again."));
      res.set(http::bhttp::field::set_cookie, ClearCookie());
      return res;
    }
    *sid = CookieValue(h, kCookie);
    if (sid->empty()) return Error(Status(401, "UNAUTHENTICATED", "Sign in first."));
    return std::nullopt;
  }

  // Wraps a handler with session authentication and, for state-changing methods, the CSRF check.
  // provider_only: organization users get 404 (the provider API does not exist for them), audited.
  http::Handler WithSession(Authed h, bool provider_only = false) {
    return [this, h = std::move(h), provider_only](const Request& req, RequestContext& ctx) {
      std::string sid;
      WipeOnExit wipe_sid(sid);
      if (auto refused = ReadSessionCookie(req, &sid)) return std::move(*refused);
      // A page's background refresh (X-Sandgate-Background: 1 on a GET) is not user activity: it
      // must not keep an unattended session alive past its idle timeout.
      const bool background = req.method() == verb::get && req["X-Sandgate-Background"] == "1";
      auto who = sessions_.Authenticate(sid, !background);
      if (!who.ok()) return Error(who.status());
      service::Actor actor = who->actor(ctx.client_addr);
      ctx.org_id = actor.caller.org_id.value_or(0);
      actor.request_id = ctx.request_id;
      const bool changes = req.method() != verb::get && req.method() != verb::head;
      std::string presented;
      if (changes) presented = std::string(req["X-CSRF-Token"]);
      WipeOnExit wipe_presented(presented);
      if (changes && !sessions_.CsrfValid(sid, presented)) {
        s_.Audit(actor, actor.caller.org_id, "CSRF_CHECK", "CSRF_INVALID",
                 token::RedactTokens(ctx.path));
        return Error(Status::Forbidden("CSRF_INVALID",
                                       "The request lacks a valid X-CSRF-Token header; reload the "
                                       "page and try again."));
      }
      if (provider_only && actor.caller.role != Role::kProviderAdmin) {
        s_.Audit(actor, actor.caller.org_id, "PROVIDER_API", "NOT_FOUND",
                 token::RedactTokens(ctx.path));
        return Error(Status::NotFound("NOT_FOUND", "No such organization or resource."));
      }
      return h(req, ctx, who.value(), actor);
    };
  }

  // Organization endpoints act on the caller's own organization.
  static Status OwnOrg(const service::Actor& a, domain::OrgId* org) {
    if (!a.caller.org_id)
      return Status::Forbidden(
          "FORBIDDEN", "Provider administrators manage tokens through /api/v1/provider/orgs.");
    *org = *a.caller.org_id;
    return Status::Ok();
  }

  // Today's usage and the last use, once the Submission API is served.
  void AddUsage(json::object& o, const service::TokenView& view) {
    if (!opt_.submissions) return;
    auto used = opt_.submissions->quota().UsedToday(view.org.id, s_.clock().now());
    o["usage"] =
        json::object{{"used", used.ok() ? used.value() : 0}, {"allowed", view.org.daily_allowance}};
    o["lastUsedOn"] = OptTime(view.last_used);
  }

  // A support contact's parts that are set.
  static json::object ContactPartsJson(const store::SupportContactRecord& c) {
    json::object o;
    if (!c.name.empty()) o["name"] = c.name;
    if (!c.email.empty()) o["email"] = c.email;
    if (!c.url.empty()) o["url"] = c.url;
    if (!c.phone.empty()) o["phone"] = c.phone;
    return o;
  }
  // The provider's view of the support contact: the one in effect, where it comes from, and the
  // config file's (GET|PUT|DELETE /api/v1/provider/supportContact).
  static json::object SupportSettingJson(const service::SupportContactView& v) {
    json::object o;
    o["contact"] = ContactPartsJson(v.contact);
    o["source"] = v.from_console ? "console" : "configFile";
    o["updatedAt"] = v.from_console ? OptTime(v.contact.updated_at) : json::value(nullptr);
    o["updatedBy"] = v.from_console ? json::value(v.contact.updated_by) : json::value(nullptr);
    o["configFile"] = ContactPartsJson(v.config);
    return o;
  }
  // On the organization's token page, when any part of the contact in effect is set.
  Status AddSupportContact(json::object& o) {
    auto v = s_.SupportContact();
    if (!v.ok()) return v.status();
    json::object c = ContactPartsJson(v->contact);
    if (!c.empty()) o["supportContact"] = std::move(c);
    return Status::Ok();
  }
  // 400 INVALID_SUPPORT_CONTACT names each refused field beside the message.
  Response SupportSettingResult(const Result<service::SupportContactView>& r,
                                const std::vector<domain::FieldError>& refused = {}) {
    if (!r.ok()) {
      if (refused.empty()) return Error(r.status());
      json::array fields;
      for (const auto& f : refused)
        fields.push_back(json::object{{"field", f.field}, {"message", f.message}});
      json::object e{{"code", r.status().code()},
                     {"message", r.status().message()},
                     {"fields", std::move(fields)}};
      return JsonResponse(r.status().http_status(), e);
    }
    return JsonResponse(200, SupportSettingJson(r.value()));
  }

  // GET /api/v1/sandbox/usage: the last 30 UTC days (oldest first, today last), today's refusals
  // by kind, when the quota resets and how many more over-quota calls disable the token.
  Response Usage(const service::Actor& a) {
    domain::OrgId org;
    if (Status st = OwnOrg(a, &org); !st.ok()) return Error(st);
    auto view = s_.ReadToken(a, org);
    if (!view.ok()) return Error(view.status());
    const TimeMs now = s_.clock().now();
    const int64_t today = quota::UtcDay(now);
    constexpr int64_t kDays = 30;
    std::vector<store::UsageRecord> rows(kDays);
    Status st = s_.store().Read([&](store::Tx& tx) -> Status {
      for (int64_t i = 0; i < kDays; i++) {
        auto u = tx.GetUsage(org, today - (kDays - 1) + i);
        if (!u.ok()) return u.status();
        rows[i] = std::move(u).value();
      }
      return Status::Ok();
    });
    if (!st.ok()) return Error(st);
    auto used = opt_.submissions->quota().UsedToday(org, now);
    if (!used.ok()) return Error(used.status());
    const int64_t rate_limited = opt_.submissions->quota().RateLimitedToday(org, now);
    json::array days;
    for (int64_t i = 0; i < kDays; i++) {
      const int64_t day = today - (kDays - 1) + i;
      const bool is_today = i == kDays - 1;
      const int64_t accepted = is_today ? std::max(used.value(), rows[i].used) : rows[i].used;
      days.push_back(json::object{{"date", FormatIso8601(day * 86'400'000).substr(0, 10)},
                                  {"accepted", accepted},
                                  {"refused", rows[i].over_quota + (is_today ? rate_limited : 0)}});
    }
    const store::OrgRecord& o = view->org;
    const int64_t over_quota = rows[kDays - 1].over_quota;
    json::object out{
        {"days", std::move(days)},
        {"allowed", o.daily_allowance},
        {"usedToday", std::max(used.value(), rows[kDays - 1].used)},
        {"refusedToday", json::object{{"quota", over_quota}, {"rate", rate_limited}}},
        {"disableThreshold", o.disable_threshold},
        // The token is disabled by the over-quota call that makes the day's count exceed the
        // threshold (quota/quota.cc).
        {"overQuotaCallsBeforeDisable", std::max<int64_t>(0, o.disable_threshold + 1 - over_quota)},
        {"resetsAt", FormatIso8601((today + 1) * 86'400'000)},
        {"resetsInSeconds", ((today + 1) * 86'400'000 - now + 999) / 1000}};
    return JsonResponse(200, out);
  }

  Response TokenResult(const Result<service::TokenView>& r, int ok_status,
                       const service::Actor& a) {
    if (!r.ok()) return Error(r.status());
    json::object o =
        TokenViewJson(r.value(), s_.settings().base_url, a.caller.role == Role::kProviderAdmin);
    AddUsage(o, r.value());
    if (Status st = AddSupportContact(o); !st.ok()) return Error(st);
    return JsonResponse(ok_status, o);
  }

  Response OrgResult(const Result<service::TokenView>& r, int ok_status) {
    if (!r.ok()) return Error(r.status());
    json::object o = OrgJson(r.value(), s_.settings().base_url);
    AddUsage(o, r.value());
    // The provider sees rate-limit refusals (bursts) apart from the daily quota and its threshold.
    if (opt_.submissions)
      o["rateLimitedToday"] =
          opt_.submissions->quota().RateLimitedToday(r.value().org.id, s_.clock().now());
    return JsonResponse(ok_status, o);
  }

  void RegisterReports(http::Router& r) {
    if (!opt_.submissions) return;
    r.Add(verb::get, "/api/v1/sandbox/usage",
          WithSession([this](auto&, auto&, auto&, auto& a) { return Usage(a); }));
    r.Add(verb::get, "/api/v1/sandbox/report/quota",
          WithSession([this](auto&, auto&, auto&, auto& a) {
            domain::OrgId org;
            if (Status st = OwnOrg(a, &org); !st.ok()) return Error(st);
            auto view = s_.ReadToken(a, org);
            if (!view.ok()) return Error(view.status());
            const TimeMs now = s_.clock().now();
            auto used = opt_.submissions->quota().UsedToday(org, now);
            if (!used.ok()) return Error(used.status());
            int64_t allowed = view->org.daily_allowance;
            json::array out{json::object{{"startTime", quota::UtcDay(now) * 86400},
                                         {"used", used.value()},
                                         {"allowed", allowed},
                                         {"scale", "DAYS"},
                                         {"unused", std::max<int64_t>(0, allowed - used.value())}}};
            return JsonResponse(200, out);
          }));
    r.Add(verb::get, "/api/v1/sandbox/report/{md5}",
          WithSession([this](auto&, RequestContext& ctx, auto&, auto& a) {
            domain::OrgId org;
            if (Status st = OwnOrg(a, &org); !st.ok()) return Error(st);
            const std::string& md5 = *ctx.param("md5");
            bool hex = md5.size() == 32 && std::all_of(md5.begin(), md5.end(), [](char c) {
                         return std::isxdigit(static_cast<unsigned char>(c));
                       });
            if (!hex)
              return Error(Status::Invalid("INVALID_MD5", "The MD5 is 32 hexadecimal characters."));
            std::string details = http::QueryParam(ctx.query, "details").value_or("summary");
            if (details != "summary" && details != "full")
              return Error(Status::Invalid("INVALID_PARAMETER",
                                           "Query parameter 'details' is summary or full."));
            auto rep = opt_.submissions->Report(org, md5);
            if (!rep.ok()) return Error(rep.status());
            if (!rep->has_value())
              return JsonResponse(
                  200, json::parse(R"({"Summary":{"Summary":{"Status":"CONTENT_NOTFOUND",)"
                                   R"("Message":"Content lookup failed."}}})"));
            return JsonResponse(200, RenderReport(**rep, details == "full"));
          }));
  }

  static json::value RenderReport(const store::ReportRecord& rec, bool full) {
    json::object d = json::parse(rec.report_json).as_object();
    json::object& verdict = d["verdict"].as_object();
    json::object summary{{"Status", rec.status},
                         {"Category", d["category"]},
                         {"FileType", d["fileType"]},
                         {"StartTime", d["startTime"]},
                         {"Duration", d["duration"]}};
    json::object classification{{"Type", verdict["type"]},
                                {"Category", verdict["category"]},
                                {"Score", verdict["score"]},
                                {"DetectedMalware", verdict["detectedMalware"]}};
    json::object props{{"FileType", d["fileType"]}, {"FileSize", d["size"]}, {"MD5", d["md5"]},
                       {"SHA1", d["sha1"]},         {"Sha256", d["sha256"]}, {"Issuer", ""},
                       {"DigitalCerificate", ""},   {"SSDeep", d["ssdeep"]}, {"RootCA", ""}};
    json::object body{
        {"Summary", summary}, {"Classification", classification}, {"FileProperties", props}};
    if (!full) return json::object{{"Summary", body}};
    body["Origin"] = json::object{{"Risk", ""}, {"Language", ""}, {"Country", ""}};
    for (const char* section : {"SystemSummary", "Networking", "SecurityBypass", "Stealth",
                                "Persistence", "Spyware", "Exploit"})
      body[section] = json::array{};
    for (auto& f : d["findings"].as_array()) {
      json::object item = f.as_object();
      std::string section(item["section"].as_string());
      item.erase("section");
      if (!body.contains(section)) section = "SystemSummary";
      body[section].as_array().push_back(item);
    }
    return json::object{{"Full Details", body}};
  }

  void Register(http::Router& r) {
    RegisterAuditActionRoutes(r);
    r.Add(verb::get, "/healthz", [](const Request&, RequestContext&) {
      return JsonResponse(200, json::object{{"status", "ok"}});
    });
    // Ready when the store answers reads, this node's token index may be trusted and the
    // analysis engine is loaded. Failing writes are reported ("degraded") but keep the node in:
    // reads go on (ARCHITECTURE.md, "When the disk fails").
    r.Add(verb::get, "/readyz", [this](const Request&, RequestContext&) {
      json::object checks;
      auto check = [&](const char* name, const char* state, const std::string& message) {
        json::object c{{"state", state}};
        if (!message.empty()) c["message"] = message;
        checks[name] = std::move(c);
      };
      const bool reads = s_.store().Ping().ok();
      check("storeReads", reads ? "ok" : "failing", reads ? "" : "The store does not answer.");
      const int writes = metrics::LastStoreWrite();
      check("storeWrites",
            writes > 0    ? "ok"
            : writes == 0 ? "failing"
                          : "unknown",
            writes == 0 ? "The last store write failed; changes answer 503." : "");
      const bool trusted = s_.store().IndexTrusted();
      check("indexTrusted", trusted ? "ok" : "failing",
            trusted ? "" : "This node has not caught up with the cluster's change log.");
      bool ready = reads && trusted;
      if (opt_.submissions) {
        const bool engine = opt_.submissions->engine_loaded();
        check("engineLoaded", engine ? "ok" : "failing",
              engine ? "" : "The analysis engine is not loaded.");
        ready = ready && engine;
      }
      json::object body{{"status", !ready        ? "not_ready"
                                   : writes == 0 ? "degraded"
                                                 : "ready"},
                        {"checks", std::move(checks)}};
      if (!ready) {
        body["code"] = "NOT_READY";
        body["message"] = reads ? (trusted ? "The analysis engine is not loaded."
                                           : "This node has not caught up with the cluster's "
                                             "change log.")
                                : "The store does not answer.";
      }
      if (opt_.analysis_status) body["analysis"] = opt_.analysis_status();
      return JsonResponse(ready ? 200 : 503, body);
    });

    // A request with a body that waits for `100 Continue` learns first whether it may send it:
    // every API route but the sign-in needs a session, so without one it gets its 401 (or the
    // 400 for two session cookies) at once, without 100 and without the body being read.
    r.SetBeforeContinue(
        [this](const http::RequestHeader& h, const RequestContext& ctx) -> std::optional<Response> {
          if (!ctx.path.starts_with("/api/v1/") ||
              (ctx.path == "/api/v1/authenticatedSession" && h.method() == verb::post) ||
              // Signed by the scanner, not a session (issue 20): checked once the body is read.
              (ctx.path == kSecretScanningPath && h.method() == verb::post))
            return std::nullopt;
          std::string sid;
          WipeOnExit wipe_sid(sid);
          if (auto refused = ReadSessionCookie(h, &sid)) return refused;
          // No touch: the route's own WithSession authenticates again once the body is read,
          // and decides there whether the request is user activity (X-Sandgate-Background).
          if (auto who = sessions_.Authenticate(sid, /*touch=*/false); !who.ok())
            return Error(who.status());
          return std::nullopt;
        });

    // --- Sessions.
    r.Add(
        verb::post, "/api/v1/authenticatedSession",
        [this](const Request& req, RequestContext& ctx) { return Login(req, ctx); },
        http::RouteOptions{64 * 1024, true});
    r.Add(verb::get, "/api/v1/authenticatedSession",
          WithSession([this](const Request& req, RequestContext&, const auth::Authenticated& who,
                             const service::Actor&) {
            std::string sid = CookieValue(req, kCookie);
            WipeOnExit wipe_sid(sid);
            json::object o;
            o["user"] = UserJson(who.user);
            o["idleTimeoutSeconds"] = sessions_.policy().idle_timeout / 1000;
            std::string csrf = sessions_.CsrfFor(sid);
            WipeOnExit wipe_csrf(csrf);
            o["csrfToken"] = csrf;
            return JsonResponseWiping(200, o, {"csrfToken"});
          }));
    r.Add(verb::delete_, "/api/v1/authenticatedSession",
          WithSession([this](const Request& req, RequestContext&, const auth::Authenticated&,
                             const service::Actor& a) {
            std::string sid = CookieValue(req, kCookie);
            WipeOnExit wipe_sid(sid);
            Status st = sessions_.Logout(sid);
            if (!st.ok()) return Error(st);
            s_.Audit(a, a.caller.org_id, "LOGOUT", "ALLOWED");
            Response res{http::bhttp::status::no_content, 11};
            res.set(http::bhttp::field::set_cookie, ClearCookie());
            return res;
          }));

    // --- The organization's token.
    r.Add(verb::get, "/api/v1/sandbox/token", WithSession([this](auto&, auto&, auto&, auto& a) {
            domain::OrgId org;
            if (Status st = OwnOrg(a, &org); !st.ok()) return Error(st);
            return TokenResult(s_.ReadToken(a, org), 200, a);
          }));
    r.Add(verb::get, "/api/v1/sandbox/token/reveal",
          WithSession([this](auto&, auto&, auto&, auto& a) {
            domain::OrgId org;
            if (Status st = OwnOrg(a, &org); !st.ok()) return Error(st);
            auto t = s_.RevealToken(a, org);
            if (!t.ok()) return Error(t.status());
            WipeOnExit wipe_token(t.value());
            // Written at its final size (base62: nothing to escape), so no copy is left behind in
            // freed memory; the server wipes the body once it is sent.
            Response res{http::bhttp::status::ok, 11};
            res.set(http::bhttp::field::content_type, "application/json");
            std::string& b = res.body();
            b.reserve(t.value().size() + 13);
            b += "{\"token\":\"";
            b += t.value();
            b += "\"}";
            return res;
          }));
    auto modify = [this](auto op) {
      return WithSession([op](const Request& req, RequestContext&, auto&, auto& a) {
        auto body = ParseBody(req, {});
        if (!body.ok()) return Error(body.status());
        domain::OrgId org;
        if (Status st = OwnOrg(a, &org); !st.ok()) return Error(st);
        return op(a, org);
      });
    };
    r.Add(verb::post, "/api/v1/sandbox/token", modify([this](auto& a, domain::OrgId org) {
            return TokenResult(s_.AddToken(a, org), 201, a);
          }));
    r.Add(verb::put, "/api/v1/sandbox/token", modify([this](auto& a, domain::OrgId org) {
            return TokenResult(s_.RegenerateToken(a, org), 200, a);
          }));
    r.Add(verb::delete_, "/api/v1/sandbox/token", modify([this](auto& a, domain::OrgId org) {
            return TokenResult(s_.DeleteToken(a, org), 200, a);
          }));
    r.Add(verb::get, "/api/v1/auditLog",
          WithSession([this](auto&, RequestContext& ctx, auto&, auto& a) {
            return AuditList(ctx, a, false);
          }));

    // --- Provider.
    r.Add(
        verb::get, "/api/v1/provider/supportContact",
        WithSession([this](auto&, auto&, auto&,
                           auto& a) { return SupportSettingResult(s_.ProviderSupportContact(a)); },
                    true));
    r.Add(verb::put, "/api/v1/provider/supportContact",
          WithSession(
              [this](const Request& req, RequestContext&, auto&, auto& a) {
                auto body = ParseBody(req, {{"name", Field::Kind::kString, true},
                                            {"email", Field::Kind::kString, true},
                                            {"url", Field::Kind::kString, true},
                                            {"phone", Field::Kind::kString, true}});
                if (!body.ok()) return Error(body.status());
                domain::SupportContactFields c;
                c.name = std::string(body->at("name").as_string());
                c.email = std::string(body->at("email").as_string());
                c.url = std::string(body->at("url").as_string());
                c.phone = std::string(body->at("phone").as_string());
                std::vector<domain::FieldError> refused;
                auto r = s_.UpdateSupportContact(a, c, &refused);
                return SupportSettingResult(r, refused);
              },
              true));
    r.Add(verb::delete_, "/api/v1/provider/supportContact",
          WithSession([this](auto&, auto&, auto&,
                             auto& a) { return SupportSettingResult(s_.ResetSupportContact(a)); },
                      true));
    r.Add(
        verb::get, "/api/v1/provider/orgs",
        WithSession([this](auto&, RequestContext& ctx, auto&, auto& a) { return ListOrgs(ctx, a); },
                    true));
    r.Add(
        verb::get, "/api/v1/provider/overview",
        WithSession([this](auto&, RequestContext&, auto&, auto& a) { return Overview(a); }, true));
    r.Add(verb::post, "/api/v1/provider/orgs",
          WithSession(
              [this](const Request& req, RequestContext&, auto&, auto& a) {
                auto body = ParseBody(req, {{"name", Field::Kind::kString, true}});
                if (!body.ok()) return Error(body.status());
                return OrgResult(s_.CreateOrg(a, std::string(body->at("name").as_string())), 201);
              },
              true));
    r.Add(verb::get, "/api/v1/provider/orgs/{id}",
          WithSession(
              [this](auto&, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                return OrgResult(s_.ReadToken(a, org), 200);
              },
              true));
    r.Add(verb::patch, "/api/v1/provider/orgs/{id}",
          WithSession(
              [this](const Request& req, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                auto body = ParseBody(req, {{"name", Field::Kind::kString, false},
                                            {"dailyAllowance", Field::Kind::kInteger, false},
                                            {"ratePerSecond", Field::Kind::kInteger, false},
                                            {"ratePerHour", Field::Kind::kInteger, false},
                                            {"disableThreshold", Field::Kind::kInteger, false},
                                            {"leakPolicy", Field::Kind::kString, false}});
                if (!body.ok()) return Error(body.status());
                service::OrgPatch p;
                if (auto* v = body->if_contains("leakPolicy")) {
                  p.leak_policy = domain::ParseLeakPolicy(v->as_string());
                  if (!p.leak_policy)
                    return Error(Status::Invalid("INVALID_FIELD",
                                                 "Field 'leakPolicy' must be REVOKE or NOTIFY."));
                }
                if (auto* v = body->if_contains("name")) p.name = std::string(v->as_string());
                auto num = [&](const char* k, std::optional<int64_t>& out) {
                  if (auto* v = body->if_contains(k)) out = v->to_number<int64_t>();
                };
                num("dailyAllowance", p.daily_allowance);
                num("ratePerSecond", p.rate_per_second);
                num("ratePerHour", p.rate_per_hour);
                num("disableThreshold", p.disable_threshold);
                return OrgResult(s_.PatchOrg(a, org, p), 200);
              },
              true));
    r.Add(
        verb::post, "/api/v1/provider/orgs/{id}/subscription",
        WithSession(
            [this](const Request& req, RequestContext& ctx, auto&, auto& a) {
              domain::OrgId org;
              if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
              auto body = ParseBody(req, {{"action", Field::Kind::kString, true},
                                          {"endsAt", Field::Kind::kNullableString, false}});
              if (!body.ok()) return Error(body.status());
              std::string action(body->at("action").as_string());
              Action act;
              if (action == "activate")
                act = Action::kActivate;
              else if (action == "expire")
                act = Action::kExpire;
              else if (action == "renew")
                act = Action::kRenew;
              else
                return Error(Status::Invalid("INVALID_FIELD",
                                             "Field 'action' must be activate, expire or renew."));
              std::optional<TimeMs> ends;
              if (auto* v = body->if_contains("endsAt"); v && v->is_string()) {
                TimeMs t;
                if (!ParseIso8601(std::string(v->as_string()), &t))
                  return Error(Status::Invalid(
                      "INVALID_FIELD", "Field 'endsAt' must be a time like 2027-01-31T00:00:00Z."));
                ends = t;
              }
              return OrgResult(s_.ChangeSubscription(a, org, act, ends), 200);
            },
            true));
    r.Add(verb::post, "/api/v1/provider/orgs/{id}/token/disable",
          WithSession(
              [this](const Request& req, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                auto body = ParseBody(req, {{"reason", Field::Kind::kString, true},
                                            {"note", Field::Kind::kString, false}});
                if (!body.ok()) return Error(body.status());
                auto reason = domain::ParseDisableReason(body->at("reason").as_string());
                if (!reason)
                  return Error(Status::Invalid(
                      "INVALID_FIELD",
                      "Field 'reason' must be QUOTA_THRESHOLD, TERMS_VIOLATION or OTHER."));
                std::string note;
                if (auto* v = body->if_contains("note")) note = std::string(v->as_string());
                return OrgResult(s_.DisableToken(a, org, *reason, note), 200);
              },
              true));
    r.Add(verb::post, "/api/v1/provider/orgs/{id}/token/enable",
          WithSession(
              [this](const Request& req, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                auto body = ParseBody(req, {});
                if (!body.ok()) return Error(body.status());
                return OrgResult(s_.EnableToken(a, org), 200);
              },
              true));
    RegisterUsers(r);
    RegisterReports(r);
    RegisterLeakReports(r);
    if (opt_.webhooks)  // issue 20: src/api/webhooks_api.cc
      RegisterWebhookRoutes(r, *opt_.webhooks, [this](AuthedHandler h, bool provider_only) {
        return WithSession(std::move(h), provider_only);
      });
    r.Add(verb::get, "/api/v1/provider/auditLog",
          WithSession([this](auto&, RequestContext& ctx, auto&,
                             auto& a) { return AuditList(ctx, a, true); },
                      true));
  }

  void RegisterUsers(http::Router& r) {
    const http::RouteOptions blocking{64 * 1024, true};
    r.Add(verb::get, "/api/v1/provider/orgs/{id}/users",
          WithSession(
              [this](auto&, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                auto users = s_.ListUsers(a, org);
                if (!users.ok()) return Error(users.status());
                json::array arr;
                for (const auto& u : users.value()) arr.push_back(UserJson(u));
                return JsonResponse(200, json::object{{"items", arr}});
              },
              true));
    r.Add(verb::post, "/api/v1/provider/orgs/{id}/users",
          WithSession(
              [this](const Request& req, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                if (!ParseId(ctx.param("id"), &org)) return NotFoundResponse();
                auto body = ParseBody(req, {{"username", Field::Kind::kString, true},
                                            {"role", Field::Kind::kString, true},
                                            {"password", Field::Kind::kString, false}});
                if (!body.ok()) return Error(body.status());
                auto role = domain::ParseRole(body->at("role").as_string());
                if (!role || *role == Role::kProviderAdmin)
                  return Error(Status::Invalid("INVALID_FIELD",
                                               "Field 'role' must be ORG_ADMIN or ORG_READONLY."));
                service::NewUser nu;
                nu.username = std::string(body->at("username").as_string());
                nu.role = *role;
                nu.org = org;
                if (auto* v = body->if_contains("password")) {
                  nu.password = std::string(v->as_string());
                  Wipe(v->as_string());
                }
                WipeOnExit wipe_pw(nu.password);
                auto created = s_.CreateUser(a, nu);
                if (!created.ok()) return Error(created.status());
                WipeOnExit wipe_created(created->second);
                json::object o = UserJson(created->first);
                if (nu.password.empty()) o["password"] = created->second;  // generated: shown once
                return JsonResponseWiping(201, o, {"password"});
              },
              true),
          blocking);
    r.Add(verb::patch, "/api/v1/provider/orgs/{id}/users/{uid}",
          WithSession(
              [this](const Request& req, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                store::UserId uid;
                if (!ParseOrgAndUser(ctx, &org, &uid)) return NotFoundResponse();
                auto body = ParseBody(req, {{"role", Field::Kind::kString, true}});
                if (!body.ok()) return Error(body.status());
                auto role = domain::ParseRole(body->at("role").as_string());
                if (!role || *role == Role::kProviderAdmin)
                  return Error(Status::Invalid("INVALID_FIELD",
                                               "Field 'role' must be ORG_ADMIN or ORG_READONLY."));
                auto u = s_.ChangeRole(a, org, uid, *role);
                if (!u.ok()) return Error(u.status());
                return JsonResponse(200, UserJson(u.value()));
              },
              true));
    r.Add(verb::post, "/api/v1/provider/orgs/{id}/users/{uid}/password",
          WithSession(
              [this](const Request& req, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                store::UserId uid;
                if (!ParseOrgAndUser(ctx, &org, &uid)) return NotFoundResponse();
                auto body = ParseBody(req, {{"password", Field::Kind::kString, false}});
                if (!body.ok()) return Error(body.status());
                std::string pw;
                if (auto* v = body->if_contains("password")) {
                  pw = std::string(v->as_string());
                  Wipe(v->as_string());
                }
                WipeOnExit wipe_pw(pw);
                auto r = s_.ResetPassword(a, org, uid, pw);
                if (!r.ok()) return Error(r.status());
                WipeOnExit wipe_result(r.value());
                json::object o{{"reset", true}};
                if (pw.empty()) o["password"] = r.value();
                return JsonResponseWiping(200, o, {"password"});
              },
              true),
          blocking);
    r.Add(verb::delete_, "/api/v1/provider/orgs/{id}/users/{uid}",
          WithSession(
              [this](const Request&, RequestContext& ctx, auto&, auto& a) {
                domain::OrgId org;
                store::UserId uid;
                if (!ParseOrgAndUser(ctx, &org, &uid)) return NotFoundResponse();
                Status st = s_.DeleteUser(a, org, uid);
                if (!st.ok()) return Error(st);
                return Response{http::bhttp::status::no_content, 11};
              },
              true));
  }

  // --- Leaked-token reports (issue 20). ---
  static constexpr size_t kMaxLeakBatch = 1000;  // tokens in one report
  static constexpr size_t kMaxTokenText = 1024;  // a reported "token" (ours are 53 characters)

  struct ReportedToken {
    std::string token, type;
    service::LeakReport where;
  };

  void RegisterLeakReports(http::Router& r) {
    // GitHub's secret scanning partner endpoint: no session, no CSRF token (the scanner signs the
    // body), so it is exempt from the before-continue hook above; blocking because the signature
    // check may fetch the scanner's keys.
    r.Add(
        verb::post, "/api/v1/secret-scanning/github",  // kSecretScanningPath
        [this](const Request& req, RequestContext& ctx) { return GithubLeakReport(req, ctx); },
        http::RouteOptions{1024 * 1024, true});
    r.Add(verb::post, "/api/v1/provider/leak-reports",
          WithSession(
              [this](const Request& req, RequestContext&, auto&, auto& a) {
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
                  return Error(Status::Invalid("INVALID_FIELD",
                                               "Field 'token' is at most 1024 characters."));
                auto out = s_.ReportLeak(a, t.token, t.where);
                if (!out.ok()) return Error(out.status());
                json::object o{{"label", out->live ? "true_positive" : "false_positive"},
                               {"action", out->live ? json::value(out->action) : nullptr},
                               {"orgId", out->org ? json::value(*out->org) : nullptr},
                               {"tokenLast4", out->live ? json::value(out->last4) : nullptr}};
                return JsonResponse(200, o);
              },
              true));
  }

  // POST /api/v1/secret-scanning/github: verify, parse every entry, then act on each; answer in
  // GitHub's feedback shape. Nothing changes unless the whole body verified and parsed.
  Response GithubLeakReport(const Request& req, RequestContext& ctx) {
    if (!opt_.scanner_keys || !opt_.scanner_keys->configured())
      return Error(Status::NotFound(
          "NOT_CONFIGURED",
          "Secret scanning reports are not configured on this server (secret_scanning_keys_file "
          "or secret_scanning_keys_url)."));
    if (Status st = opt_.scanner_keys->Verify(req["Github-Public-Key-Identifier"],
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
      auto r = s_.ReportLeak(actor, t.token, t.where);
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

  static Response NotFoundResponse() {
    return Error(Status::NotFound("NOT_FOUND", "No such organization or resource."));
  }

  std::string SessionCookie(const std::string& sid) const {
    return std::string(kCookie) + "=" + sid + "; Path=/; HttpOnly; SameSite=Strict" +
           (opt_.secure_cookies ? "; Secure" : "");
  }
  std::string ClearCookie() const {
    return std::string(kCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" +
           (opt_.secure_cookies ? "; Secure" : "");
  }

  Response Login(const Request& req, RequestContext& ctx) {
    auto body = ParseBody(
        req, {{"username", Field::Kind::kString, true}, {"password", Field::Kind::kString, true}});
    if (!body.ok()) return Error(body.status());
    std::string username(body->at("username").as_string());
    std::string password(body->at("password").as_string());
    Wipe(body->at("password").as_string());
    WipeOnExit wipe_pw(password);
    if (username.size() > 256 || password.size() > 1024)
      return Error(Status(401, "INVALID_CREDENTIALS", "The username or password is not correct."));
    int64_t retry_after = 0;
    auto r = sessions_.Login(username, password, ctx.client_addr, &retry_after, ctx.client_key,
                             ctx.request_id);
    if (!r.ok()) {
      Response res = Error(r.status());
      if (r.status().http_status() == 429)
        res.set(http::bhttp::field::retry_after, std::to_string(retry_after));
      return res;
    }
    WipeOnExit wipe_sid(r->session_id), wipe_csrf(r->csrf_token);
    json::object o;
    o["user"] = UserJson(r->user);
    o["idleTimeoutSeconds"] = sessions_.policy().idle_timeout / 1000;
    o["csrfToken"] = r->csrf_token;
    Response res = JsonResponseWiping(200, o, {"csrfToken"});
    std::string cookie = SessionCookie(r->session_id);
    WipeOnExit wipe_cookie(cookie);
    res.set(http::bhttp::field::set_cookie, cookie);
    return res;
  }

  Response ListOrgs(RequestContext& ctx, const service::Actor& a) {
    int64_t page = 1, size = 50;
    if (Status st = IntParam(ctx, "page", 1, 1'000'000, &page); !st.ok()) return Error(st);
    if (Status st = IntParam(ctx, "pageSize", 1, 500, &size); !st.ok()) return Error(st);
    std::string search = http::QueryParam(ctx.query, "search").value_or("");
    if (search.size() > 200)
      return Error(Status::Invalid("INVALID_PARAMETER", "The search is at most 200 characters."));
    const TimeMs now = s_.clock().now();
    store::OrgQuery q;
    q.search = search;
    q.now = now;
    q.day = quota::UtcDay(now);
    q.expiring_before = now + kExpiringWithinDays * 86'400'000LL;
    q.offset = (page - 1) * size;
    q.limit = size;
    q.sort = store::OrgSort::kId;  // the order before sorting existed
    static const std::pair<std::string_view, store::OrgFilter> kFilters[] = {
        {"all", store::OrgFilter::kAll},
        {"enabled", store::OrgFilter::kEnabled},
        {"disabled", store::OrgFilter::kDisabled},
        {"providerDisabled", store::OrgFilter::kProviderDisabled},
        {"expired", store::OrgFilter::kExpired},
        {"noSubscription", store::OrgFilter::kNoSubscription},
        {"expiring", store::OrgFilter::kExpiring},
        {"over80", store::OrgFilter::kOver80},
        {"nearThreshold", store::OrgFilter::kNearThreshold},
        {"noToken", store::OrgFilter::kNoToken},
    };
    if (auto v = http::QueryParam(ctx.query, "filter"); v && !v->empty()) {
      auto it = std::find_if(std::begin(kFilters), std::end(kFilters),
                             [&](const auto& f) { return f.first == *v; });
      if (it == std::end(kFilters))
        return Error(Status::Invalid(
            "INVALID_PARAMETER",
            "The filter is one of all, enabled, disabled, providerDisabled, expired, "
            "noSubscription, expiring, over80, nearThreshold, noToken."));
      q.filter = it->second;
    }
    if (auto v = http::QueryParam(ctx.query, "reason"); v && !v->empty()) {
      q.reason = domain::ParseDisableReason(*v);
      if (!q.reason)
        return Error(Status::Invalid("INVALID_PARAMETER",
                                     "The reason is QUOTA_THRESHOLD, TERMS_VIOLATION or OTHER."));
      if (q.filter != store::OrgFilter::kProviderDisabled)
        return Error(
            Status::Invalid("INVALID_PARAMETER", "The reason goes with filter=providerDisabled."));
    }
    if (auto v = http::QueryParam(ctx.query, "sort"); v && !v->empty()) {
      std::string_view key = *v;
      q.descending = !key.empty() && key.front() == '-';
      if (q.descending) key.remove_prefix(1);
      if (key == "name")
        q.sort = store::OrgSort::kName;
      else if (key == "id")
        q.sort = store::OrgSort::kId;
      else if (key == "usage")
        q.sort = store::OrgSort::kUsage;
      else if (key == "endsAt")
        q.sort = store::OrgSort::kEndsAt;
      else
        return Error(Status::Invalid(
            "INVALID_PARAMETER",
            "The sort is name, id, usage or endsAt, with a leading - for descending order."));
    }
    auto r = s_.QueryOrgs(a, q);
    if (!r.ok()) return Error(r.status());
    json::array items;
    for (const auto& row : r->items) items.push_back(OrgRowJson(row, now));
    json::object out;
    out["items"] = std::move(items);
    out["total"] = r->total;
    out["page"] = page;
    out["pageSize"] = size;
    return JsonResponse(200, out);
  }

  static constexpr int64_t kExpiringWithinDays = 14;

  json::object OrgRowJson(const store::OrgRow& row, TimeMs now) {
    const auto& org = row.org;
    domain::OrgState st = service::Services::StateOf(org, true);
    auto status = domain::TokenStatusAt(st, now);
    json::object o;
    o["id"] = org.id;
    o["name"] = org.name;
    o["subscription"] = std::string(domain::ToString(domain::EffectiveSubscription(st, now)));
    o["endsAt"] = OptTime(org.ends_at);
    o["tokenStatus"] = std::string(domain::ToString(status.status));
    o["statusReason"] = status.reason == domain::StatusReason::kNone
                            ? json::value(nullptr)
                            : json::value(std::string(domain::ToString(status.reason)));
    o["disabledByProvider"] = org.provider_disabled;
    o["disableReason"] = org.provider_disabled
                             ? json::value(std::string(domain::ToString(org.disable_reason)))
                             : json::value(nullptr);
    o["hasToken"] = row.has_token;
    o["usedToday"] = row.used_today;
    o["overQuotaToday"] = row.over_quota_today;
    o["dailyAllowance"] = org.daily_allowance;
    o["disableThreshold"] = org.disable_threshold;
    if (opt_.submissions) {
      auto used = opt_.submissions->quota().UsedToday(org.id, now);
      o["usage"] =
          json::object{{"used", used.ok() ? used.value() : 0}, {"allowed", org.daily_allowance}};
      o["rateLimitedToday"] = opt_.submissions->quota().RateLimitedToday(org.id, now);
    }
    return o;
  }

  Response Overview(const service::Actor& a) {
    constexpr int kDays = 14, kTop = 10;
    const TimeMs now = s_.clock().now();
    const int64_t day = quota::UtcDay(now);
    // The days before today change no more (submissions count on the current UTC day): their
    // totals, a scan over every organization's usage rows, are kept for a few minutes, and only
    // today is summed on each call.
    constexpr TimeMs kPastDaysTtl = 5 * 60'000;
    std::vector<store::OrgOverviewRecord::Day> past;
    {
      std::lock_guard<std::mutex> lock(overview_mu_);
      if (past_days_day_ == day && now >= past_days_at_ && now - past_days_at_ < kPastDaysTtl)
        past = past_days_;
    }
    const bool cached = past.size() == kDays - 1;
    auto r = s_.OrgOverview(a, now, day, now + kExpiringWithinDays * 86'400'000LL,
                            cached ? 1 : kDays, kTop);
    if (!r.ok()) return Error(r.status());
    auto& v = r.value();
    if (cached) {
      past.insert(past.end(), v.days.begin(), v.days.end());
      v.days = std::move(past);
    } else if (v.days.size() == kDays) {
      std::lock_guard<std::mutex> lock(overview_mu_);
      past_days_.assign(v.days.begin(), v.days.end() - 1);
      past_days_day_ = day;
      past_days_at_ = now;
    }
    json::object out;
    out["asOf"] = FormatIso8601(now);
    out["orgs"] = v.orgs;
    out["tokenStates"] =
        json::object{{"enabled", v.enabled},
                     {"disabledByProvider",
                      v.disabled_quota_threshold + v.disabled_terms_violation + v.disabled_other},
                     {"expired", v.expired},
                     {"noSubscription", v.no_subscription}};
    out["disabledByReason"] = json::object{{"QUOTA_THRESHOLD", v.disabled_quota_threshold},
                                           {"TERMS_VIOLATION", v.disabled_terms_violation},
                                           {"OTHER", v.disabled_other}};
    out["noToken"] = v.no_token;
    out["expiringWithinDays"] = kExpiringWithinDays;
    out["expiring"] = v.expiring;
    out["over80Today"] = v.over80;
    out["nearThresholdToday"] = v.near_threshold;
    json::array days;
    for (const auto& d : v.days)
      days.push_back(json::object{{"day", FormatIso8601(d.day * 86'400'000LL).substr(0, 10)},
                                  {"accepted", d.used},
                                  {"refused", d.over_quota}});
    out["days"] = std::move(days);
    json::array top;
    for (const auto& row : v.top) top.push_back(OrgRowJson(row, now));
    out["top"] = std::move(top);
    return JsonResponse(200, out);
  }

  Response AuditList(RequestContext& ctx, const service::Actor& a, bool provider) {
    store::AuditFilter f;
    int64_t limit = 100, before = 0, org = 0;
    if (Status st = IntParam(ctx, "limit", 1, 1000, &limit); !st.ok()) return Error(st);
    if (Status st = IntParam(ctx, "beforeId", 1, INT64_MAX, &before); !st.ok()) return Error(st);
    if (Status st = TimeParam(ctx, "from", &f.from); !st.ok()) return Error(st);
    if (Status st = TimeParam(ctx, "to", &f.to); !st.ok()) return Error(st);
    f.limit = static_cast<int>(limit);
    if (before) f.before_id = before;
    if (auto v = http::QueryParam(ctx.query, "action"); v && !v->empty()) f.action = *v;
    if (provider) {
      if (Status st = IntParam(ctx, "orgId", 1, INT64_MAX, &org); !st.ok()) return Error(st);
      if (org) f.org_id = org;
      if (auto v = http::QueryParam(ctx.query, "actor"); v && !v->empty()) f.actor = *v;
    }
    auto r = s_.ListAudit(a, f);
    if (!r.ok()) return Error(r.status());
    json::array items;
    std::map<domain::OrgId, std::string> names;
    if (provider) {
      std::vector<domain::OrgId> ids;
      for (const auto& rec : r.value())
        if (rec.org_id) ids.push_back(*rec.org_id);
      auto n = s_.OrgNames(a, ids);
      if (!n.ok()) return Error(n.status());
      names = std::move(n).value();
    }
    for (const auto& rec : r.value()) {
      json::object o = AuditJson(rec);
      if (provider) {
        auto it = rec.org_id ? names.find(*rec.org_id) : names.end();
        o["orgName"] = it == names.end() ? json::value(nullptr) : json::value(it->second);
      }
      items.push_back(std::move(o));
    }
    json::object out;
    out["items"] = std::move(items);
    return JsonResponse(200, out);
  }

 private:
  service::Services& s_;
  auth::SessionManager& sessions_;
  ApiOptions opt_;
  // Overview: the totals of the 13 days before today, as of past_days_at_ (see Overview).
  std::mutex overview_mu_;
  std::vector<store::OrgOverviewRecord::Day> past_days_;
  int64_t past_days_day_ = -1;
  TimeMs past_days_at_ = 0;
};

}  // namespace

std::shared_ptr<void> RegisterApi(http::Router& router, service::Services& services,
                                  auth::SessionManager& sessions, ApiOptions options) {
  auto api = std::make_shared<Api>(services, sessions, options);
  api->Register(router);
  return api;
}

}  // namespace sandgate::api
