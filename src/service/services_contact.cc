#include "service/services.h"
#include "service/services_internal.h"

// Services: the provider's support contact (SupportContactView).
namespace sandgate::service {

using domain::Role;
using internal::NotFound;
using store::AuditRecord;
using store::Tx;

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

Result<std::shared_ptr<const SupportContactView>> Services::SupportContact() {
  using View = std::shared_ptr<const SupportContactView>;
  const auto stamp = store_->ChangeStamp();
  return contact_cache_.GetOrRead(stamp, 0, [&]() -> Result<View> {
    std::optional<store::SupportContactRecord> saved;
    Status st = store_->Read([&](Tx& tx) -> Status {
      auto c = tx.GetSupportContact();
      if (!c.ok()) return c.status();
      saved = std::move(c).value();
      return Status::Ok();
    });
    if (!st.ok()) return st;
    auto v = ContactView(saved);
    if (!v.ok()) return v.status();
    return View(std::make_shared<SupportContactView>(std::move(v).value()));
  });
}

Result<SupportContactView> Services::ProviderSupportContact(const Actor& a) {
  if (a.caller.role != Role::kProviderAdmin) return NotFound();
  auto v = SupportContact();
  if (!v.ok()) return v.status();
  return *v.value();
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

}  // namespace sandgate::service
