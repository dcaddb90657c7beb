#include "token/token_format.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace sandgate::token {
namespace {

constexpr std::string_view kDigits =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// Vectors computed independently (Python: zlib.crc32 and int -> base62).
constexpr std::string_view kZeroToken = "sbx_00000000000000000000000000000000000000000003UvflE";
constexpr std::string_view kSeqToken = "sbx_0Eoh211G4c8wtVWM00my5rsNSFlKgaWqQ4mb8gdEqno0BUPoh";
constexpr std::string_view kMaxToken = "sbx_yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp10NH6kO";
// Body = 2^256 and 62^43 - 1, each with the correct checksum for its text.
constexpr std::string_view kOverflowByOne = "sbx_yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp22ahWQI";
constexpr std::string_view kOverflowMax = "sbx_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz42J79R";

// Recomputes the checksum for a 47-character prefix+body, as Generate does.
std::string WithChecksum(std::string_view first47) {
  const uint32_t crc = Crc32(first47);
  const unsigned char be[4] = {
      static_cast<unsigned char>(crc >> 24), static_cast<unsigned char>(crc >> 16),
      static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  return std::string(first47) + Base62Encode(be, 4, kChecksumChars);
}

void ExpectInvalid(std::string_view text) {
  const Status st = Parse(text);
  EXPECT_FALSE(st.ok()) << "accepted: " << text;
  EXPECT_EQ(st.http_status(), 401);
  EXPECT_EQ(st.code(), "INVALID_TOKEN");
  EXPECT_EQ(st.message(), "Invalid API token");  // fixed text: never echoes the input
}

char NextDigit(char c) { return kDigits[(kDigits.find(c) + 1) % kDigits.size()]; }

TEST(TokenFormat, GeneratedTokensParse) {
  for (int i = 0; i < 1000; ++i) {
    const std::string t = Generate();
    ASSERT_EQ(t.size(), kTokenLength);
    ASSERT_EQ(t.size(), 53u);
    ASSERT_TRUE(t.starts_with("sbx_"));
    ASSERT_EQ(t.find_first_not_of(kDigits, 4), std::string::npos);
    ASSERT_TRUE(Parse(t).ok()) << t;
    ASSERT_EQ(WithChecksum(std::string_view(t).substr(0, 47)), t);
  }
}

TEST(TokenFormat, GeneratedTokensAreUnique) {
  std::unordered_set<std::string> seen;
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(seen.insert(Generate()).second);
}

TEST(TokenFormat, KnownTokensParse) {
  EXPECT_TRUE(Parse(kZeroToken).ok());
  EXPECT_TRUE(Parse(kSeqToken).ok());
  EXPECT_TRUE(Parse(kMaxToken).ok());  // body = 2^256 - 1, the greatest valid value
  EXPECT_EQ(WithChecksum(kSeqToken.substr(0, 47)), kSeqToken);
}

TEST(TokenFormat, RejectsWrongPrefix) {
  const std::string t(kSeqToken);
  for (std::string_view prefix : {"sbX_", "SBX_", "sby_", "sbx-", "xbs_", "sk_l"}) {
    // Checksum recomputed so only the prefix is wrong.
    ExpectInvalid(WithChecksum(std::string(prefix) + t.substr(4, 43)));
  }
}

TEST(TokenFormat, RejectsWrongLength) {
  const std::string t(kSeqToken);
  ExpectInvalid("");
  ExpectInvalid("sbx_");
  ExpectInvalid(t.substr(0, 52));
  ExpectInvalid(t + "0");
  ExpectInvalid(" " + t);
  ExpectInvalid(t + "\n");
  ExpectInvalid(t.substr(1));
  ExpectInvalid(std::string(10000, 'a'));
}

TEST(TokenFormat, RejectsCharactersOutsideTheAlphabet) {
  const std::string t(kSeqToken);
  for (char bad : {'-', '_', '+', '/', '=', ' ', '\0', '\n', '.', '~', '\x7f', '\x80', '\xff'}) {
    for (size_t pos : {size_t{4}, size_t{20}, size_t{46}}) {  // in the body, checksum recomputed
      std::string body = t.substr(0, 47);
      body[pos] = bad;
      ExpectInvalid(WithChecksum(body));
    }
    for (size_t pos : {size_t{47}, size_t{52}}) {  // in the checksum
      std::string u = t;
      u[pos] = bad;
      ExpectInvalid(u);
    }
  }
  // A multi-byte UTF-8 character in place of two body characters.
  std::string body = t.substr(0, 45) + "\xC3\xA9";
  ExpectInvalid(WithChecksum(body));
}

TEST(TokenFormat, RejectsChecksumOffByOneCharacter) {
  const std::string t(kSeqToken);
  for (size_t pos = 0; pos < t.size(); ++pos) {
    if (pos < 4) continue;  // prefix covered above
    std::string u = t;
    u[pos] = NextDigit(u[pos]);  // still in the alphabet, checksum no longer matches
    ExpectInvalid(u);
  }
  // Swapping two adjacent body characters is also caught.
  std::string u = t;
  std::swap(u[10], u[11]);
  ASSERT_NE(u, t);
  ExpectInvalid(u);
}

TEST(TokenFormat, RejectsBodyOf2Pow256OrMore) {
  // The overflow vectors carry a correct checksum, so only the range check refuses them.
  EXPECT_EQ(WithChecksum(kOverflowByOne.substr(0, 47)), kOverflowByOne);
  EXPECT_EQ(WithChecksum(kOverflowMax.substr(0, 47)), kOverflowMax);
  ExpectInvalid(kOverflowByOne);  // exactly 2^256
  ExpectInvalid(kOverflowMax);    // 62^43 - 1
  ExpectInvalid(WithChecksum("sbx_z" + std::string(42, '0')));
  ExpectInvalid(WithChecksum("sbx_yz" + std::string(41, '0')));
}

TEST(TokenFormat, Crc32KnownVectors) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
}

TEST(TokenFormat, Base62KnownVectors) {
  auto enc = [](std::initializer_list<unsigned char> b, size_t width) {
    return Base62Encode(std::data(b), b.size(), width);
  };
  EXPECT_EQ(enc({0}, 1), "0");
  EXPECT_EQ(enc({0}, 0), "0");
  EXPECT_EQ(enc({9}, 1), "9");
  EXPECT_EQ(enc({10}, 1), "A");
  EXPECT_EQ(enc({36}, 1), "a");
  EXPECT_EQ(enc({61}, 1), "z");
  EXPECT_EQ(enc({62}, 1), "10");
  EXPECT_EQ(enc({255}, 0), "47");
  EXPECT_EQ(enc({1, 0}, 0), "48");
  EXPECT_EQ(enc({1}, 6), "000001");
  EXPECT_EQ(enc({0xDE, 0xAD, 0xBE, 0xEF}, 6), "44pZgF");
  EXPECT_EQ(enc({0xFF, 0xFF, 0xFF, 0xFF}, 6), "4gfFC3");
  EXPECT_EQ(enc({'H', 'e', 'l', 'l', 'o'}, 0), "5TP3P3v");
  EXPECT_EQ(enc({0, 0, 'H', 'e', 'l', 'l', 'o'}, 0), "5TP3P3v");  // leading zero bytes
  EXPECT_EQ(enc({62}, 1), "10");                                  // never truncated

  unsigned char ff[32];
  std::fill(std::begin(ff), std::end(ff), 0xFF);
  EXPECT_EQ(Base62Encode(ff, 32, 43), kMaxToken.substr(4, 43));
  unsigned char zero[32] = {};
  EXPECT_EQ(Base62Encode(zero, 32, 43), std::string(43, '0'));
  unsigned char seq[32];
  for (int i = 0; i < 32; ++i) seq[i] = static_cast<unsigned char>(i + 1);
  EXPECT_EQ(Base62Encode(seq, 32, 43), kSeqToken.substr(4, 43));
}

TEST(TokenFormat, Last4AndMask) {
  EXPECT_EQ(Last4(kSeqToken), "UPoh");
  EXPECT_EQ(Last4("abc"), "abc");
  EXPECT_EQ(
      Mask("Poh1"),
      "sbx_\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2"
      "\xE2\x80\xA2Poh1");
  const std::string t = Generate();
  EXPECT_EQ(Mask(Last4(t)).find(t.substr(4, 43)), std::string::npos);
}

TEST(TokenFormat, RedactTokensHidesEveryTokenLikeRun) {
  const std::string tok = Generate();
  EXPECT_EQ(RedactTokens("/api/v1/provider/orgs/" + tok + "/token"),
            "/api/v1/provider/orgs/sbx_[redacted]/token");
  EXPECT_EQ(RedactTokens("a" + tok + tok + "-x sbx_"),
            "asbx_[redacted]sbx_[redacted]-x sbx_[redacted]");
  EXPECT_EQ(RedactTokens("@ORG" + tok + "@"), "@ORGsbx_[redacted]@");
  EXPECT_EQ(RedactTokens("/zscsb/submit"), "/zscsb/submit");
  EXPECT_EQ(RedactTokens(""), "");
}

}  // namespace
}  // namespace sandgate::token
