// libFuzzer target: the strict JSON request bodies (src/api/json_body) with every body shape the
// API accepts, followed by what each caller in src/api/*_routes.cc does with an accepted body
// (as_string on the fields, to_number<int64_t>, ParseIso8601, ParseRole, ParseDisableReason). Those
// accessors throw or abort if ParseBody accepted a body its caller cannot use; that is the bug this
// finds. Input: first byte picks the shape (and the Content-Type variant), the rest is the body.
// Keep kShapes in step with the ParseBody calls in src/api/*_routes.cc.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <string>

#include "api/json_body.h"
#include "common/clock.h"
#include "domain/model.h"
#include "domain/support_contact.h"

using namespace sandgate;
using api::Field;
using K = api::Field::Kind;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

enum Shape {
  kEmpty,           // POST|PUT|DELETE /api/v1/sandbox/token, POST .../token/enable
  kLogin,           // POST /api/v1/authenticatedSession
  kCreateOrg,       // POST /api/v1/provider/orgs
  kPatchOrg,        // PATCH /api/v1/provider/orgs/{id}
  kSubscription,    // POST /api/v1/provider/orgs/{id}/subscription
  kDisable,         // POST /api/v1/provider/orgs/{id}/token/disable
  kCreateUser,      // POST /api/v1/provider/orgs/{id}/users
  kChangeRole,      // PATCH /api/v1/provider/orgs/{id}/users/{uid}
  kResetPassword,   // POST /api/v1/provider/orgs/{id}/users/{uid}/password
  kCreateWebhook,   // POST /api/v1/sandbox/webhooks, /api/v1/provider/webhooks
  kLeakReport,      // POST /api/v1/provider/leak-reports (issue 20)
  kPatchWebhook,    // PATCH /api/v1/sandbox/webhooks/{id}, /api/v1/provider/webhooks/{id}
  kSupportContact,  // PUT /api/v1/provider/supportContact
  kShapeCount
};

Result<boost::json::object> Parse(int shape, const http::Request& req) {
  switch (shape) {
    case kEmpty:
      return api::ParseBody(req, {});
    case kLogin:
      return api::ParseBody(req, {{"username", K::kString, true}, {"password", K::kString, true}});
    case kCreateOrg:
      return api::ParseBody(req, {{"name", K::kString, true}});
    case kPatchOrg:
      return api::ParseBody(req, {{"name", K::kString, false},
                                  {"dailyAllowance", K::kInteger, false},
                                  {"ratePerSecond", K::kInteger, false},
                                  {"ratePerHour", K::kInteger, false},
                                  {"disableThreshold", K::kInteger, false},
                                  {"leakPolicy", K::kString, false}});
    case kSubscription:
      return api::ParseBody(req,
                            {{"action", K::kString, true}, {"endsAt", K::kNullableString, false}});
    case kDisable:
      return api::ParseBody(req, {{"reason", K::kString, true}, {"note", K::kString, false}});
    case kCreateUser:
      return api::ParseBody(req, {{"username", K::kString, true},
                                  {"role", K::kString, true},
                                  {"password", K::kString, false}});
    case kChangeRole:
      return api::ParseBody(req, {{"role", K::kString, true}});
    case kCreateWebhook:
      return api::ParseBody(req, {{"url", K::kString, true},
                                  {"events", K::kStringArray, false},
                                  {"description", K::kString, false}});
    case kLeakReport:
      return api::ParseBody(
          req,
          {{"token", K::kString, true}, {"url", K::kString, true}, {"source", K::kString, false}});
    case kPatchWebhook:
      return api::ParseBody(req, {{"url", K::kString, false},
                                  {"events", K::kStringArray, false},
                                  {"description", K::kString, false}});
    case kSupportContact:
      return api::ParseBody(req, {{"name", K::kString, true},
                                  {"email", K::kString, true},
                                  {"url", K::kString, true},
                                  {"phone", K::kString, true}});
    default:
      return api::ParseBody(req, {{"password", K::kString, false}});
  }
}

// What the callers do with an accepted body (each accessor throws on a wrong type).
void Use(int shape, const boost::json::object& b) {
  auto str = [&](const char* k) { return std::string(b.at(k).as_string()); };
  auto opt_str = [&](const char* k) {
    if (auto* v = b.if_contains(k)) (void)std::string(v->as_string());
  };
  switch (shape) {
    case kEmpty:
      Check(b.empty());
      break;
    case kLogin:
      (void)str("username");
      (void)str("password");
      break;
    case kCreateOrg:
      (void)str("name");
      break;
    case kPatchOrg:
      opt_str("name");
      for (const char* k : {"dailyAllowance", "ratePerSecond", "ratePerHour", "disableThreshold"})
        if (auto* v = b.if_contains(k)) (void)v->to_number<int64_t>();
      if (auto* v = b.if_contains("leakPolicy")) (void)domain::ParseLeakPolicy(v->as_string());
      break;
    case kSubscription: {
      (void)str("action");
      if (auto* v = b.if_contains("endsAt"); v && v->is_string()) {
        TimeMs t;
        (void)ParseIso8601(std::string(v->as_string()), &t);
      }
      break;
    }
    case kDisable:
      (void)domain::ParseDisableReason(b.at("reason").as_string());
      opt_str("note");
      break;
    case kCreateUser:
      (void)str("username");
      (void)domain::ParseRole(b.at("role").as_string());
      opt_str("password");
      break;
    case kChangeRole:
      (void)domain::ParseRole(b.at("role").as_string());
      break;
    case kCreateWebhook:
      (void)str("url");
      opt_str("description");
      if (auto* v = b.if_contains("events"))
        for (const auto& e : v->as_array()) (void)std::string(e.as_string());
      break;
    case kLeakReport:
      (void)str("token");
      (void)str("url");
      opt_str("source");
      break;
    case kPatchWebhook:
      opt_str("url");
      opt_str("description");
      if (auto* v = b.if_contains("events"))
        for (const auto& e : v->as_array()) (void)std::string(e.as_string());
      break;
    case kSupportContact:
      (void)domain::ValidateSupportContact({str("name"), str("email"), str("url"), str("phone")});
      break;
    default:
      opt_str("password");
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int shape = data[0] % kShapeCount;
  const int ct = (data[0] / kShapeCount) % 3;
  http::Request req{http::bhttp::verb::post, "/", 11};
  if (ct == 0) req.set(http::bhttp::field::content_type, "application/json");
  if (ct == 1) req.set(http::bhttp::field::content_type, "application/json; charset=utf-8");
  req.body().assign(reinterpret_cast<const char*>(data + 1), size - 1);
  auto r = Parse(shape, req);
  if (!r.ok()) {
    Check(r.status().http_status() == 400 || r.status().http_status() == 415);
    Check(r.status().message().size() < 200);  // never echoes a long input
    return 0;
  }
  try {
    Use(shape, r.value());
  } catch (const std::exception&) {
    std::abort();  // accepted a body its caller cannot read: a 500 in production
  }
  return 0;
}
