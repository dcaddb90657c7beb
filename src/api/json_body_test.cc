#include "api/json_body.h"

#include <gtest/gtest.h>

namespace sandgate::api {
namespace {

http::Request Req(std::string body, std::string ct = "application/json") {
  http::Request r{http::bhttp::verb::post, "/", 11};
  r.set(http::bhttp::field::content_type, ct);
  r.body() = std::move(body);
  return r;
}

const std::initializer_list<Field> kFields = {{"name", Field::Kind::kString, true},
                                              {"n", Field::Kind::kInteger, false},
                                              {"when", Field::Kind::kNullableString, false}};

TEST(JsonBody, AcceptsMatchingObject) {
  auto r = ParseBody(Req(R"({"name":"x","n":3,"when":null})"), kFields);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("n").as_int64(), 3);
}

TEST(JsonBody, RefusesEachKindOfBadInput) {
  EXPECT_EQ(ParseBody(Req("{"), kFields).status().code(), "MALFORMED_JSON");
  EXPECT_EQ(ParseBody(Req("[]"), kFields).status().code(), "INVALID_BODY");
  EXPECT_EQ(ParseBody(Req(R"({"n":1})"), kFields).status().code(), "MISSING_FIELD");
  EXPECT_EQ(ParseBody(Req(R"({"name":1})"), kFields).status().code(), "INVALID_FIELD");
  EXPECT_EQ(ParseBody(Req(R"({"name":"x","n":1.5})"), kFields).status().code(), "INVALID_FIELD");
  EXPECT_EQ(ParseBody(Req(R"({"name":"x","n":18446744073709551615})"), kFields).status().code(),
            "INVALID_FIELD");
  EXPECT_EQ(ParseBody(Req(R"({"name":"x","extra":1})"), kFields).status().code(), "UNKNOWN_FIELD");
  EXPECT_EQ(ParseBody(Req(R"({"name":"x"})", "text/plain"), kFields).status().http_status(), 415);
  EXPECT_EQ(ParseBody(Req(""), {}).ok(), true);  // an empty body is an empty object
}

TEST(JsonBody, RefusesDuplicateKeysWhateverTheirSpelling) {
  EXPECT_EQ(ParseBody(Req(R"({"name":"a","name":"b"})"), kFields).status().code(),
            "DUPLICATE_FIELD");
  // The same key after JSON unescaping ("\u006eame" is "name").
  EXPECT_EQ(ParseBody(Req(R"({"name":"a","\u006eame":"b"})"), kFields).status().code(),
            "DUPLICATE_FIELD");
  EXPECT_TRUE(ParseBody(Req(R"({"name":"a","n":1})"), kFields).ok());
}

}  // namespace
}  // namespace sandgate::api
