#include "api/json_body.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <set>
#include <string>
#include <vector>

namespace sandgate::api {

namespace json = boost::json;

namespace {

// A SAX pass that only notes whether any object repeats a key: boost::json::parse keeps one of
// the values silently, and two readers of one body (a proxy, a WAF, Sandgate) could then disagree
// on what it says.
struct DuplicateKeyFinder {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  std::vector<std::set<std::string>> objects;
  std::string key;
  bool duplicate = false;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    objects.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    objects.pop_back();
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    if (!objects.back().insert(key).second) duplicate = true;
    key.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

bool HasDuplicateKeys(const std::string& body) {
  json::basic_parser<DuplicateKeyFinder> p(json::parse_options{});
  json::error_code ec;
  p.write_some(false, body.data(), body.size(), ec);
  return !ec && p.handler().duplicate;
}

}  // namespace

Result<json::object> ParseBody(const http::Request& req, std::initializer_list<Field> fields) {
  json::object obj;
  if (!req.body().empty()) {
    auto ct = req[http::bhttp::field::content_type];
    if (ct.substr(0, 16) != "application/json")
      return Status(415, "UNSUPPORTED_MEDIA_TYPE", "Send the body as application/json.");
    json::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec) return Status::Invalid("MALFORMED_JSON", "The body is not valid JSON.");
    if (HasDuplicateKeys(req.body()))
      return Status::Invalid("DUPLICATE_FIELD", "A field appears more than once in the body.");
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
      case Field::Kind::kStringArray:
        ok = kv.value().is_array() &&
             std::all_of(kv.value().as_array().begin(), kv.value().as_array().end(),
                         [](const boost::json::value& e) { return e.is_string(); });
        break;
    }
    if (ok && kv.value().is_uint64() && kv.value().as_uint64() > INT64_MAX) ok = false;
    if (!ok) {
      const char* want = spec->kind == Field::Kind::kInteger       ? "a whole number"
                         : spec->kind == Field::Kind::kString      ? "a string"
                         : spec->kind == Field::Kind::kStringArray ? "an array of strings"
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
