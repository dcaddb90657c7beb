// Strict JSON request bodies: malformed JSON, a non-object, unknown fields, missing required fields
// and wrong types are all refused with a 400 that names the field. Thread-safe (pure).
#pragma once

#include <boost/json.hpp>
#include <initializer_list>
#include <string>

#include "common/status.h"
#include "http/router.h"

namespace sandgate::api {

struct Field {
  enum class Kind { kString, kInteger, kNullableString, kStringArray };
  const char* name;
  Kind kind;
  bool required;
};

// The body as an object whose fields all match `fields`. An empty body is an empty object.
Result<boost::json::object> ParseBody(const http::Request& req,
                                      std::initializer_list<Field> fields);

}  // namespace sandgate::api
