// The tamper-evident audit trail: every audit record carries the chain value of the record before
// it (prev_chain) and its own chain value
//     chain = BLAKE2b-256(key, prev_chain || id || ts || every other field, length-prefixed)
// computed by the store's AppendAudit inside the write transaction (writes are serialised, so the
// chain is linear). The key is derived from the key file (Keyring::Mac("audit-chain")), so someone
// who can edit the database but not read the key file cannot forge a consistent chain.
// VerifyAuditChain walks the trail in id order and names every record that was modified, deleted
// (the next record's prev_chain no longer matches) or reordered. Deleting the newest records
// leaves a consistent shorter chain: compare the printed head with one recorded elsewhere.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace sandgate::store {

inline constexpr size_t kAuditChainBytes = 32;

// The chain value of `r` (its id and fields) after `prev_chain`. `key` may be empty (unkeyed).
std::string AuditChainHash(std::string_view key, std::string_view prev_chain, const AuditRecord& r);

// The chain value before the first record.
std::string AuditChainGenesis();

// Tx::AppendAudit, the same steps on both backends (inside the write transaction).
// `read_last_chain`: the newest record's chain ("" when there is none or it is unchained).
// `insert`: stores the record's data columns and its prev_chain, answers the id assigned.
// `set_chain`: stores the chain value of record `id`.
struct AuditAppendSteps {
  std::function<Result<std::string>()> read_last_chain;
  std::function<Result<int64_t>(const AuditRecord& with_prev_chain)> insert;
  std::function<Status(int64_t id, const std::string& chain)> set_chain;
};
// Appends `r` after the newest record, chained under `key`; answers its id or the first error.
Result<int64_t> AppendChainedAudit(const AuditRecord& r, std::string_view key,
                                   const AuditAppendSteps& steps);

struct AuditChainReport {
  int64_t records = 0;    // records read
  int64_t unchained = 0;  // leading records written before the chain existed (schema upgrade)
  int64_t head_id = 0;    // the newest record
  std::string head_chain;
  std::vector<std::string> problems;  // one sentence per finding, naming the record id
};

// Reads the whole trail in one snapshot. Returns the store's error only if it cannot be read.
Result<AuditChainReport> VerifyAuditChain(Store& store, std::string_view key);

}  // namespace sandgate::store
