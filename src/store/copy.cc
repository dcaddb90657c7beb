// CopyStore (store/store.h): every row of one store into another, through the Store interface only,
// so any pair of backends works (SQLite -> PostgreSQL to move an installation, and back).
#include <string>

#include "store/store.h"

namespace sandgate::store {

Status CopyStore(Store& from, Store& to,
                 const std::function<void(const std::string& table, int64_t rows)>& progress) {
  auto told = [&](const char* table, int64_t n) {
    if (progress) progress(table, n);
  };
  // One snapshot of the source inside one transaction on the target: all or nothing.
  return to.Write([&](Tx& out) -> Status {
    auto users = out.CountUsers();
    if (!users.ok()) return users.status();
    auto orgs = out.ListOrgs("", 0, 1);
    if (!orgs.ok()) return orgs.status();
    AuditFilter one;
    one.limit = 1;
    auto audit = out.ListAudit(one);
    if (!audit.ok()) return audit.status();
    if (*users > 0 || orgs->total > 0 || !audit->empty()) {
      return Status::Conflict("STORE_NOT_EMPTY",
                              "the target store already holds data; copy into an empty one");
    }
    return from.Read([&](Tx& in) -> Status {
      int64_t n = 0;
      Status st = in.ForEachOrg([&](const OrgRecord& o) {
        ++n;
        return out.RestoreOrg(o);
      });
      if (!st.ok()) return st;
      told("orgs", n);

      n = 0;
      st = in.ForEachToken([&](const TokenRecord& t, const OrgRecord&) {
        if (!st.ok()) return;
        ++n;
        st = out.InsertToken(t);
      });
      if (!st.ok()) return st;
      told("tokens", n);

      n = 0;
      st = in.ForEachUser([&](const UserRecord& u) {
        ++n;
        return out.RestoreUser(u);
      });
      if (!st.ok()) return st;
      told("users", n);

      n = 0;
      st = in.ForEachSession([&](const SessionRecord& s) {
        ++n;
        return out.InsertSession(s);
      });
      if (!st.ok()) return st;
      told("sessions", n);

      n = 0;
      st = in.ForEachUsage([&](const UsageRecord& u) {
        ++n;
        return out.RestoreUsage(u);
      });
      if (!st.ok()) return st;
      told("usage", n);

      n = 0;
      st = in.ForEachReport([&](const ReportRecord& r) {
        ++n;
        return out.PutReport(r);
      });
      if (!st.ok()) return st;
      told("reports", n);

      n = 0;
      st = in.ForEachAudit([&](const AuditRecord& r) {
        ++n;
        return out.RestoreAudit(r);
      });
      if (!st.ok()) return st;
      told("audit", n);

      n = 0;
      st = in.ForEachLeak([&](const LeakRecord& r) {
        ++n;
        return out.PutLeak(r);
      });
      if (!st.ok()) return st;
      told("leak_reports", n);

      // Webhooks (issue 20): the endpoints (their secrets' seeds: the same key file signs) and
      // the whole outbox, so undelivered events are delivered from the target and the delivery
      // history stays; claims are not carried (nobody is delivering on the target yet).
      n = 0;
      st = in.ForEachWebhookEndpoint([&](const WebhookEndpoint& e) {
        ++n;
        return out.RestoreWebhookEndpoint(e);
      });
      if (!st.ok()) return st;
      told("webhook_endpoints", n);

      n = 0;
      st = in.ForEachOutbox([&](const OutboxMessage& m) {
        ++n;
        return out.RestoreOutbox(m);
      });
      if (!st.ok()) return st;
      told("webhook_outbox", n);

      auto contact = in.GetSupportContact();
      if (!contact.ok()) return contact.status();
      if (contact->has_value()) {
        if (Status s = out.PutSupportContact(**contact); !s.ok()) return s;
      }
      told("support_contact", contact->has_value() ? 1 : 0);
      return Status::Ok();
    });
  });
}

}  // namespace sandgate::store
