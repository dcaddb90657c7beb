// Sessions: sign-in with a password, session cookies and CSRF tokens.
// - A session id is 256 random bits, base64url; only its keyed hash is stored.
// - The CSRF token is derived from the session id (keyed hash), so it needs no storage and dies
//   with the session.
// - Idle timeout 30 minutes, absolute timeout 12 hours; last_seen is written at most once a minute.
// - Authenticate serves repeated requests from a cache that any change to the store empties.
// Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/login_throttle.h"
#include "common/mutex.h"
#include "common/status.h"
#include "service/services.h"
#include "store/stamped_cache.h"
#include "store/store.h"

namespace sandgate::auth {

struct SessionPolicy {
  TimeMs idle_timeout = 30 * 60 * 1000;
  TimeMs absolute_timeout = 12 * 60 * 60 * 1000;
  TimeMs touch_interval = 60 * 1000;
};

struct SignedIn {
  store::UserRecord user;
  std::string session_id;  // secret: goes only into the Set-Cookie header
  std::string csrf_token;  // secret: goes only into the response body
};

struct Authenticated {
  store::UserRecord user;
  std::string session_hash;
  service::Actor actor(const std::string& client_addr) const;
};

class SessionManager {
 public:
  SessionManager(service::Services& services, SessionPolicy policy = {});
  ~SessionManager();  // writes the throttle refusals still pending summary

  // 401 INVALID_CREDENTIALS (the same for unknown user and wrong password), 429 TOO_MANY_ATTEMPTS
  // with *retry_after set. Audits every sign-in and every failed password; refusals by the throttle
  // are summarised (see NoteRefusal), so an unauthenticated client cannot grow the audit trail.
  // The throttle counts failures per (username, `throttle_key`) pair (letter case folded) and per
  // `throttle_key` (default: client_addr); an attempt counts as a failure from its start, so
  // concurrent attempts cannot slip past it. `request_id` (X-Request-Id) goes into the sign-in and
  // failed-password records; a throttle summary stands for many requests and carries none.
  Result<SignedIn> Login(const std::string& username, const std::string& password,
                         const std::string& client_addr, int64_t* retry_after,
                         const std::string& throttle_key = "", const std::string& request_id = "");
  // 401 SESSION_EXPIRED / UNAUTHENTICATED. touch=false (a page's background refresh) checks the
  // session without counting as activity: last_seen stays, so the idle timeout still runs out.
  Result<Authenticated> Authenticate(const std::string& session_id, bool touch = true);
  const SessionPolicy& policy() const { return policy_; }
  Status Logout(const std::string& session_id);
  std::string CsrfFor(const std::string& session_id) const;
  bool CsrfValid(const std::string& session_id, const std::string& presented) const;

 private:
  // What Authenticate reads for a session (the user without its password hash).
  struct SessionEntry {
    store::SessionRecord session;
    store::UserRecord user;
  };

  // Throttle refusals, summarised: per (username, address) pair, or per address when the address
  // limit refused (whatever usernames it tries), and per minute. The first refusal of a minute is
  // audited at once; the others are counted and audited as one record with their count once the
  // minute is over (by the next sign-in attempt, or at shutdown). At most kMaxRefusalKeys keys are
  // tracked; refusals beyond go into one overflow record.
  struct RefusalWindow {
    std::string actor;  // the username tried, or "*" for the address limit
    std::string client_addr;
    TimeMs start = 0;
    int64_t more = 0;  // refusals after the first, not yet audited
  };
  static constexpr TimeMs kRefusalWindow = 60'000;
  static constexpr size_t kMaxRefusalKeys = 10'000;
  void NoteRefusal(const std::string& actor, const std::string& client_addr,
                   const std::string& addr_key, TimeMs now);
  void FlushRefusals(TimeMs now, bool all);

  service::Services& services_;
  SessionPolicy policy_;
  LoginThrottle throttle_;
  Mutex refusals_mu_;
  std::unordered_map<std::string, RefusalWindow> refusals_ GUARDED_BY(refusals_mu_);
  int64_t refusals_overflow_ GUARDED_BY(refusals_mu_) = 0;
  TimeMs refusals_flushed_ GUARDED_BY(refusals_mu_) = 0;
  // Authenticate's reads by session hash, while the store is unchanged but for usage
  // (Store::ChangeStampIgnoringUsage): a sign-out, a touch or a user change anywhere empties it;
  // a submission does not.
  store::StampedCache<std::string, SessionEntry> cache_{65536};
};

}  // namespace sandgate::auth
