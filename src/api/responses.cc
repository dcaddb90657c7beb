#include "api/responses.h"

#include <boost/json.hpp>
#include <charconv>

#include "common/secret.h"
#include "http/server.h"

namespace sandgate::api {

namespace json = boost::json;
using http::RequestContext;
using http::Response;

namespace {

template <class Json>
Response Serialized(int status, const Json& v) {
  Response res{static_cast<http::bhttp::status>(status), 11};
  res.set(http::bhttp::field::content_type, "application/json");
  res.body() = json::serialize(v);
  return res;
}

}  // namespace

Response JsonResponse(int status, const json::value& v) { return Serialized(status, v); }
Response JsonResponse(int status, const json::object& v) { return Serialized(status, v); }
Response JsonResponse(int status, const json::array& v) { return Serialized(status, v); }

Response JsonTextResponse(int status, std::string body) {
  Response res{static_cast<http::bhttp::status>(status), 11};
  res.set(http::bhttp::field::content_type, "application/json");
  res.body() = std::move(body);
  return res;
}

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

Response NotFoundResponse() {
  return Error(Status::NotFound("NOT_FOUND", "No such organization or resource."));
}

bool ParseId(const std::string* s, int64_t* out) {
  if (!s || s->empty() || s->size() > 18) return false;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), *out);
  return ec == std::errc() && p == s->data() + s->size() && *out > 0;
}

bool ParseOrgAndUser(const RequestContext& ctx, int64_t* org, int64_t* uid) {
  return ParseId(ctx.param("id"), org) && ParseId(ctx.param("uid"), uid);
}

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

}  // namespace sandgate::api
