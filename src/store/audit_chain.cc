#include "store/audit_chain.h"

#include <sodium.h>

#include <cstdint>

namespace sandgate::store {
namespace {

void AddInt(crypto_generichash_state* st, int64_t v) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i)
    b[i] = static_cast<unsigned char>(static_cast<uint64_t>(v) >> (8 * i));
  crypto_generichash_update(st, b, sizeof b);
}

void AddText(crypto_generichash_state* st, std::string_view s) {
  AddInt(st, static_cast<int64_t>(s.size()));
  crypto_generichash_update(st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

std::string Hex(std::string_view b) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

}  // namespace

std::string AuditChainGenesis() { return std::string(kAuditChainBytes, '\0'); }

std::string AuditChainHash(std::string_view key, std::string_view prev_chain,
                           const AuditRecord& r) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                          kAuditChainBytes);
  AddText(&st, prev_chain);
  AddInt(&st, r.id);
  AddInt(&st, r.ts);
  AddText(&st, r.actor);
  AddText(&st, r.actor_role);
  AddInt(&st, r.org_id ? 1 : 0);
  AddInt(&st, r.org_id.value_or(0));
  AddText(&st, r.action);
  AddText(&st, r.outcome);
  AddText(&st, r.client_addr);
  AddText(&st, r.token_fp);
  AddText(&st, r.detail);
  // Chained when present, so records written before request ids hash as they always did.
  if (!r.request_id.empty()) AddText(&st, r.request_id);
  std::string out(kAuditChainBytes, '\0');
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

Result<int64_t> AppendChainedAudit(const AuditRecord& r, std::string_view key,
                                   const AuditAppendSteps& steps) {
  AuditRecord rec = r;
  auto last = steps.read_last_chain();
  if (!last.ok()) return last.status();
  rec.prev_chain = last->empty() ? AuditChainGenesis() : *std::move(last);
  auto id = steps.insert(rec);
  if (!id.ok()) return id.status();
  rec.id = *id;
  if (Status st = steps.set_chain(rec.id, AuditChainHash(key, rec.prev_chain, rec)); !st.ok())
    return st;
  return rec.id;
}

Result<AuditChainReport> VerifyAuditChain(Store& store, std::string_view key) {
  AuditChainReport rep;
  std::string prev;  // the stored chain of the previous record ("" before the first chained one)
  bool chained = false;
  Status st = store.Read([&](Tx& tx) {
    return tx.ForEachAudit([&](const AuditRecord& r) {
      rep.records++;
      rep.head_id = r.id;
      rep.head_chain = Hex(r.chain);
      const std::string id = std::to_string(r.id);
      if (r.chain.empty() && r.prev_chain.empty()) {
        if (!chained) {
          rep.unchained++;  // written before the chain existed
        } else {
          rep.problems.push_back("record " + id +
                                 " has no chain value: it was inserted outside Sandgate");
        }
        return Status::Ok();
      }
      const std::string expected_prev = chained ? prev : AuditChainGenesis();
      if (r.prev_chain != expected_prev) {
        rep.problems.push_back(
            chained ? "record " + id +
                          " does not follow the record before it: records were deleted or "
                          "reordered just before it"
                    : "record " + id +
                          " is the oldest chained record but does not start the chain: older "
                          "records were deleted");
      }
      if (AuditChainHash(key, r.prev_chain, r) != r.chain) {
        rep.problems.push_back("record " + id + " was modified (its content or id changed)");
      }
      chained = true;
      prev = r.chain;
      return Status::Ok();
    });
  });
  if (!st.ok()) return st;
  return rep;
}

}  // namespace sandgate::store
