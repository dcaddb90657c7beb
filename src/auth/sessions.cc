#include "auth/sessions.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/ascii.h"
#include "common/secret.h"
#include "token/password.h"

namespace sandgate::auth {
namespace {

std::string Base64Url(const unsigned char* p, size_t n) {
  std::string out(sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

Status Unauthenticated() { return Status(401, "UNAUTHENTICATED", "Sign in first."); }

}  // namespace

service::Actor Authenticated::actor(const std::string& client_addr) const {
  return service::Actor{user.username, domain::Caller{user.role, user.org_id}, client_addr, false};
}

SessionManager::SessionManager(service::Services& services, SessionPolicy policy)
    : services_(services), policy_(policy) {
  // Several nodes: the login throttle counts for the cluster (docs/CLUSTER.md).
  if (services_.store().Shared())
    throttle_.ShareThrough(services_.store(), [this] { return services_.clock().now(); });
}

SessionManager::~SessionManager() { FlushRefusals(services_.clock().now(), true); }

namespace {

struct PendingAudit {
  std::string actor, client_addr, detail;
};

std::string Summary(int64_t n, TimeMs from, TimeMs to, bool by_address) {
  return "refused: " + std::to_string(n) + " more attempt(s) by the " +
         (by_address ? "address" : "user and address") + " throttle from " + FormatIso8601(from) +
         " to " + FormatIso8601(to);
}

}  // namespace

void SessionManager::NoteRefusal(const std::string& actor, const std::string& client_addr,
                                 const std::string& addr_key, TimeMs now) {
  std::vector<PendingAudit> out;
  {
    MutexLock lock(refusals_mu_);
    const std::string key = actor + '\n' + addr_key;
    auto it = refusals_.find(key);
    if (it != refusals_.end() && now - it->second.start < kRefusalWindow) {
      it->second.more++;
      return;
    }
    if (it != refusals_.end()) {
      // The key's previous window is over: its summary first, then a new window.
      if (it->second.more > 0)
        out.push_back({it->second.actor, it->second.client_addr,
                       Summary(it->second.more, it->second.start, now, actor == "*")});
      it->second = RefusalWindow{actor, client_addr, now, 0};
    } else if (refusals_.size() >= kMaxRefusalKeys) {
      refusals_overflow_++;
      return;
    } else {
      refusals_.emplace(key, RefusalWindow{actor, client_addr, now, 0});
    }
    out.push_back({actor, client_addr,
                   std::string("refused: 1 attempt by the ") +
                       (actor == "*" ? "address" : "user and address") +
                       " throttle; further refusals within 60 s are counted in one record"});
  }
  for (const auto& p : out)
    services_
        .Audit(service::Actor{p.actor, domain::Caller{}, p.client_addr, true}, std::nullopt,
               "LOGIN", "TOO_MANY_ATTEMPTS", p.detail)
        .IgnoreError();
}

void SessionManager::FlushRefusals(TimeMs now, bool all) {
  std::vector<PendingAudit> out;
  {
    MutexLock lock(refusals_mu_);
    if (!all && now - refusals_flushed_ < 1000) return;  // at most once a second
    refusals_flushed_ = now;
    for (auto it = refusals_.begin(); it != refusals_.end();) {
      const RefusalWindow& w = it->second;
      if (!all && now - w.start < kRefusalWindow) {
        ++it;
        continue;
      }
      if (w.more > 0)
        out.push_back(
            {w.actor, w.client_addr,
             Summary(w.more, w.start, std::min(now, w.start + kRefusalWindow), w.actor == "*")});
      it = refusals_.erase(it);
    }
    if (refusals_overflow_ > 0 && (all || refusals_.size() < kMaxRefusalKeys)) {
      out.push_back({"*", "",
                     "refused: " + std::to_string(refusals_overflow_) +
                         " more attempt(s) by the throttle, from addresses and users "
                         "beyond the " +
                         std::to_string(kMaxRefusalKeys) + " tracked at once"});
      refusals_overflow_ = 0;
    }
  }
  for (const auto& p : out)
    (void)services_.Audit(service::Actor{p.actor, domain::Caller{}, p.client_addr, true},
                          std::nullopt, "LOGIN", "TOO_MANY_ATTEMPTS", p.detail);
}

Result<SignedIn> SessionManager::Login(const std::string& username, const std::string& password,
                                       const std::string& client_addr, int64_t* retry_after,
                                       const std::string& throttle_key,
                                       const std::string& request_id) {
  const TimeMs now = services_.clock().now();
  const std::string& addr_key = throttle_key.empty() ? client_addr : throttle_key;
  service::Actor anon{username.substr(0, 64), domain::Caller{}, client_addr, true, request_id};
  FlushRefusals(now, false);  // summaries of throttle windows that are over
  LoginThrottle::Limit which = LoginThrottle::Limit::kPair;
  if (auto wait = throttle_.Begin(username, addr_key, now, &which)) {
    *retry_after = *wait;
    if (which == LoginThrottle::Limit::kStore)  // shared counts, and the database is away
      return Status(503, "STORE_UNAVAILABLE", "The service is temporarily unavailable.");
    // The throttle folds letter case, so does the summary (variants are one key, one record).
    NoteRefusal(which == LoginThrottle::Limit::kAddress ? "*" : AsciiLower(anon.name), client_addr,
                addr_key, now);
    return Status(
        429, "TOO_MANY_ATTEMPTS",
        "Too many failed sign-in attempts; try again in " + std::to_string(*wait) + " seconds.");
  }
  store::UserRecord user;
  Status found = services_.store().Read([&](store::Tx& tx) -> Status {
    auto u = tx.GetUserByName(username);
    if (!u.ok()) return u.status();
    user = u.value();
    return Status::Ok();
  });
  if (!found.ok() && !found.IsNotFound()) return found;
  // Verify against a dummy hash for unknown users so timing does not reveal which names exist.
  static const std::string kDummy = token::HashPassword("dummy-password-for-timing");
  bool ok = token::VerifyPassword(found.ok() ? user.password_hash : kDummy, password) && found.ok();
  if (!ok) {
    // Already counted by Begin.
    services_.Audit(anon, std::nullopt, "LOGIN", "INVALID_CREDENTIALS").IgnoreError();
    return Status(401, "INVALID_CREDENTIALS", "The username or password is not correct.");
  }
  throttle_.Succeeded(username, addr_key);
  unsigned char raw[32];
  randombytes_buf(raw, sizeof raw);
  SignedIn out;
  out.user = user;
  out.session_id = Base64Url(raw, sizeof raw);
  sodium_memzero(raw, sizeof raw);
  out.csrf_token = CsrfFor(out.session_id);
  store::SessionRecord rec{services_.keys().Mac("session", out.session_id), user.id, now, now};
  service::Actor who{user.username, domain::Caller{user.role, user.org_id}, client_addr};
  who.request_id = request_id;
  const store::AuditRecord audit = services_.AuditBase(who, user.org_id, "LOGIN", now);
  Status st = services_.store().Write([&](store::Tx& tx) -> Status {
    Status s = tx.InsertSession(rec);
    if (!s.ok()) return s;
    // Housekeeping: sessions idle past the timeout are dead; drop them now and then.
    if (rec.id_hash[0] == 0) {
      s = tx.DeleteSessionsBefore(now - policy_.idle_timeout);
      if (!s.ok()) return s;
    }
    return tx.AppendAudit(audit).status();
  });
  if (!st.ok()) return st;
  return out;
}

Result<Authenticated> SessionManager::Authenticate(const std::string& session_id, bool touch) {
  if (session_id.empty() || session_id.size() > 128) return Unauthenticated();
  const TimeMs now = services_.clock().now();
  const std::string hash = services_.keys().Mac("session", session_id);
  const auto stamp = services_.store().ChangeStampIgnoringUsage();  // submissions leave it
  auto entry = cache_.GetOrRead(stamp, hash, [&]() -> Result<std::shared_ptr<const SessionEntry>> {
    auto fresh = std::make_shared<SessionEntry>();
    Status st = services_.store().Read([&](store::Tx& tx) -> Status {
      auto r = tx.GetSession(hash);
      if (!r.ok()) return r.status();
      fresh->session = std::move(r).value();
      auto u = tx.GetUser(fresh->session.user_id);
      if (!u.ok()) return u.status();
      fresh->user = std::move(u).value();
      return Status::Ok();
    });
    if (!st.ok()) return st;
    sodium_memzero(fresh->user.password_hash.data(), fresh->user.password_hash.size());
    fresh->user.password_hash.clear();
    return std::shared_ptr<const SessionEntry>(std::move(fresh));
  });
  if (entry.status().IsNotFound()) return Unauthenticated();
  if (!entry.ok()) return entry.status();
  const store::SessionRecord& s = entry.value()->session;
  Authenticated out;
  out.user = entry.value()->user;
  if (now - s.last_seen_at >= policy_.idle_timeout ||
      now - s.created_at >= policy_.absolute_timeout) {
    services_.store().Write([&](store::Tx& tx) { return tx.DeleteSession(hash); }).IgnoreError();
    return Status(401, "SESSION_EXPIRED", "Your session has expired; sign in again.");
  }
  if (touch && now - s.last_seen_at >= policy_.touch_interval) {
    // Best effort: a store that cannot write (disk full, I/O error) must not stop signed-in users
    // from reading; the touch is retried on the next request.
    services_.store()
        .Write([&](store::Tx& tx) { return tx.TouchSession(hash, now); })
        .IgnoreError();
  }
  out.session_hash = hash;
  return out;
}

Status SessionManager::Logout(const std::string& session_id) {
  const std::string hash = services_.keys().Mac("session", session_id);
  return services_.store().Write([&](store::Tx& tx) { return tx.DeleteSession(hash); });
}

std::string SessionManager::CsrfFor(const std::string& session_id) const {
  std::string mac = services_.keys().Mac("csrf", session_id);
  WipeOnExit wipe(mac);
  return Base64Url(reinterpret_cast<const unsigned char*>(mac.data()), mac.size());
}

bool SessionManager::CsrfValid(const std::string& session_id, const std::string& presented) const {
  std::string expected = CsrfFor(session_id);
  WipeOnExit wipe(expected);
  return presented.size() == expected.size() &&
         sodium_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

}  // namespace sandgate::auth
