// What every route answers with: JSON responses, the error shape ({"code", "message"}, the HTTP
// status from the Status) and the parsing of path ids and query parameters. Thread-safe (pure).
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "http/router.h"

namespace sandgate::api {

http::Response JsonResponse(int status, const boost::json::value& v);
// The same, serialized straight from an object or an array (no copy into a json::value).
http::Response JsonResponse(int status, const boost::json::object& v);
http::Response JsonResponse(int status, const boost::json::array& v);
// A JSON response whose body is already written (a JsonWriter's text).
http::Response JsonTextResponse(int status, std::string body);
// A JSON response from `v`, then wipes the secret string fields `secret_keys` of the object `v`
// (the serialized copy lives in the response body, which the server wipes after sending it).
http::Response JsonResponseWiping(int status, boost::json::object& v,
                                  std::initializer_list<const char*> secret_keys);
// {"code": s.code(), "message": s.message()} with s's HTTP status.
http::Response Error(const Status& s);
// 404 NOT_FOUND: what an unknown or malformed organization or user id answers.
http::Response NotFoundResponse();

// A path id: 1 to 18 decimal digits, above 0.
bool ParseId(const std::string* s, int64_t* out);
// The {id} and {uid} captures of a user route.
bool ParseOrgAndUser(const http::RequestContext& ctx, int64_t* org, int64_t* uid);
// Reads an optional integer query parameter within [lo, hi] (unchanged when absent);
// 400 INVALID_PARAMETER otherwise.
Status IntParam(const http::RequestContext& ctx, const char* name, int64_t lo, int64_t hi,
                int64_t* out);
// Reads an optional ISO-8601 time query parameter; 400 INVALID_PARAMETER when malformed.
Status TimeParam(const http::RequestContext& ctx, const char* name, std::optional<TimeMs>* out);

}  // namespace sandgate::api
