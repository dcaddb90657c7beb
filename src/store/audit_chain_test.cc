// AuditChainHash pinned to test vectors computed outside Sandgate (Python's hashlib.blake2b with
// the documented layout: prev_chain, id, ts, then every field; integers 8 bytes little-endian,
// text length-prefixed), so that a change to what the chain covers cannot go unnoticed
// (issue 21, survivor 5: the chain without the previous hash).
#include "store/audit_chain.h"

#include <gtest/gtest.h>

#include <string>

#include "token/sodium_init.h"

namespace sandgate::store {
namespace {

std::string Hex(const std::string& b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

AuditRecord Sample() {
  AuditRecord r;
  r.id = 42;
  r.ts = 1800000000123;
  r.actor = "prov-admin";
  r.actor_role = "PROVIDER_ADMIN";
  r.org_id = 7;
  r.action = "TOKEN_REGENERATE";
  r.outcome = "ALLOWED";
  r.client_addr = "127.0.0.1";
  r.token_fp = "x9Zq";
  r.detail = "previous a1B2";
  return r;
}

TEST(AuditChain, HashMatchesKnownVectors) {
  token::EnsureSodium();
  std::string key;
  for (int i = 0; i < 32; ++i) key.push_back(static_cast<char>(i));
  const std::string prev(32, '\xab');
  EXPECT_EQ(Hex(AuditChainHash(key, prev, Sample())),
            "0b8709aefd1e60e368bac2bf120c7b4d2cdcb90485ec90be1027b578d9819140");
  AuditRecord first;
  first.id = 1;
  first.actor = "cli";
  first.actor_role = "SYSTEM";
  first.action = "USER_CREATE";
  first.outcome = "ALLOWED";
  EXPECT_EQ(Hex(AuditChainHash("", AuditChainGenesis(), first)),
            "fe3e2ede60424d07ba90b05b9bb715bb3cb9edf2a7bc1b53d9a44179bf7f854c");
}

TEST(AuditChain, HashCoversThePreviousChainAndTheKey) {
  token::EnsureSodium();
  const std::string key(32, 'k');
  const AuditRecord r = Sample();
  const std::string base = AuditChainHash(key, AuditChainGenesis(), r);
  EXPECT_EQ(base.size(), kAuditChainBytes);
  std::string other_prev = AuditChainGenesis();
  other_prev[31] = 1;
  EXPECT_NE(AuditChainHash(key, other_prev, r), base);
  EXPECT_NE(AuditChainHash(std::string(32, 'K'), AuditChainGenesis(), r), base);
}

}  // namespace
}  // namespace sandgate::store
