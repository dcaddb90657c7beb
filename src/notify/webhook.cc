#include "notify/webhook.h"

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>

namespace sandgate::notify {

namespace json = boost::json;

const std::vector<std::string>& EventTypes() {
  static const std::vector<std::string> kAll = {
      "token.added",          "token.regenerated",     "token.deleted",
      "token.revealed",       "token.disabled",        "token.enabled",
      "token.leaked",         "quota.warning",         "quota.exhausted",
      "quota.threshold_near", "subscription.expiring", "subscription.expired",
      "subscription.renewed"};
  return kAll;
}

const std::vector<std::string>& DefaultEventTypes() {
  static const std::vector<std::string> kDefault = [] {
    std::vector<std::string> v;
    for (const auto& t : EventTypes())
      if (t != "token.revealed") v.push_back(t);
    return v;
  }();
  return kDefault;
}

bool KnownEvent(std::string_view type) {
  const auto& all = EventTypes();
  return std::find(all.begin(), all.end(), type) != all.end();
}

bool Subscribed(const store::WebhookEndpoint& e, std::string_view type) {
  if (type == "webhook.test") return true;
  std::string_view rest = e.events;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    if (rest.substr(0, comma) == type) return true;
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return false;
}

std::string NewSeed() {
  std::string s(32, '\0');
  randombytes_buf(s.data(), s.size());
  return s;
}

std::string SecretBytes(const token::Keyring& keys, std::string_view seed) {
  return keys.Mac("webhook-secret", seed);
}

namespace {

std::string Base64(std::string_view bin) {
  std::string out(sodium_base64_encoded_len(bin.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

}  // namespace

std::string SecretText(const token::Keyring& keys, std::string_view seed) {
  std::string raw = SecretBytes(keys, seed);
  std::string text = "whsec_";
  text += Base64(raw);
  sodium_memzero(raw.data(), raw.size());
  return text;
}

std::string Sign(std::string_view secret, std::string_view msg_id, int64_t timestamp_s,
                 std::string_view body) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  const std::string ts = std::to_string(timestamp_s);
  auto add = [&](std::string_view p) {
    crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(p.data()), p.size());
  };
  add(msg_id);
  add(".");
  add(ts);
  add(".");
  add(body);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof st);
  std::string out = "v1,";
  out += Base64(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
  return out;
}

std::string SignatureHeader(const token::Keyring& keys, const store::WebhookEndpoint& e,
                            std::string_view msg_id, int64_t timestamp_s, std::string_view body,
                            TimeMs now) {
  std::string secret = SecretBytes(keys, e.seed);
  std::string header = Sign(secret, msg_id, timestamp_s, body);
  sodium_memzero(secret.data(), secret.size());
  if (!e.old_seed.empty() && e.old_until && now < *e.old_until) {
    std::string old = SecretBytes(keys, e.old_seed);
    header += ' ';
    header += Sign(old, msg_id, timestamp_s, body);
    sodium_memzero(old.data(), old.size());
  }
  return header;
}

std::string NewMessageId() {
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  char hex[sizeof b * 2 + 1];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  std::string id = "msg_";
  id += hex;
  return id;
}

std::string Body(std::string_view type, TimeMs at, std::string_view data_json) {
  std::string out = "{\"type\":";
  out += json::serialize(json::string(type));
  out += ",\"timestamp\":\"";
  out += FormatIso8601(at);
  out += "\",\"data\":";
  out += data_json.empty() ? "{}" : data_json;
  out += "}";
  return out;
}

namespace {

store::OutboxMessage Message(const store::WebhookEndpoint& e, std::string_view type, TimeMs now,
                             std::string_view data_json, std::string_view dedupe_key) {
  store::OutboxMessage m;
  m.endpoint_id = e.id;
  m.msg_id = NewMessageId();
  m.event = std::string(type);
  m.payload = Body(type, now, data_json);
  m.dedupe_key = std::string(dedupe_key);
  m.created_at = now;
  m.next_attempt_at = now;
  return m;
}

}  // namespace

Result<int> Enqueue(store::Tx& tx, std::optional<domain::OrgId> org, std::string_view type,
                    TimeMs now, std::string_view data_json, std::string_view dedupe_key) {
  int queued = 0;
  for (int pass = 0; pass < 2; ++pass) {
    std::optional<domain::OrgId> owner = pass == 0 ? org : std::nullopt;
    if (pass == 0 && !org) continue;
    auto eps = tx.ListWebhookEndpoints(owner);
    if (!eps.ok()) return eps.status();
    for (const auto& e : *eps) {
      if (!Subscribed(e, type)) continue;
      auto ins = tx.InsertOutbox(Message(e, type, now, data_json, dedupe_key));
      if (!ins.ok()) return ins.status();
      if (*ins) ++queued;
    }
  }
  return queued;
}

Status EnqueueFor(store::Tx& tx, const store::WebhookEndpoint& e, std::string_view type, TimeMs now,
                  std::string_view data_json) {
  return tx.InsertOutbox(Message(e, type, now, data_json, "")).status();
}

int64_t QuotaWarningLine(int64_t allowance) {
  return std::max<int64_t>(1, (allowance * 80 + 99) / 100);
}

int64_t QuotaNearLine(int64_t disable_threshold) {
  return std::max<int64_t>(1, (disable_threshold + 1) / 2);
}

namespace {

Status EnqueueQuota(store::Tx& tx, domain::OrgId org, int64_t day, std::string_view type,
                    json::object figures, TimeMs now) {
  auto o = tx.GetOrg(org);
  if (!o.ok()) return o.status().IsNotFound() ? Status::Ok() : o.status();
  json::object data{{"organization", json::object{{"id", o->id}, {"name", o->name}}},
                    {"actor", "system"},
                    {"day", FormatIso8601(day * 24LL * 3600 * 1000).substr(0, 10)}};
  for (const auto& kv : figures) data[kv.key()] = kv.value();
  const std::string key = std::string(type) + ":" + std::to_string(org) + ":" + std::to_string(day);
  return Enqueue(tx, org, type, now, json::serialize(data), key).status();
}

}  // namespace

Status EnqueueQuotaUsed(store::Tx& tx, domain::OrgId org, int64_t day, int64_t used,
                        int64_t allowance, TimeMs now) {
  if (allowance <= 0) return Status::Ok();
  json::object figures{{"usedToday", used}, {"dailyAllowance", allowance}};
  if (used == QuotaWarningLine(allowance))
    if (Status st = EnqueueQuota(tx, org, day, "quota.warning", figures, now); !st.ok()) return st;
  if (used == allowance)
    if (Status st = EnqueueQuota(tx, org, day, "quota.exhausted", figures, now); !st.ok())
      return st;
  return Status::Ok();
}

Status EnqueueQuotaRefused(store::Tx& tx, domain::OrgId org, int64_t day, int64_t over_quota,
                           int64_t disable_threshold, TimeMs now) {
  if (over_quota != QuotaNearLine(disable_threshold)) return Status::Ok();
  return EnqueueQuota(
      tx, org, day, "quota.threshold_near",
      json::object{{"overQuotaToday", over_quota}, {"disableThreshold", disable_threshold}}, now);
}

Status EnqueueForAudit(store::Tx& tx, const store::OrgRecord& org, const store::AuditRecord& rec,
                       TimeMs now) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"TOKEN_ADD", "token.added"},
      {"TOKEN_PROVISION", "token.added"},
      {"TOKEN_REGENERATE", "token.regenerated"},
      {"TOKEN_DELETE", "token.deleted"},
      {"TOKEN_REVEAL", "token.revealed"},
      {"TOKEN_DISABLE", "token.disabled"},
      {"TOKEN_ENABLE", "token.enabled"},
      {"SUBSCRIPTION_EXPIRE", "subscription.expired"},
      {"SUBSCRIPTION_RENEW", "subscription.renewed"},
  };
  const char* type = nullptr;
  for (const auto& [action, event] : kMap)
    if (rec.action == action) type = event;
  if (type == nullptr || rec.outcome != "ALLOWED") return Status::Ok();
  json::object data{{"organization", json::object{{"id", org.id}, {"name", org.name}}},
                    {"actor", rec.actor}};
  data["tokenLast4"] = rec.token_fp.empty() ? json::value(nullptr) : json::value(rec.token_fp);
  if (rec.action == "TOKEN_DISABLE") {
    data["reason"] = std::string(domain::ToString(org.disable_reason));
    data["note"] = org.disable_note;
  }
  if (rec.action == "SUBSCRIPTION_RENEW" || rec.action == "SUBSCRIPTION_EXPIRE")
    data["endsAt"] = org.ends_at ? json::value(FormatIso8601(*org.ends_at)) : json::value(nullptr);
  return Enqueue(tx, org.id, type, now, json::serialize(data)).status();
}

Status EnqueueLeak(store::Tx& tx, const store::OrgRecord& org, const std::string& actor,
                   const store::LeakRecord& leak, TimeMs now) {
  json::object data{{"organization", json::object{{"id", org.id}, {"name", org.name}}},
                    {"actor", actor},
                    {"tokenLast4", leak.token_last4},
                    {"url", leak.url},
                    {"source", leak.source},
                    {"action", leak.action == "REVOKED" ? "revoked" : "notified"},
                    {"foundAt", FormatIso8601(leak.reported_at.value_or(now))}};
  return Enqueue(tx, org.id, "token.leaked", now, json::serialize(data)).status();
}

}  // namespace sandgate::notify
