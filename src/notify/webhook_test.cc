#include "notify/webhook.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "common/no_wait.h"
#include "notify/url_guard.h"

namespace sandgate::notify {
namespace {

namespace ip = boost::asio::ip;

std::string FromBase64(const std::string& b64) {
  std::string out(b64.size(), '\0');
  size_t len = 0;
  EXPECT_EQ(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), b64.data(),
                              b64.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL),
            0);
  out.resize(len);
  return out;
}

// The Standard Webhooks specification's reference vector.
TEST(WebhookSignature, MatchesTheStandardWebhooksReferenceVector) {
  const std::string secret = FromBase64("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  EXPECT_EQ(Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_NE(Sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST(WebhookSignature, SecretsComeFromTheSeedAndTheKeyFile) {
  auto keys = token::Keyring::Ephemeral();
  const std::string seed = NewSeed();
  const std::string text = SecretText(*keys, seed);
  EXPECT_EQ(text.rfind("whsec_", 0), 0u);
  EXPECT_EQ(FromBase64(text.substr(6)), SecretBytes(*keys, seed));
  EXPECT_EQ(SecretText(*keys, seed), text);
  EXPECT_NE(SecretText(*keys, NewSeed()), text);
  EXPECT_NE(SecretText(*token::Keyring::Ephemeral(), seed), text);
}

TEST(WebhookSignature, BothSecretsSignDuringTheOverlapOnly) {
  auto keys = token::Keyring::Ephemeral();
  store::WebhookEndpoint e;
  e.seed = NewSeed();
  EXPECT_EQ(SignatureHeader(*keys, e, "msg_1", 10, "{}", 1000).find(' '), std::string::npos);
  e.old_seed = NewSeed();
  e.old_until = 2000;
  const std::string both = SignatureHeader(*keys, e, "msg_1", 10, "{}", 1000);
  EXPECT_EQ(both, Sign(SecretBytes(*keys, e.seed), "msg_1", 10, "{}") + " " +
                      Sign(SecretBytes(*keys, e.old_seed), "msg_1", 10, "{}"));
  EXPECT_EQ(SignatureHeader(*keys, e, "msg_1", 10, "{}", 2000),
            Sign(SecretBytes(*keys, e.seed), "msg_1", 10, "{}"));
}

TEST(WebhookEvents, SubscriptionIsByExactName) {
  store::WebhookEndpoint e;
  e.events = "token.added,token.deleted";
  EXPECT_TRUE(Subscribed(e, "token.added"));
  EXPECT_TRUE(Subscribed(e, "token.deleted"));
  EXPECT_FALSE(Subscribed(e, "token.add"));
  EXPECT_FALSE(Subscribed(e, "token.revealed"));
  EXPECT_TRUE(Subscribed(e, "webhook.test"));
  EXPECT_TRUE(KnownEvent("token.leaked"));
  EXPECT_FALSE(KnownEvent("webhook.test"));
  for (const auto& t : DefaultEventTypes()) EXPECT_NE(t, "token.revealed");
}

TEST(UrlGuard, ParsesHttpAndHttpsOnly) {
  auto u = ParseUrl("https://hooks.example.com:8443/a/b?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "hooks.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/a/b?x=1");
  auto v6 = ParseUrl("http://[2001:db8::1]/");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "2001:db8::1");
  EXPECT_EQ(v6->port, 80);
  auto bare = ParseUrl("http://example.com");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->target, "/");
  for (const char* bad :
       {"ftp://x/", "http://u:p@x/", "http://x/#f", "http:///", "http://x:0/", "http://x:99999/",
        "http://x y/", "http://[::1/", "file:///etc/passwd", "http://ex_ample.com/"})
    EXPECT_EQ(ParseUrl(bad).status().code(), "WEBHOOK_URL_INVALID") << bad;
}

TEST(UrlGuard, RefusesEveryNonPublicAddress) {
  for (const char* a : {"127.0.0.1", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1",
                        "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255",
                        "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "::ffff:10.0.0.1",
                        "::ffff:127.0.0.1", "ff02::1", "::127.0.0.1"})
    EXPECT_TRUE(ForbiddenAddress(ip::make_address(a))) << a;
  for (const char* a :
       {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"})
    EXPECT_FALSE(ForbiddenAddress(ip::make_address(a))) << a;
}

TEST(UrlGuard, AnAllowedRangeLetsItsAddressesThrough) {
  auto u = ParseUrl("http://127.0.0.1:9/hook");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(ResolveAllowed(*u, {}).status().code(), "WEBHOOK_URL_FORBIDDEN");
  auto ok = ResolveAllowed(*u, {*ParseCidr("127.0.0.0/8")});
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->size(), 1u);
  EXPECT_EQ(ok->front().to_string(), "127.0.0.1");
  EXPECT_EQ(
      ResolveAllowed(*ParseUrl("http://10.0.0.1/"), {*ParseCidr("127.0.0.0/8")}).status().code(),
      "WEBHOOK_URL_FORBIDDEN");
}

// Issue 20: a host name is never looked up on an I/O thread (inside a no_wait::Scope): the guard
// refuses at once with WOULD_BLOCK (the server then runs the handler on the blocking pool), and
// looks it up outside the scope. Address literals need no lookup and are judged in the scope.
TEST(UrlGuard, NoNameLookupInsideANoWaitScope) {
  const std::vector<Cidr> allow{*ParseCidr("127.0.0.0/8")};
  auto named = ParseUrl("http://localhost:9/hook");
  ASSERT_TRUE(named.ok());
  {
    no_wait::Scope scope;
    auto r = ResolveAllowed(*named, allow);
    EXPECT_EQ(r.status().code(), "WOULD_BLOCK");
    EXPECT_TRUE(no_wait::TakeWouldBlock());
    auto literal = ResolveAllowed(*ParseUrl("http://127.0.0.1:9/hook"), allow);
    EXPECT_TRUE(literal.ok());
    EXPECT_EQ(ResolveAllowed(*ParseUrl("http://10.0.0.1/"), allow).status().code(),
              "WEBHOOK_URL_FORBIDDEN");
    EXPECT_FALSE(no_wait::TakeWouldBlock());
  }
  auto r = ResolveAllowed(*named, allow);
  ASSERT_TRUE(r.ok()) << r.status().message();
  for (const auto& a : *r) EXPECT_TRUE(a.is_loopback()) << a.to_string();
  EXPECT_EQ(ResolveAllowed(*named, {}).status().code(), "WEBHOOK_URL_FORBIDDEN");
}

TEST(QuotaLines, WarningAtEightyPercentAndNearAtHalfTheThreshold) {
  EXPECT_EQ(QuotaWarningLine(100), 80);
  EXPECT_EQ(QuotaWarningLine(5), 4);
  EXPECT_EQ(QuotaWarningLine(1), 1);
  EXPECT_EQ(QuotaWarningLine(0), 1);
  EXPECT_EQ(QuotaNearLine(100), 50);
  EXPECT_EQ(QuotaNearLine(5), 3);
  EXPECT_EQ(QuotaNearLine(4), 2);
  EXPECT_EQ(QuotaNearLine(0), 1);
}

}  // namespace
}  // namespace sandgate::notify
