// JsonWriter (common/json_writer.h): commas placed for any nesting, values escaped, output parsed
// back by boost::json equal to the same document built as a tree.
#include "common/json_writer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <limits>

namespace sandgate {
namespace {

namespace json = boost::json;

TEST(JsonWriterTest, NestedContainersGetTheirCommas) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Member("a", int64_t{1}).Member("b", "x").Member("c", true).Member("d", nullptr);
  w.Key("e").BeginObject().EndObject();
  w.Key("f").BeginArray().EndArray();
  w.Key("g").BeginArray().Int(1).BeginObject().Member("h", false).EndObject();
  w.BeginArray().String("i").EndArray().Null().EndArray();
  w.Key("j").BeginObject().Key("k").BeginObject().Member("l", int64_t{-2}).EndObject().EndObject();
  w.EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":"x","c":true,"d":null,"e":{},"f":[],"g":[1,{"h":false},["i"],null],)"
                 R"("j":{"k":{"l":-2}}})");
  EXPECT_NO_THROW(json::parse(out));
}

// Members drawn by one writer are spliced into another's object with the right commas, first,
// between others and last.
TEST(JsonWriterTest, MembersSpliceAnotherWritersMembers) {
  std::string drawn;
  JsonWriter d(drawn);
  d.Member("a", int64_t{1}).Key("b").BeginArray().String("x").EndArray();
  EXPECT_EQ(drawn, R"("a":1,"b":["x"])");
  std::string out;
  JsonWriter w(out);
  w.BeginObject().Members(drawn).Member("c", true).Members("").Members(drawn).EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":["x"],"c":true,"a":1,"b":["x"]})");
  out.clear();
  JsonWriter w2(out);
  w2.BeginObject().Member("c", false).Members(drawn).EndObject();
  EXPECT_EQ(out, R"({"c":false,"a":1,"b":["x"]})");
  EXPECT_NO_THROW(json::parse(out));
}

TEST(JsonWriterTest, StringsAreEscapedAndParseBackEqual) {
  const std::string nasty[] = {"",
                               "plain",
                               "quote\" back\\slash",
                               std::string("nul\0x", 5),
                               "tab\tnew\nline\r\x01\x1f\x7f",
                               "caf\xc3\xa9 \xe2\x80\xa2",
                               "bad \xff utf8 \xc3",
                               "</script><b>"};
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  json::object expected;
  int i = 0;
  for (const std::string& s : nasty) {
    // Keys are names from our code (letters, digits, '_'; asserted in debug builds).
    std::string key = "k";  // appended step by step: GCC 12 warns (-Wrestrict) on "k" + ...
    key += std::to_string(i++);
    w.Member(key, s);
    expected[key] = s;
  }
  w.Member("min", std::numeric_limits<int64_t>::min());
  w.Member("max", std::numeric_limits<int64_t>::max());
  w.EndObject();
  json::object got = json::parse(out).as_object();
  EXPECT_EQ(got.at("min").as_int64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(got.at("max").as_int64(), std::numeric_limits<int64_t>::max());
  // Valid UTF-8 passes unchanged; anything else is replaced, so the text is always valid JSON.
  for (const auto& [k, v] : expected) {
    const std::string key(k);
    if (key.rfind("k6", 0) == 0) {
      EXPECT_EQ(got.at(k).as_string(), "bad \xef\xbf\xbd utf8 \xef\xbf\xbd") << out;
      continue;
    }
    EXPECT_EQ(got.at(k), v) << key;
  }
  EXPECT_EQ(out.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace sandgate
