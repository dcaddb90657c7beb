// Services: the only place that changes state. Each operation loads the organization's state, asks
// domain::Decide, applies the change and appends its audit record in ONE store transaction; a
// refusal is audited in its own transaction. After a change commits, the token index is updated
// while the service's write lock is still held, so index order equals commit order and a change is
// visible to verify() before the call returns.
// Thread-safe. Defined by concern: services.cc (index, audit, views, Mutate, the audit log),
// services_token.cc (token, leak reports), services_org.cc, services_user.cc, services_keys.cc,
// services_contact.cc.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "domain/decision.h"
#include "domain/support_contact.h"
#include "store/stamped_cache.h"
#include "store/store.h"
#include "token/keyring.h"
#include "token/token_index.h"

namespace sandgate::service {

using domain::OrgId;
using store::UserId;

// Who performs an operation, for the rules and the audit trail.
struct Actor {
  std::string name;  // username, "system" or "cli"
  domain::Caller caller;
  std::string client_addr;  // "" when not over the network
  bool anonymous = false;   // not signed in (a failed login): the role is unknown
  // X-Request-Id of the HTTP request, recorded in audit records.
  std::string request_id = "";
  // The operator at the machine (CLI): acts with provider rights.
  static Actor Cli();
};

// What a read of an organization's token shows.
struct TokenView {
  store::OrgRecord org;
  std::optional<store::TokenRecord> token;
  domain::Subscription subscription = domain::Subscription::kNone;  // effective at `now`
  domain::EffectiveStatus status;
  std::vector<domain::Action> allowed;
  TimeMs now = 0;
  std::optional<TimeMs> last_used;  // the last accepted submission, read in the same transaction
  store::LeakRecord leak;           // the leak policy and the last report (issue 20)
};

struct OrgPatch {
  std::optional<std::string> name;
  std::optional<int64_t> daily_allowance;
  std::optional<int64_t> rate_per_second;
  std::optional<int64_t> rate_per_hour;
  std::optional<int64_t> disable_threshold;
  std::optional<domain::LeakPolicy> leak_policy;  // issue 20
};

// A report of a token found in public (issue 20): where, and what the scanner calls the place.
struct LeakReport {
  std::string url;     // at most 2000 bytes of printable text; shown to the organization as text
  std::string source;  // e.g. "commit", "github"; at most 200 bytes
};
// What a report of one token came to.
struct LeakOutcome {
  // A live Sandgate token (GitHub's true_positive). False for malformed, unknown or already
  // revoked tokens, which change nothing.
  bool live = false;
  std::string action;  // REVOKED or NOTIFIED when live
  std::optional<OrgId> org;
  std::string last4;
};

struct NewUser {
  std::string username;
  domain::Role role = domain::Role::kOrgReadonly;
  std::optional<OrgId> org;
  std::string password;  // empty: generate one
};

// What ResealTokens did.
struct ResealResult {
  int64_t tokens = 0;    // tokens in the store
  int64_t resealed = 0;  // re-sealed under key_id by this call
  std::string key_id;    // the keyring's current seal key
};

struct Settings {
  std::string base_url = "http://127.0.0.1:8080";  // where the Submission API is reached
  // This node's name among several on one database ("" for the CLI and single-node use).
  std::string node_id;
  // The provider's support contact, shown to organizations in disabled and expired notices
  // (config keys support_name, support_email, support_url, support_phone; each may be empty).
  std::string support_name, support_email, support_url, support_phone;
};

// The token page drawn once for one kind of reader (Services::ReadTokenPage): the view and what the
// drawing function made of it. Immutable and shared.
struct DrawnTokenPage {
  TokenView view;  // view.now: when it was drawn (nothing drawn from the view reads it)
  std::string text;
};
// Draws a token page: a pure function of the view, the reader's role and the settings (no clock,
// no store, no other state). A plain function, so that it can hold no state of its own.
using TokenPageDraw = std::string (*)(const TokenView&, domain::Role, const Settings&);

// The support contact organizations see (issue 18, item 5). Precedence: one saved in the provider
// console replaces the config file's support_* keys as a whole (every part, empty ones included)
// until it is reset; the config file's applies before any save and after a reset.
struct SupportContactView {
  store::SupportContactRecord contact;  // in effect; updated_* only when from the console
  bool from_console = false;
  store::SupportContactRecord config;  // the config file's (shown to the provider)
};

class Services {
 public:
  Services(std::shared_ptr<store::Store> store, std::shared_ptr<token::Keyring> keys,
           std::shared_ptr<Clock> clock, Settings settings);

  // Loads the verification index from the store. Call once before serving.
  Status LoadIndex();

  token::TokenIndex& index() { return index_; }
  // Several nodes: re-reads these organizations (state and token) into the index. The hook the
  // store's change follower calls (store::FollowHooks::apply).
  Status RefreshIndex(const std::vector<OrgId>& orgs);
  void set_node_id(std::string id) { settings_.node_id = std::move(id); }
  const Clock& clock() const { return *clock_; }
  const Settings& settings() const { return settings_; }
  // Set once before serving (the bound address is known only after listening). Not thread-safe.
  void set_base_url(std::string url) { settings_.base_url = std::move(url); }
  store::Store& store() { return *store_; }
  token::Keyring& keys() { return *keys_; }

  // --- The organization's token (rules 4-10). ---
  Result<TokenView> ReadToken(const Actor& a, OrgId org);
  // ReadToken followed by draw(view, role, settings), with the drawn page kept beside the cached
  // read of the organization: drawn once per (draw, role, subscription in effect) while the store
  // is unchanged, and dropped with that read at the next change (Store::ChangeStamp). Exact, not a
  // time-to-live: the view's only dependence on the clock is the subscription in effect
  // (domain::EffectiveSubscription; decision_test.cc holds the rules to that), and on the reader
  // its role (an organization user reads only its own organization). Same refusals and refusal
  // audit as ReadToken; every call is authorized afresh. Settings are fixed once serving starts.
  Result<std::shared_ptr<const DrawnTokenPage>> ReadTokenPage(const Actor& a, OrgId org,
                                                              TokenPageDraw draw);
  Result<std::string> RevealToken(const Actor& a, OrgId org);  // the full token; audited
  Result<TokenView> AddToken(const Actor& a, OrgId org);
  Result<TokenView> RegenerateToken(const Actor& a, OrgId org);
  Result<TokenView> DeleteToken(const Actor& a, OrgId org);

  // --- Provider: organizations, subscriptions, disable/enable. ---
  Result<TokenView> CreateOrg(const Actor& a, const std::string& name);
  Result<store::OrgPage> ListOrgs(const Actor& a, const std::string& search, int64_t offset,
                                  int64_t limit);
  // The provider console's filtered, sorted list and its overview (store::Tx::QueryOrgs,
  // store::Tx::OrgOverview).
  Result<store::OrgRowPage> QueryOrgs(const Actor& a, const store::OrgQuery& q);
  Result<store::OrgOverviewRecord> OrgOverview(const Actor& a, TimeMs now, int64_t day,
                                               TimeMs expiring_before, int days, int top_n);
  // The names of these organizations (the provider's audit log shows names); absent ids are left
  // out.
  Result<std::map<OrgId, std::string>> OrgNames(const Actor& a, const std::vector<OrgId>& ids);
  Result<TokenView> PatchOrg(const Actor& a, OrgId org, const OrgPatch& patch);
  // action is kActivate, kExpire or kRenew; ends_at optional for activate/renew.
  Result<TokenView> ChangeSubscription(const Actor& a, OrgId org, domain::Action action,
                                       std::optional<TimeMs> ends_at);
  Result<TokenView> DisableToken(const Actor& a, OrgId org, domain::DisableReason reason,
                                 const std::string& note);
  Result<TokenView> EnableToken(const Actor& a, OrgId org);

  // --- Leaked tokens (issue 20). ---
  // A scanner found `token` in public. A live token is acted on by its organization's policy
  // (domain::Decide, Action::kReportLeak): REVOKE deletes it, NOTIFY changes nothing; either way
  // the report is kept for the token page, audited (TOKEN_LEAKED, with the URL and source) and
  // token.leaked is queued, all in one transaction. Anything else changes nothing and writes no
  // audit record (a replayed report finds the token gone). 400 INVALID_LEAK_REPORT for a bad URL
  // or source. The token text is never logged, audited or kept.
  Result<LeakOutcome> ReportLeak(const Actor& a, std::string_view token, const LeakReport& r);
  // OK, or 400 INVALID_LEAK_REPORT when the URL or source is not what ReportLeak takes.
  static Status CheckLeakReport(const LeakReport& r);
  // The actor secret-scanning reports come from (a reserved username; provider rights).
  static Actor SecretScanning(std::string client_addr, std::string request_id);

  // --- Provider: users. An organization user's org is given; provider admins have none. ---
  // Returns the user and its password (generated when none was given; shown once).
  Result<std::pair<store::UserRecord, std::string>> CreateUser(const Actor& a, const NewUser& u);
  Result<std::vector<store::UserRecord>> ListUsers(const Actor& a, std::optional<OrgId> org);
  Result<store::UserRecord> ChangeRole(const Actor& a, std::optional<OrgId> org, UserId user,
                                       domain::Role role);
  Result<std::string> ResetPassword(const Actor& a, std::optional<OrgId> org, UserId user,
                                    const std::string& password);
  Status DeleteUser(const Actor& a, std::optional<OrgId> org, UserId user);

  // --- Keys (`sandgate keys`). ---
  // Re-seals every token not yet sealed under the keyring's current seal key with it, in store
  // write transactions of up to `batch` tokens. Only `sealed` and `key_id` change: the token text,
  // lookup hash, last4, created_at and last_modified_* stay, so every token keeps verifying on
  // every node. Each unsealed text is wiped right after use. Appends one audit record
  // `audit_action` (no organization; detail: counts and the key id; outcome the error code if a
  // batch failed, earlier batches staying committed). An organization's token that cannot be
  // unsealed fails the call (500 UNSEAL_KEY_UNKNOWN / UNSEAL_FAILED naming the organization).
  Result<ResealResult> ResealTokens(const Actor& a, const std::string& audit_action,
                                    size_t batch = 500);
  // How many tokens are sealed under each key id.
  Result<std::map<std::string, int64_t>> TokensPerKey();

  // --- Provider: the support contact (SupportContactView). ---
  // The contact in effect, for any signed-in caller (the token page's notices). Shared and
  // immutable: one view per store change, not a copy per page.
  Result<std::shared_ptr<const SupportContactView>> SupportContact();
  // For provider admins only (404 otherwise).
  Result<SupportContactView> ProviderSupportContact(const Actor& a);
  // Saves it in the store (validated: 400 INVALID_SUPPORT_CONTACT with each refused field in
  // *field_errors), audited SETTINGS_UPDATE with each change as "key: old → new", in one
  // transaction. Nothing changes when refused.
  Result<SupportContactView> UpdateSupportContact(const Actor& a,
                                                  const domain::SupportContactFields& c,
                                                  std::vector<domain::FieldError>* field_errors);
  // Removes the saved one: the config file's applies again (audited SETTINGS_UPDATE).
  Result<SupportContactView> ResetSupportContact(const Actor& a);

  // --- Audit. Organization users see their own organization only. ---
  Result<std::vector<store::AuditRecord>> ListAudit(const Actor& a, store::AuditFilter f);

  // Appends an audit record on its own (logins, refused authorizations outside an org).
  Status Audit(const Actor& a, std::optional<OrgId> org, const std::string& action,
               const std::string& outcome, const std::string& detail = "");

  // An ALLOWED audit record of `action` by `a` at `now` (the caller sets outcome and detail): the
  // one place that names actors and roles in records, for other services writing in their own
  // transactions too (notify/).
  store::AuditRecord AuditBase(const Actor& a, std::optional<OrgId> org, const std::string& action,
                               TimeMs now) const;

  static domain::OrgState StateOf(const store::OrgRecord& org, bool has_token);

  // Test seam (issue 21): called with the organization when a committed change is about to reach
  // the index, i.e. between the commit and the index update (services_test.cc holds one change
  // there). Null, and so inert, unless a test sets it before the Services is shared.
  std::function<void(OrgId)> before_index_update_for_test;

 private:
  struct IndexUpdate {
    std::optional<domain::OrgState> state;
    enum class TokenOp { kNone, kPut, kRemove } token_op = TokenOp::kNone;
    std::string lookup_hash;
    std::string last4;
    void PutToken(const store::TokenRecord& t);  // the index is to hold token t
  };
  // The body of a change: may modify org/token, fills the audit record and the index update.
  using ApplyFn =
      std::function<Status(store::Tx&, store::OrgRecord&, std::optional<store::TokenRecord>&,
                           const domain::Decision&, store::AuditRecord&, IndexUpdate&)>;
  // audit_refusal: a refusal by the rules is audited (leak reports are not: a report for a token
  // that is gone is no one's refused attempt).
  Result<TokenView> Mutate(const Actor& a, OrgId org, domain::Action action,
                           const std::string& audit_action, const ApplyFn& apply,
                           bool audit_refusal = true);
  // Fills *out, reading the organization's last use in `tx` (the page needs one transaction).
  Status BuildView(store::Tx& tx, const store::OrgRecord& org,
                   const std::optional<store::TokenRecord>& tok, const domain::Caller& caller,
                   TimeMs now, TokenView* out) const;
  // What a read of the organization's token is built from (ReadToken's cache entry). The token's
  // sealed copy is left out: a view never shows it.
  struct OrgSnapshot {
    store::OrgRecord org;
    std::optional<store::TokenRecord> token;
    std::optional<TimeMs> last_used;
    store::LeakRecord leak;
  };
  // ReadToken's cache entry: the snapshot, and the pages drawn from it (ReadTokenPage).
  struct CachedOrg {
    OrgSnapshot snap;
    struct Drawn {
      TokenPageDraw draw;
      domain::Role role;
      domain::Subscription subscription;
      std::shared_ptr<const DrawnTokenPage> page;
    };
    mutable Mutex drawn_mu;
    mutable std::vector<Drawn> drawn GUARDED_BY(drawn_mu);  // a handful: one per kind of reader
    // The page kept for this kind of reader, or null.
    std::shared_ptr<const DrawnTokenPage> KeptPage(TokenPageDraw draw, domain::Role role,
                                                   domain::Subscription sub) const
        REQUIRES(drawn_mu);
  };
  // The organization's snapshot, from the cache while the store is unchanged.
  Result<std::shared_ptr<const CachedOrg>> ReadOrg(OrgId org);
  // The same, read from the store (one read transaction; the token's sealed copy left out).
  Result<std::shared_ptr<const CachedOrg>> ReadOrgFromStore(OrgId org);
  // Decide(kRead) for `a` at `now`; a refusal is audited (TOKEN_READ).
  Status AuthorizeRead(const Actor& a, const OrgSnapshot& snap, TimeMs now);
  // Fills *out from what was read; the rules are applied at `now`.
  static void FillView(const OrgSnapshot& snap, const domain::Caller& caller, TimeMs now,
                       TokenView* out);
  // A fresh token for `org`: only its lookup hash and sealed copy leave (the text is wiped).
  store::TokenRecord NewToken(OrgId org, const std::string& by, TimeMs now) const;
  void ApplyIndex(OrgId org, const IndexUpdate& u);
  Status CheckUserAccess(const Actor& a, std::optional<OrgId> org, store::Tx& tx,
                         std::optional<UserId> user, store::UserRecord* out);

  std::shared_ptr<store::Store> store_;
  std::shared_ptr<token::Keyring> keys_;
  std::shared_ptr<Clock> clock_;
  Settings settings_;
  token::TokenIndex index_;
  std::mutex write_mu_;  // serialises changes with their index updates
  // ReadToken's reads, per organization, while the store is unchanged (Store::ChangeStamp).
  store::StampedCache<OrgId, CachedOrg> read_cache_{65536};
  // The contact in effect (key 0), while the store is unchanged.
  store::StampedCache<int, SupportContactView> contact_cache_{1};
  Result<SupportContactView> ContactView(
      const std::optional<store::SupportContactRecord>& saved) const;
};

}  // namespace sandgate::service
