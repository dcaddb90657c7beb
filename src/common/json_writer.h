// JsonWriter: one JSON document written straight into a string, in order, with no tree in between.
// For answers on hot paths (the token page), where building a boost::json::object and then
// serializing it costs more than the rest of the request. Everything else uses boost::json.
//
// Contract: the caller nests the calls correctly (a Key before each member's value inside an
// object; Begin/End paired); the writer only places the commas. Strings are escaped by
// AppendJsonString (control characters, quotes, backslashes; invalid UTF-8 replaced). Keys are
// names from our code, never data: letters, digits and '_' only, written as they are (asserted in
// debug builds). So the output is always valid JSON for correctly nested calls. Not thread-safe;
// `out` must outlive the writer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sandgate {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The name of the next member of the enclosing object.
  JsonWriter& Key(std::string_view k);

  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Bool(bool b);
  JsonWriter& Null();
  // Members written before by another JsonWriter inside an object ("k":v,"k2":v2), as they are;
  // nothing when empty. Only inside an object, where a Key could go.
  JsonWriter& Members(std::string_view members);

  // Shorthands for a member: Key(k) then the value.
  JsonWriter& Member(std::string_view k, std::string_view s) { return Key(k).String(s); }
  JsonWriter& Member(std::string_view k, const char* s) { return Key(k).String(s); }
  JsonWriter& Member(std::string_view k, const std::string& s) { return Key(k).String(s); }
  JsonWriter& Member(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonWriter& Member(std::string_view k, bool b) { return Key(k).Bool(b); }
  JsonWriter& Member(std::string_view k, std::nullptr_t) { return Key(k).Null(); }

 private:
  // Before a value or a key: the comma that separates it from the previous one, if any.
  void Separate() {
    if (after_key_)
      after_key_ = false;
    else if (first_)
      first_ = false;
    else
      out_ += ',';
  }

  std::string& out_;
  bool first_ = true;       // nothing written yet in the current container
  bool after_key_ = false;  // a Key was written; its value comes next
};

}  // namespace sandgate
