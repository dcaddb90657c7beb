#include <optional>

#include "common/ascii.h"
#include "service/services.h"
#include "service/services_internal.h"
#include "token/password.h"

// Services: the provider's users (create, list, role, password reset, delete).
namespace sandgate::service {

using domain::Role;
using internal::NotFound;
using store::AuditRecord;
using store::Tx;

namespace {

bool ValidUsername(const std::string& name) {
  if (name.size() < 2 || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '@';
    if (!ok) return false;
  }
  return true;
}

// Actor names the audit trail uses for what no user did: a user by that name (any letter case)
// could pass for them. `provider` is what organizations see for every provider record, so only
// provider admins may bear it (the demo's first admin does).
std::optional<std::string> ReservedUsername(const std::string& name, bool provider_admin) {
  const std::string folded = AsciiLower(name);
  for (const char* r : {"system", "cli", "secret-scanning"})
    if (folded == r) return std::string(r);
  if (folded == "provider" && !provider_admin) return folded;
  return std::nullopt;
}

}  // namespace

Status Services::CheckUserAccess(const Actor& a, std::optional<OrgId> org, Tx& tx,
                                 std::optional<UserId> user, store::UserRecord* out) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  if (org) {
    auto o = tx.GetOrg(*org);
    if (!o.ok()) return o.status().IsNotFound() ? NotFound() : o.status();
  }
  if (user) {
    auto u = tx.GetUser(*user);
    if (!u.ok()) return u.status().IsNotFound() ? NotFound() : u.status();
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

}  // namespace sandgate::service
