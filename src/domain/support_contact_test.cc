#include "domain/support_contact.h"

#include <gtest/gtest.h>

namespace sandgate::domain {
namespace {

std::vector<std::string> Refused(const SupportContactFields& c) {
  std::vector<std::string> out;
  for (const auto& e : ValidateSupportContact(c)) out.push_back(e.field);
  return out;
}
using V = std::vector<std::string>;

TEST(SupportContact, EmptyPartsAreValid) { EXPECT_EQ(Refused({}), V{}); }

TEST(SupportContact, AcceptsUsualValues) {
  EXPECT_EQ(Refused({"Example Sandbox Support \u00e9quipe", "sandbox-support+x@mail.example.co.uk",
                     "https://support.example.com/sandbox?lang=en#top", "+1 (555) 010-0.1/2"}),
            V{});
  EXPECT_EQ(Refused({"", "", "HTTP://EXAMPLE.COM:8443", ""}), V{});
  EXPECT_EQ(Refused({"", "", "http://[2001:db8::1]:80/x", ""}), V{});
}

TEST(SupportContact, RefusesEachBadFieldByName) {
  EXPECT_EQ(Refused({std::string(101, 'a'), "a@b", "ftp://example.com", "12"}),
            (V{"name", "email", "url", "phone"}));
  for (const char* name : {" lead", "trail ", "bell\a", "rtl\u202eoverride", "\xff\xfe"})
    EXPECT_EQ(Refused({name, "", "", ""}), V{"name"}) << name;
  for (const char* email :
       {"plain", "@example.com", "a@", "a@@example.com", "a b@example.com", "a@example",
        "a@-example.com", "a@example.c", "a..b@example.com", ".a@example.com", "a@example.com.",
        "\u00e9@example.com", "a@exa_mple.com"})
    EXPECT_EQ(Refused({"", email, "", ""}), V{"email"}) << email;
  for (const char* url :
       {"javascript:alert(1)", "example.com", "https://", "https:///path", "https://a b.com",
        "https://user@evil.example", "https://example.com/\"onmouseover", "data:text/html,x",
        "https://example.com:99999", "https://example.com:", "//example.com",
        "https://ex\u00e4.com", "https://exa_mple.com"})
    EXPECT_EQ(Refused({"", "", url, ""}), V{"url"}) << url;
  EXPECT_EQ(Refused({"", "", "https://example.com/" + std::string(481, 'a'), ""}), V{"url"});
  for (const char* phone : {"12", "call me", "1+23456", " 123", "123 ", "+1 555 0100 ext 5",
                            "12345678901234567890123456789012345678901"})
    EXPECT_EQ(Refused({"", "", "", phone}), V{"phone"}) << phone;
}

TEST(SupportContact, LimitsAreInclusive) {
  EXPECT_EQ(Refused({std::string(100, 'a'), "", "", ""}), V{});
  EXPECT_EQ(Refused({"", std::string(64, 'a') + "@" + std::string(63, 'b') + ".com", "", ""}), V{});
  EXPECT_EQ(Refused({"", std::string(65, 'a') + "@example.com", "", ""}), V{"email"});
  EXPECT_EQ(Refused({"", "", "", std::string(40, '1')}), V{});
  EXPECT_EQ(Refused({"", "", "https://example.com/" + std::string(480, 'a'), ""}), V{});
  EXPECT_EQ(Refused({"", "", "https://example.com:65535", ""}), V{});
}

}  // namespace
}  // namespace sandgate::domain
