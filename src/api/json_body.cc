#include "api/json_body.h"

namespace sandgate::api {

namespace json = boost::json;

Result<json::object> ParseBody(const http::Request& req, std::initializer_list<Field> fields) {
  json::object obj;
  if (!req.body().empty()) {
    auto ct = req[http::bhttp::field::content_type];
    if (ct.substr(0, 16) != "application/json")
      return Status(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.");
    json::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec) return Status::Invalid("MALFORMED_JSON", "The body is not valid JSON.");
    if (!v.is_object()) return Status::Invalid("INVALID_BODY", "The body must be a JSON object.");
    obj = std::move(v.as_object());
  }
  for (const auto& kv : obj) {
    const Field* spec = nullptr;
    for (const Field& f : fields)
      if (kv.key() == f.name) spec = &f;
    if (!spec) {
      std::string key(kv.key());
      if (key.size() > 64) key = key.substr(0, 64) + "...";
      return Status::Invalid("UNKNOWN_FIELD", "Unknown field '" + key + "'.");
    }
    bool ok = false;
    switch (spec->kind) {
      case Field::Kind::kString:
        ok = kv.value().is_string();
        break;
      case Field::Kind::kInteger:
        ok = kv.value().is_int64() || kv.value().is_uint64();
        break;
      case Field::Kind::kNullableString:
        ok = kv.value().is_string() || kv.value().is_null();
        break;
    }
    if (ok && kv.value().is_uint64() && kv.value().as_uint64() > INT64_MAX) ok = false;
    if (!ok) {
      const char* want = spec->kind == Field::Kind::kInteger  ? "a whole number"
                         : spec->kind == Field::Kind::kString ? "a string"
                                                              : "a string or null";
      return Status::Invalid("INVALID_FIELD",
                             "Field '" + std::string(spec->name) + "' must be " + want + ".");
    }
  }
  for (const Field& f : fields) {
    if (f.required && !obj.contains(f.name))
      return Status::Invalid("MISSING_FIELD", "Field '" + std::string(f.name) + "' is required.");
  }
  return obj;
}

}  // namespace sandgate::api
