#include "service/services.h"

#include <sodium.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <optional>

#include "common/utf8.h"
#include "domain/audit_actions.h"
#include "metrics/sandgate_metrics.h"
#include "notify/webhook.h"
#include "token/password.h"
#include "token/token_format.h"

namespace sandgate::service {

using domain::Action;
using domain::Role;
using store::AuditRecord;
using store::OrgRecord;
using store::TokenRecord;
using store::Tx;

namespace {

constexpr int64_t kMaxNameLength = 200;

// Code points a name may not carry: C0/C1 controls and DEL, and the invisible formatting
// characters that reorder or hide text where the name is shown (bidirectional embeddings,
// overrides and isolates such as U+202E, marks, zero-width characters, the BOM).
bool ForbiddenInName(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

// Valid UTF-8 without ForbiddenInName code points.
bool ValidNameText(const std::string& s) { return ValidUtf8Without(s, ForbiddenInName); }

bool ValidName(const std::string& name) {
  if (name.empty() || static_cast<int64_t>(name.size()) > kMaxNameLength) return false;
  if (!ValidNameText(name)) return false;
  return name.front() != ' ' && name.back() != ' ';
}

bool ValidUsername(const std::string& name) {
  if (name.size() < 2 || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

Status NotFound() { return Status::NotFound("NOT_FOUND", "No such organization or resource."); }

// Actor names the audit trail uses for what no user did: a user by that name (any letter case)
// could pass for them. `provider` is what organizations see for every provider record, so only
// provider admins may bear it (the demo's first admin does).
std::optional<std::string> ReservedUsername(const std::string& name, bool provider_admin) {
  std::string folded = name;
  for (char& c : folded) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* r : {"system", "cli", "secret-scanning"})
    if (folded == r) return std::string(r);
  if (folded == "provider" && !provider_admin) return folded;
  return std::nullopt;
}

// A new token replaces the one a leak report was about: the token page's notice goes (the policy
// stays).
Status ClearLeakReport(Tx& tx, OrgId org) {
  auto leak = tx.GetLeak(org);
  if (!leak.ok()) return leak.status();
  if (!leak->reported_at) return Status::Ok();
  store::LeakRecord cleared;
  cleared.org_id = org;
  cleared.policy = leak->policy;
  return tx.PutLeak(cleared);
}

// Printable text (ValidNameText) of at most `max` bytes.
bool ValidReportText(const std::string& s, size_t max) {
  return s.size() <= max && ValidNameText(s);
}

}  // namespace

Actor Actor::Cli() {
  return Actor{"cli", domain::Caller{Role::kProviderAdmin, std::nullopt}, "", false};
}

Services::Services(std::shared_ptr<store::Store> store, std::shared_ptr<token::Keyring> keys,
                   std::shared_ptr<Clock> clock, Settings settings)
    : store_(std::move(store)),
      keys_(std::move(keys)),
      clock_(std::move(clock)),
      settings_(std::move(settings)),
      index_(keys_) {}

domain::OrgState Services::StateOf(const OrgRecord& org, bool has_token) {
  return domain::OrgState{org.id,    org.subscription,      org.ends_at,
                          has_token, org.provider_disabled, org.disable_reason};
}

Status Services::LoadIndex() {
  std::lock_guard<std::mutex> lock(write_mu_);
  index_.Clear();
  // One pass over the tokens with their organizations. Organizations without a token need no
  // entry: every change that gives one a token also sets its state (see Mutate).
  return store_->Read([&](Tx& tx) {
    return tx.ForEachToken([&](const TokenRecord& t, const OrgRecord& o) {
      index_.PutOrg(StateOf(o, true));
      index_.PutToken(t.org_id, t.lookup_hash, t.last4);
    });
  });
}

Status Services::RefreshIndex(const std::vector<OrgId>& orgs) {
  std::lock_guard<std::mutex> lock(write_mu_);  // orders refreshes with this node's own changes
  struct Entry {
    OrgId id;
    std::optional<OrgRecord> org;
    std::optional<TokenRecord> token;
  };
  std::vector<Entry> entries;
  Status st = store_->Read([&](Tx& tx) -> Status {
    for (OrgId id : orgs) {
      Entry e{id, std::nullopt, std::nullopt};
      auto o = tx.GetOrg(id);
      if (!o.ok() && o.status().http_status() != 404) return o.status();
      if (o.ok()) {
        e.org = *o;
        auto t = tx.GetToken(id);
        if (!t.ok()) return t.status();
        e.token = *t;
      }
      entries.push_back(std::move(e));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;  // nothing applied: the follower retries from the same point
  for (const Entry& e : entries) {
    if (!e.org) {
      index_.RemoveToken(e.id);
      continue;
    }
    index_.PutOrg(StateOf(*e.org, e.token.has_value()));
    if (e.token) {
      index_.PutToken(e.id, e.token->lookup_hash, e.token->last4);
    } else {
      index_.RemoveToken(e.id);
    }
  }
  return Status::Ok();
}

AuditRecord Services::AuditBase(const Actor& a, std::optional<OrgId> org, const std::string& action,
                                TimeMs now) const {
  // Every action is in the one table the portal reads (domain/audit_actions.h).
  assert(domain::FindAuditAction(action) != nullptr);
  AuditRecord r;
  r.ts = now;
  r.actor = a.name;
  // "system" and "secret-scanning" (issue 20) are reserved usernames: what no user did.
  r.actor_role = a.anonymous ? ""
                 : a.name == "system" || a.name == "secret-scanning"
                     ? "SYSTEM"
                     : std::string(domain::ToString(a.caller.role));
  r.org_id = org;
  r.action = action;
  r.outcome = "ALLOWED";
  r.client_addr = a.client_addr;
  r.request_id = a.request_id;
  return r;
}

Status Services::Audit(const Actor& a, std::optional<OrgId> org, const std::string& action,
                       const std::string& outcome, const std::string& detail) {
  AuditRecord r = AuditBase(a, org, action, clock_->now());
  r.outcome = outcome;
  r.detail = detail;
  return store_->Write([&](Tx& tx) { return tx.AppendAudit(r).status(); });
}

Status Services::BuildView(Tx& tx, const OrgRecord& org, const std::optional<TokenRecord>& tok,
                           const domain::Caller& caller, TimeMs now, TokenView* out) const {
  auto last = tx.LastUsed(org.id);
  if (!last.ok()) return last.status();
  auto leak = tx.GetLeak(org.id);
  if (!leak.ok()) return leak.status();
  FillView(OrgSnapshot{org, tok, *last, std::move(leak).value()}, caller, now, out);
  return Status::Ok();
}

void Services::FillView(const OrgSnapshot& snap, const domain::Caller& caller, TimeMs now,
                        TokenView* out) {
  TokenView& v = *out;
  v.last_used = snap.last_used;
  v.leak = snap.leak;
  v.org = snap.org;
  v.token = snap.token;
  v.now = now;
  domain::OrgState state = StateOf(snap.org, snap.token.has_value());
  v.subscription = domain::EffectiveSubscription(state, now);
  v.status = domain::TokenStatusAt(state, now);
  v.allowed = domain::AllowedActions(state, caller, now);
}

TokenRecord Services::NewToken(OrgId org, const std::string& by, TimeMs now) const {
  std::string text = token::Generate();
  TokenRecord t;
  t.org_id = org;
  t.lookup_hash = keys_->LookupHash(text);
  t.sealed = keys_->Seal(text, &t.key_id);
  t.last4 = token::Last4(text);
  t.created_at = now;
  t.last_modified_by = by;
  t.last_modified_on = now;
  sodium_memzero(text.data(), text.size());  // only the hash and the sealed copy leave
  return t;
}

void Services::IndexUpdate::PutToken(const TokenRecord& t) {
  token_op = TokenOp::kPut;
  lookup_hash = t.lookup_hash;
  last4 = t.last4;
}

void Services::ApplyIndex(OrgId org, const IndexUpdate& u) {
  if (before_index_update_for_test) before_index_update_for_test(org);
  if (u.state) index_.PutOrg(*u.state);
  switch (u.token_op) {
    case IndexUpdate::TokenOp::kPut:
      index_.PutToken(org, u.lookup_hash, u.last4);
      break;
    case IndexUpdate::TokenOp::kRemove:
      index_.RemoveToken(org);
      break;
    case IndexUpdate::TokenOp::kNone:
      break;
  }
}

Result<TokenView> Services::Mutate(const Actor& a, OrgId org_id, Action action,
                                   const std::string& audit_action, const ApplyFn& apply,
                                   bool audit_refusal) {
  std::unique_lock<std::mutex> lock(write_mu_);
  const TimeMs now = clock_->now();
  Status refusal;
  bool org_exists = false;
  int64_t change_seq = 0;
  std::string refused_fp;
  IndexUpdate update;
  TokenView view;
  Status st = store_->Write([&](Tx& tx) -> Status {
    auto org = tx.GetOrg(org_id);
    if (!org.ok()) {
      if (org.status().http_status() == 404) refusal = NotFound();
      return org.status().http_status() == 404 ? NotFound() : org.status();
    }
    org_exists = true;
    auto tok = tx.GetToken(org_id);
    if (!tok.ok()) return tok.status();
    domain::OrgState state = StateOf(*org, tok->has_value());
    if (action == Action::kReportLeak) {  // the only rule that reads the leak policy
      auto leak = tx.GetLeak(org_id);
      if (!leak.ok()) return leak.status();
      state.leak_policy = leak->policy;
    }
    domain::Decision d = domain::Decide(state, a.caller, action, now);
    if (!d.allowed()) {
      refusal = d.status;
      if (tok->has_value()) refused_fp = (*tok)->last4;
      return d.status;
    }
    AuditRecord rec = AuditBase(a, org_id, audit_action, now);
    if (tok->has_value()) rec.token_fp = (*tok)->last4;
    Status s = apply(tx, *org, *tok, d, rec, update);
    if (!s.ok()) return s;
    // The index always learns the organization's state with any change, so it needs to hold only
    // organizations that have a token (LoadIndex) and stays right for the others.
    if (!update.state) update.state = StateOf(*org, tok->has_value());
    auto id = tx.AppendAudit(rec);
    if (!id.ok()) return id.status();
    // Webhooks: the event goes to the outbox in this transaction (issue 20).
    if (Status ev = notify::EnqueueForAudit(tx, *org, rec, now); !ev.ok()) return ev;
    // Other nodes (several on one database) refresh this organization from the change log.
    auto seq = tx.RecordChange(org_id);
    if (!seq.ok()) return seq.status();
    change_seq = *seq;
    return BuildView(tx, *org, *tok, a.caller, now, &view);
  });
  if (st.ok()) {
    ApplyIndex(org_id, update);
    lock.unlock();
    metrics::CountTokenAction(action);
    // The change is in this node's index; return only once every other node has it too (or has
    // stopped trusting its index), so the old token is refused everywhere from now on.
    metrics::ScopedTimer waited(store_->Shared() ? metrics::PropagationTimer() : nullptr);
    if (Status p = store_->AwaitPropagation(change_seq, settings_.node_id); !p.ok()) return p;
    return view;
  }
  if (!refusal.ok() && audit_refusal) {
    // A refused authorization is audited; the refusal stands even if that write fails.
    AuditRecord rec =
        AuditBase(a, org_exists ? std::optional<OrgId>(org_id) : std::nullopt, audit_action, now);
    rec.outcome = refusal.code();
    rec.token_fp = refused_fp;
    if (!org_exists) rec.detail = "org " + std::to_string(org_id);
    store_->Write([&](Tx& tx) { return tx.AppendAudit(rec).status(); });
  }
  return st;
}

// ---------------------------------------------------------------------------------------------
// The organization's token.

Result<TokenView> Services::ReadToken(const Actor& a, OrgId org_id) {
  const TimeMs now = clock_->now();
  auto snap = read_cache_.GetOrRead(
      store_->ChangeStamp(), org_id, [&]() -> Result<std::shared_ptr<const OrgSnapshot>> {
        auto fresh = std::make_shared<OrgSnapshot>();
        Status st = store_->Read([&](Tx& tx) -> Status {
          auto org = tx.GetOrg(org_id);
          if (!org.ok()) return org.status().http_status() == 404 ? NotFound() : org.status();
          auto tok = tx.GetToken(org_id);
          if (!tok.ok()) return tok.status();
          auto last = tx.LastUsed(org_id);
          if (!last.ok()) return last.status();
          auto leak = tx.GetLeak(org_id);
          if (!leak.ok()) return leak.status();
          fresh->leak = std::move(leak).value();
          fresh->org = std::move(org).value();
          fresh->token = std::move(tok).value();
          fresh->last_used = *last;
          return Status::Ok();
        });
        if (!st.ok()) return st;
        if (fresh->token) fresh->token->sealed.clear();
        return std::shared_ptr<const OrgSnapshot>(std::move(fresh));
      });
  if (!snap.ok()) return snap.status();
  const OrgSnapshot& read = *snap.value();
  domain::Decision d =
      domain::Decide(StateOf(read.org, read.token.has_value()), a.caller, Action::kRead, now);
  if (!d.allowed()) {
    Audit(a, std::nullopt, "TOKEN_READ", d.status.code(), "org " + std::to_string(org_id));
    return d.status;
  }
  TokenView view;
  FillView(read, a.caller, now, &view);
  return view;
}

Result<std::string> Services::RevealToken(const Actor& a, OrgId org) {
  std::string plaintext;
  auto r = Mutate(a, org, Action::kReveal, "TOKEN_REVEAL",
                  [&](Tx&, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                      AuditRecord&, IndexUpdate&) -> Status {
                    auto text = keys_->Unseal(tok->sealed, tok->key_id);
                    if (!text.ok()) return text.status();
                    plaintext = std::move(text.value());
                    return Status::Ok();
                  });
  if (!r.ok()) return r.status();
  return plaintext;
}

Result<TokenView> Services::AddToken(const Actor& a, OrgId org) {
  return Mutate(a, org, Action::kAdd, "TOKEN_ADD",
                [&](Tx& tx, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                    AuditRecord& rec, IndexUpdate& u) -> Status {
                  TokenRecord t = NewToken(org, a.name, clock_->now());
                  Status s = tx.InsertToken(t);
                  if (!s.ok()) return s;
                  if (s = ClearLeakReport(tx, org); !s.ok()) return s;
                  rec.token_fp = t.last4;
                  u.PutToken(t);
                  tok = std::move(t);
                  return Status::Ok();
                });
}

Result<TokenView> Services::RegenerateToken(const Actor& a, OrgId org) {
  return Mutate(a, org, Action::kRegenerate, "TOKEN_REGENERATE",
                [&](Tx& tx, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                    AuditRecord& rec, IndexUpdate& u) -> Status {
                  TokenRecord t = NewToken(org, a.name, clock_->now());
                  t.created_at = tok->created_at;
                  Status s = tx.ReplaceToken(t);
                  if (!s.ok()) return s;
                  if (s = ClearLeakReport(tx, org); !s.ok()) return s;
                  rec.detail = "previous " + tok->last4;
                  rec.token_fp = t.last4;
                  u.PutToken(t);
                  tok = std::move(t);
                  return Status::Ok();
                });
}

Result<TokenView> Services::DeleteToken(const Actor& a, OrgId org) {
  return Mutate(a, org, Action::kDelete, "TOKEN_DELETE",
                [&](Tx& tx, OrgRecord&, std::optional<TokenRecord>& tok, const domain::Decision&,
                    AuditRecord&, IndexUpdate& u) -> Status {
                  Status s = tx.DeleteToken(org);
                  if (!s.ok()) return s;
                  u.token_op = IndexUpdate::TokenOp::kRemove;
                  tok.reset();
                  return Status::Ok();
                });
}

// ---------------------------------------------------------------------------------------------
// Key rotation.

Result<ResealResult> Services::ResealTokens(const Actor& a, const std::string& audit_action,
                                            size_t batch) {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (batch == 0) batch = 1;
  ResealResult out;
  out.key_id = keys_->key_id();
  std::vector<OrgId> todo;
  Status st = store_->Read([&](Tx& tx) {
    return tx.ForEachToken([&](const TokenRecord& t, const OrgRecord&) {
      ++out.tokens;
      if (t.key_id != out.key_id) todo.push_back(t.org_id);
    });
  });
  for (size_t i = 0; st.ok() && i < todo.size(); i += batch) {
    int64_t n = 0;
    st = store_->Write([&](Tx& tx) -> Status {
      n = 0;
      for (size_t j = i; j < std::min(todo.size(), i + batch); ++j) {
        auto tok = tx.GetToken(todo[j]);
        if (!tok.ok()) return tok.status();
        // Deleted meanwhile, or regenerated by a server that already seals with the new key.
        if (!tok->has_value() || (*tok)->key_id == out.key_id) continue;
        TokenRecord t = std::move(**tok);
        auto text = keys_->Unseal(t.sealed, t.key_id);
        if (!text.ok())
          return Status(
              text.status().http_status(), text.status().code(),
              "Organization " + std::to_string(t.org_id) + ": " + text.status().message());
        // Only the sealed copy and its key id change: the text, lookup hash, last4, created_at
        // and last_modified_* stay as they are.
        t.sealed = keys_->Seal(text.value(), &t.key_id);
        sodium_memzero(text.value().data(), text.value().size());
        if (Status s = tx.ReplaceToken(t); !s.ok()) return s;
        ++n;
      }
      return Status::Ok();
    });
    if (st.ok()) out.resealed += n;
  }
  AuditRecord rec = AuditBase(a, std::nullopt, audit_action, clock_->now());
  rec.detail = "resealed " + std::to_string(out.resealed) + " of " + std::to_string(out.tokens) +
               " tokens under key " + out.key_id;
  if (!st.ok()) rec.outcome = st.code();
  Status audited = store_->Write([&](Tx& tx) { return tx.AppendAudit(rec).status(); });
  if (!st.ok()) return st;
  if (!audited.ok()) return audited;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Provider: the support contact.

Result<SupportContactView> Services::ContactView(
    const std::optional<store::SupportContactRecord>& saved) const {
  SupportContactView v;
  v.config.name = settings_.support_name;
  v.config.email = settings_.support_email;
  v.config.url = settings_.support_url;
  v.config.phone = settings_.support_phone;
  v.from_console = saved.has_value();
  v.contact = saved ? *saved : v.config;
  return v;
}

Result<SupportContactView> Services::SupportContact() {
  using Saved = std::optional<store::SupportContactRecord>;
  auto saved = contact_cache_.GetOrRead(
      store_->ChangeStamp(), 0, [&]() -> Result<std::shared_ptr<const Saved>> {
        Saved out;
        Status st = store_->Read([&](Tx& tx) -> Status {
          auto c = tx.GetSupportContact();
          if (!c.ok()) return c.status();
          out = std::move(c).value();
          return Status::Ok();
        });
        if (!st.ok()) return st;
        return std::shared_ptr<const Saved>(std::make_shared<Saved>(std::move(out)));
      });
  if (!saved.ok()) return saved.status();
  return ContactView(*saved.value());
}

Result<SupportContactView> Services::ProviderSupportContact(const Actor& a) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  return SupportContact();
}

namespace {
// "email: help@old.example → help@example.com; url: (not set) → https://..." for what differs.
std::string ContactChanges(const store::SupportContactRecord& from,
                           const store::SupportContactRecord& to) {
  std::string out;
  auto add = [&](const char* key, const std::string& a, const std::string& b) {
    if (a == b) return;
    if (!out.empty()) out += "; ";
    out += std::string(key) + ": " + (a.empty() ? "(not set)" : a) + " \u2192 " +
           (b.empty() ? "(not set)" : b);
  };
  add("supportName", from.name, to.name);
  add("supportEmail", from.email, to.email);
  add("supportUrl", from.url, to.url);
  add("supportPhone", from.phone, to.phone);
  return out;
}
}  // namespace

Result<SupportContactView> Services::UpdateSupportContact(
    const Actor& a, const domain::SupportContactFields& c,
    std::vector<domain::FieldError>* field_errors) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  std::vector<domain::FieldError> refused = domain::ValidateSupportContact(c);
  if (!refused.empty()) {
    const std::string first = refused.front().message;
    if (field_errors) *field_errors = std::move(refused);
    return Status::Invalid("INVALID_SUPPORT_CONTACT", first);
  }
  const TimeMs now = clock_->now();
  store::SupportContactRecord next{c.name, c.email, c.url, c.phone, now, a.name};
  std::optional<store::SupportContactRecord> saved;
  Status st = store_->Write([&](Tx& tx) -> Status {
    auto cur = tx.GetSupportContact();
    if (!cur.ok()) return cur.status();
    auto before = ContactView(*cur);
    if (!before.ok()) return before.status();
    if (Status s = tx.PutSupportContact(next); !s.ok()) return s;
    AuditRecord rec = AuditBase(a, std::nullopt, "SETTINGS_UPDATE", now);
    std::string changes = ContactChanges(before->contact, next);
    rec.detail = "support contact saved in the console" +
                 std::string(before->from_console ? "" : " (was the config file's)") +
                 (changes.empty() ? std::string(": no change") : ": " + changes);
    auto id = tx.AppendAudit(rec);
    if (!id.ok()) return id.status();
    saved = next;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return ContactView(saved);
}

Result<SupportContactView> Services::ResetSupportContact(const Actor& a) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  const TimeMs now = clock_->now();
  Status st = store_->Write([&](Tx& tx) -> Status {
    auto cur = tx.GetSupportContact();
    if (!cur.ok()) return cur.status();
    if (!cur->has_value()) return Status::Ok();  // nothing saved: nothing to audit
    auto after = ContactView(std::nullopt);
    if (!after.ok()) return after.status();
    if (Status s = tx.DeleteSupportContact(); !s.ok()) return s;
    AuditRecord rec = AuditBase(a, std::nullopt, "SETTINGS_UPDATE", now);
    std::string changes = ContactChanges(**cur, after->contact);
    rec.detail = "support contact reset to the config file's" +
                 (changes.empty() ? std::string(": no change") : ": " + changes);
    return tx.AppendAudit(rec).status();
  });
  if (!st.ok()) return st;
  return ContactView(std::nullopt);
}

Result<std::map<std::string, int64_t>> Services::TokensPerKey() {
  std::map<std::string, int64_t> counts;
  Status st = store_->Read([&](Tx& tx) {
    return tx.ForEachToken([&](const TokenRecord& t, const OrgRecord&) { ++counts[t.key_id]; });
  });
  if (!st.ok()) return st;
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Provider: organizations.

Result<TokenView> Services::CreateOrg(const Actor& a, const std::string& name) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  if (!ValidName(name))
    return Status::Invalid("INVALID_NAME",
                           "An organization name is 1 to 200 bytes of printable UTF-8 text, "
                           "without leading or trailing spaces, control or bidirectional "
                           "formatting characters.");
  std::lock_guard<std::mutex> lock(write_mu_);
  const TimeMs now = clock_->now();
  TokenView view;
  OrgRecord org;
  Status st = store_->Write([&](Tx& tx) -> Status {
    org.name = name;
    org.created_at = now;
    auto id = tx.InsertOrg(org);
    if (!id.ok()) return id.status();
    org.id = *id;
    AuditRecord rec = AuditBase(a, org.id, "ORG_CREATE", now);
    rec.detail = name;
    auto aid = tx.AppendAudit(rec);
    if (!aid.ok()) return aid.status();
    return BuildView(tx, org, std::nullopt, a.caller, now, &view);
  });
  if (!st.ok()) return st;
  index_.PutOrg(StateOf(org, false));
  return view;
}

Result<store::OrgPage> Services::ListOrgs(const Actor& a, const std::string& search, int64_t offset,
                                          int64_t limit) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  store::OrgPage page;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.ListOrgs(search, offset, limit);
    if (!r.ok()) return r.status();
    page = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return page;
}

Result<store::OrgRowPage> Services::QueryOrgs(const Actor& a, const store::OrgQuery& q) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  store::OrgRowPage page;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.QueryOrgs(q);
    if (!r.ok()) return r.status();
    page = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return page;
}

Result<store::OrgOverviewRecord> Services::OrgOverview(const Actor& a, TimeMs now, int64_t day,
                                                       TimeMs expiring_before, int days,
                                                       int top_n) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  store::OrgOverviewRecord out;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.OrgOverview(now, day, expiring_before, days, top_n);
    if (!r.ok()) return r.status();
    out = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<std::map<OrgId, std::string>> Services::OrgNames(const Actor& a,
                                                        const std::vector<OrgId>& ids) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  std::map<OrgId, std::string> out;
  Status st = store_->Read([&](Tx& tx) -> Status {
    for (OrgId id : ids) {
      if (out.count(id)) continue;
      auto org = tx.GetOrg(id);
      if (org.ok())
        out[id] = org->name;
      else if (org.status().http_status() != 404)
        return org.status();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Result<TokenView> Services::PatchOrg(const Actor& a, OrgId org_id, const OrgPatch& p) {
  if (p.name && !ValidName(*p.name))
    return Status::Invalid("INVALID_NAME",
                           "An organization name is 1 to 200 bytes of printable UTF-8 text, "
                           "without leading or trailing spaces, control or bidirectional "
                           "formatting characters.");
  for (const auto* v :
       {&p.daily_allowance, &p.rate_per_second, &p.rate_per_hour, &p.disable_threshold}) {
    if (*v && (**v < 0 || **v > 1'000'000'000))
      return Status::Invalid("INVALID_SETTING",
                             "Quota settings are whole numbers from 0 to 1000000000.");
  }
  return Mutate(a, org_id, Action::kManageOrg, "ORG_UPDATE",
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>&, const domain::Decision&,
                    AuditRecord& rec, IndexUpdate&) -> Status {
                  // Each change as "key: old → new", separated by "; " (the console shows it).
                  std::string detail;
                  auto add = [&](const char* n, const std::string& from, const std::string& to) {
                    if (!detail.empty()) detail += "; ";
                    detail += std::string(n) + ": " + from + " \u2192 " + to;
                  };
                  if (p.name) {
                    if (*p.name != org.name) add("name", org.name, *p.name);
                    org.name = *p.name;
                  }
                  auto set = [&](const std::optional<int64_t>& v, int64_t& field, const char* n) {
                    if (!v) return;
                    if (*v != field) add(n, std::to_string(field), std::to_string(*v));
                    field = *v;
                  };
                  set(p.daily_allowance, org.daily_allowance, "dailyAllowance");
                  set(p.rate_per_second, org.rate_per_second, "ratePerSecond");
                  set(p.rate_per_hour, org.rate_per_hour, "ratePerHour");
                  set(p.disable_threshold, org.disable_threshold, "disableThreshold");
                  if (p.leak_policy) {
                    auto leak = tx.GetLeak(org.id);
                    if (!leak.ok()) return leak.status();
                    if (leak->policy != *p.leak_policy) {
                      add("leakPolicy", std::string(domain::ToString(leak->policy)),
                          std::string(domain::ToString(*p.leak_policy)));
                      leak->policy = *p.leak_policy;
                      if (Status s = tx.PutLeak(*leak); !s.ok()) return s;
                    }
                  }
                  rec.detail = detail;
                  return tx.UpdateOrg(org);
                });
}

Result<TokenView> Services::ChangeSubscription(const Actor& a, OrgId org_id, Action action,
                                               std::optional<TimeMs> ends_at) {
  const TimeMs now = clock_->now();
  if (action != Action::kActivate && action != Action::kExpire && action != Action::kRenew)
    return Status::Invalid("INVALID_ACTION", "The action is one of activate, expire, renew.");
  if (action == Action::kExpire && ends_at)
    return Status::Invalid("INVALID_END_DATE", "Expire takes no end date.");
  if (ends_at && *ends_at <= now)
    return Status::Invalid("INVALID_END_DATE", "The end date must be in the future.");
  const char* audit = action == Action::kActivate ? "SUBSCRIPTION_ACTIVATE"
                      : action == Action::kExpire ? "SUBSCRIPTION_EXPIRE"
                                                  : "SUBSCRIPTION_RENEW";
  return Mutate(a, org_id, action, audit,
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok,
                    const domain::Decision& d, AuditRecord& rec, IndexUpdate& u) -> Status {
                  if (action == Action::kExpire) {
                    org.subscription = domain::Subscription::kExpired;
                    org.ends_at = std::nullopt;
                  } else {
                    org.subscription = domain::Subscription::kActive;
                    org.ends_at = ends_at;
                  }
                  rec.detail = ends_at ? "endsAt=" + FormatIso8601(*ends_at) : "";
                  Status s = tx.UpdateOrg(org);
                  if (!s.ok()) return s;
                  if (d.provision_token) {
                    // Rule 2: the first activation provisions an enabled token, modified by
                    // "system".
                    TokenRecord t = NewToken(org.id, "system", now);
                    s = tx.InsertToken(t);
                    if (!s.ok()) return s;
                    AuditRecord prov =
                        AuditBase(Actor{"system", {Role::kProviderAdmin, std::nullopt}, "", false},
                                  org.id, "TOKEN_PROVISION", now);
                    prov.token_fp = t.last4;
                    auto pid = tx.AppendAudit(prov);
                    if (!pid.ok()) return pid.status();
                    u.PutToken(t);
                    tok = std::move(t);
                  }
                  u.state = StateOf(org, tok.has_value());
                  return Status::Ok();
                });
}

Result<TokenView> Services::DisableToken(const Actor& a, OrgId org_id, domain::DisableReason reason,
                                         const std::string& note) {
  if (note.size() > 1000)
    return Status::Invalid("INVALID_NOTE", "The note is at most 1000 characters.");
  return Mutate(a, org_id, Action::kDisable, "TOKEN_DISABLE",
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok,
                    const domain::Decision&, AuditRecord& rec, IndexUpdate& u) -> Status {
                  org.provider_disabled = true;
                  org.disable_reason = reason;
                  org.disable_note = note;
                  org.disabled_at = clock_->now();
                  org.disabled_by = a.name;
                  rec.detail = std::string(domain::ToString(reason));
                  Status s = tx.UpdateOrg(org);
                  if (!s.ok()) return s;
                  u.state = StateOf(org, tok.has_value());
                  return Status::Ok();
                });
}

Result<TokenView> Services::EnableToken(const Actor& a, OrgId org_id) {
  return Mutate(a, org_id, Action::kEnable, "TOKEN_ENABLE",
                [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok,
                    const domain::Decision&, AuditRecord&, IndexUpdate& u) -> Status {
                  org.provider_disabled = false;
                  org.disable_reason = domain::DisableReason::kOther;
                  org.disable_note.clear();
                  org.disabled_at = std::nullopt;
                  org.disabled_by.clear();
                  Status s = tx.UpdateOrg(org);
                  if (!s.ok()) return s;
                  u.state = StateOf(org, tok.has_value());
                  return Status::Ok();
                });
}

// ---------------------------------------------------------------------------------------------
// Leaked tokens (issue 20).

Actor Services::SecretScanning(std::string client_addr, std::string request_id) {
  Actor a{"secret-scanning", domain::Caller{Role::kProviderAdmin, std::nullopt},
          std::move(client_addr), false};
  a.request_id = std::move(request_id);
  return a;
}

Status Services::CheckLeakReport(const LeakReport& r) {
  if (!ValidReportText(r.url, 2000) || !ValidReportText(r.source, 200))
    return Status::Invalid("INVALID_LEAK_REPORT",
                           "The URL is at most 2000 and the source at most 200 bytes of printable "
                           "UTF-8 text.");
  return Status::Ok();
}

Result<LeakOutcome> Services::ReportLeak(const Actor& a, std::string_view token,
                                         const LeakReport& r) {
  if (Status st = CheckLeakReport(r); !st.ok()) return st;
  LeakOutcome out;
  // Malformed: no Sandgate token at all (nothing to look up).
  if (!token::Parse(token).ok()) return out;
  // A change another process committed (the CLI beside a server on SQLite) reaches the index
  // first, as it does before a submission.
  if (Status c = store_->CatchUp(); !c.ok()) return c;
  const TimeMs now = clock_->now();
  token::Verification v = index_.Verify(token, now);
  if (!v.org) return out;  // unknown, or already revoked
  const std::string hash = keys_->LookupHash(token);
  std::string action;
  std::string last4;
  auto res = Mutate(
      a, *v.org, Action::kReportLeak, "TOKEN_LEAKED",
      [&](Tx& tx, OrgRecord& org, std::optional<TokenRecord>& tok, const domain::Decision& d,
          AuditRecord& rec, IndexUpdate& u) -> Status {
        // The index said this organization; the store decides: the token must still be its.
        if (!tok || tok->lookup_hash.size() != hash.size() ||
            sodium_memcmp(tok->lookup_hash.data(), hash.data(), hash.size()) != 0)
          return Status::NotFound("TOKEN_NOT_FOUND", "The token is not live.");
        action = d.revoke_token ? "REVOKED" : "NOTIFIED";
        last4 = tok->last4;
        if (d.revoke_token) {
          if (Status s = tx.DeleteToken(org.id); !s.ok()) return s;
          u.token_op = IndexUpdate::TokenOp::kRemove;
          tok.reset();
        }
        auto leak = tx.GetLeak(org.id);
        if (!leak.ok()) return leak.status();
        store::LeakRecord l = std::move(leak).value();
        l.reported_at = now;
        l.url = r.url;
        l.source = r.source;
        l.action = action;
        l.token_last4 = last4;
        if (Status s = tx.PutLeak(l); !s.ok()) return s;
        rec.detail = action + "; url " + r.url + "; source " + r.source;
        return notify::EnqueueLeak(tx, org, rec.actor, l, now);
      },
      /*audit_refusal=*/false);
  if (!res.ok()) {
    // Gone between the index lookup and the transaction: the same as unknown.
    if (res.status().code() == "TOKEN_NOT_FOUND") return out;
    return res.status();
  }
  out.live = true;
  out.action = action;
  out.org = v.org;
  out.last4 = last4;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Provider: users.

Status Services::CheckUserAccess(const Actor& a, std::optional<OrgId> org, Tx& tx,
                                 std::optional<UserId> user, store::UserRecord* out) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  if (org) {
    auto o = tx.GetOrg(*org);
    if (!o.ok()) return o.status().http_status() == 404 ? NotFound() : o.status();
  }
  if (user) {
    auto u = tx.GetUser(*user);
    if (!u.ok()) return u.status().http_status() == 404 ? NotFound() : u.status();
    if (u->org_id != org) return NotFound();
    if (out) *out = u.value();
  }
  return Status::Ok();
}

Result<std::pair<store::UserRecord, std::string>> Services::CreateUser(const Actor& a,
                                                                       const NewUser& nu) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  if (!ValidUsername(nu.username))
    return Status::Invalid(
        "INVALID_USERNAME",
        "A username is 2 to 64 characters: letters, digits, '.', '_', '-', '@'.");
  if (auto r = ReservedUsername(nu.username, nu.role == Role::kProviderAdmin))
    return Status::Invalid(
        "INVALID_USERNAME",
        "The username '" + *r + "' is reserved: the audit trail uses it for actions no user took.");
  if (nu.org.has_value() == (nu.role == Role::kProviderAdmin))
    return Status::Invalid("INVALID_ROLE",
                           "Organization users are ORG_ADMIN or ORG_READONLY; provider admins "
                           "belong to no organization.");
  std::string password = nu.password.empty() ? token::RandomPassword() : nu.password;
  std::string why;
  if (!token::PasswordAcceptable(password, &why)) return Status::Invalid("WEAK_PASSWORD", why);
  store::UserRecord u;
  u.username = nu.username;
  u.password_hash = token::HashPassword(password);  // slow (argon2id): outside the lock
  u.role = nu.role;
  u.org_id = nu.org;
  std::lock_guard<std::mutex> lock(write_mu_);
  u.created_at = clock_->now();
  Status st = store_->Write([&](Tx& tx) -> Status {
    Status s = CheckUserAccess(a, nu.org, tx, std::nullopt, nullptr);
    if (!s.ok()) return s;
    auto id = tx.InsertUser(u);
    if (!id.ok()) return id.status();
    u.id = *id;
    AuditRecord rec = AuditBase(a, nu.org, "USER_CREATE", u.created_at);
    rec.detail = u.username + " " + std::string(domain::ToString(u.role));
    return tx.AppendAudit(rec).status();
  });
  if (!st.ok()) return st;
  return std::make_pair(u, password);
}

Result<std::vector<store::UserRecord>> Services::ListUsers(const Actor& a,
                                                           std::optional<OrgId> org) {
  std::vector<store::UserRecord> users;
  Status st = store_->Read([&](Tx& tx) -> Status {
    Status s = CheckUserAccess(a, org, tx, std::nullopt, nullptr);
    if (!s.ok()) return s;
    auto r = tx.ListUsers(org);
    if (!r.ok()) return r.status();
    users = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return users;
}

Result<store::UserRecord> Services::ChangeRole(const Actor& a, std::optional<OrgId> org,
                                               UserId user, Role role) {
  if ((role == Role::kProviderAdmin) != !org.has_value())
    return Status::Invalid("INVALID_ROLE",
                           "Organization users are ORG_ADMIN or ORG_READONLY; provider admins "
                           "belong to no organization.");
  std::lock_guard<std::mutex> lock(write_mu_);
  store::UserRecord u;
  Status st = store_->Write([&](Tx& tx) -> Status {
    Status s = CheckUserAccess(a, org, tx, user, &u);
    if (!s.ok()) return s;
    u.role = role;
    s = tx.UpdateUser(u);
    if (!s.ok()) return s;
    s = tx.DeleteSessionsOfUser(u.id);  // a role change takes effect at once
    if (!s.ok()) return s;
    AuditRecord rec = AuditBase(a, org, "USER_ROLE_CHANGE", clock_->now());
    rec.detail = u.username + " " + std::string(domain::ToString(role));
    return tx.AppendAudit(rec).status();
  });
  if (!st.ok()) return st;
  return u;
}

Result<std::string> Services::ResetPassword(const Actor& a, std::optional<OrgId> org, UserId user,
                                            const std::string& pw) {
  std::string password = pw.empty() ? token::RandomPassword() : pw;
  std::string why;
  if (!token::PasswordAcceptable(password, &why)) return Status::Invalid("WEAK_PASSWORD", why);
  std::string hash = token::HashPassword(password);
  std::lock_guard<std::mutex> lock(write_mu_);
  Status st = store_->Write([&](Tx& tx) -> Status {
    store::UserRecord u;
    Status s = CheckUserAccess(a, org, tx, user, &u);
    if (!s.ok()) return s;
    u.password_hash = hash;
    s = tx.UpdateUser(u);
    if (!s.ok()) return s;
    s = tx.DeleteSessionsOfUser(u.id);
    if (!s.ok()) return s;
    AuditRecord rec = AuditBase(a, org, "USER_PASSWORD_RESET", clock_->now());
    rec.detail = u.username;
    return tx.AppendAudit(rec).status();
  });
  if (!st.ok()) return st;
  return password;
}

Status Services::DeleteUser(const Actor& a, std::optional<OrgId> org, UserId user) {
  std::lock_guard<std::mutex> lock(write_mu_);
  return store_->Write([&](Tx& tx) -> Status {
    store::UserRecord u;
    Status s = CheckUserAccess(a, org, tx, user, &u);
    if (!s.ok()) return s;
    s = tx.DeleteUser(u.id);
    if (!s.ok()) return s;
    AuditRecord rec = AuditBase(a, org, "USER_DELETE", clock_->now());
    rec.detail = u.username;
    return tx.AppendAudit(rec).status();
  });
}

Result<std::vector<AuditRecord>> Services::ListAudit(const Actor& a, store::AuditFilter f) {
  const bool provider = a.caller.role == Role::kProviderAdmin;
  if (!provider) {
    if (!a.caller.org_id) return NotFound();
    f.org_id = a.caller.org_id;  // organization users see their own organization only
    // Read-only users may not read it (domain rule); the refusal is audited like the others.
    domain::OrgState st;
    st.org_id = *a.caller.org_id;
    domain::Decision d = domain::Decide(st, a.caller, domain::Action::kReadAudit, clock_->now());
    if (!d.allowed()) {
      Audit(a, a.caller.org_id, "AUDIT_READ", d.status.code());
      return d.status;
    }
  }
  std::vector<AuditRecord> out;
  Status st = store_->Read([&](Tx& tx) -> Status {
    auto r = tx.ListAudit(f);
    if (!r.ok()) return r.status();
    out = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  // What the organization sees of the provider's side matches its token page, which says that
  // and why the provider disabled the token but not who or from where: provider records (a
  // provider admin, the CLI, the system's threshold) show the actor "provider", no address.
  if (!provider) {
    for (AuditRecord& r : out) {
      if (r.actor == "secret-scanning" && r.actor_role == "SYSTEM") {
        r.client_addr.clear();  // a leak report (issue 20): the organization sees who acted
        continue;
      }
      if (r.actor_role == "PROVIDER_ADMIN" || r.actor_role == "SYSTEM") {
        r.actor = "provider";
        r.actor_role = "PROVIDER";
        r.client_addr.clear();
      }
    }
  }
  return out;
}

}  // namespace sandgate::service
