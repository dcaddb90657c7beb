// Sandgate's metrics (the catalogue; README "Operating Sandgate" lists them). Call sites count
// through the helpers below, which do nothing when metrics are off (`serve --metrics off`).
// Every series is created at first use of M() and reached through a plain pointer afterwards.
#pragma once

#include <string_view>

#include "domain/model.h"
#include "metrics/registry.h"

namespace sandgate::metrics {

enum class TokenOutcome { kAccepted, kInvalid, kDisabled, kExpired, kThrottled, kCount };
enum class TokenChange { kAdd, kRegenerate, kDelete, kReveal, kDisable, kEnable, kCount };
enum class QuotaKind { kDaily, kPerSecond, kPerHour, kCount };
enum class Stage { kHash, kFileType, kClamav, kYara, kCount };
enum class TxKind { kRead, kWrite, kGroupCommit, kCount };
enum class Cap { kTotal, kPerAddress, kCount };

struct Catalog {
  Catalog();
  Gauge* http_in_flight;
  Gauge* http_connections_open;
  Counter* http_connections_refused[static_cast<int>(Cap::kCount)];
  Counter* http_tls_handshake_failures;
  Counter* token_verifications[static_cast<int>(TokenOutcome::kCount)];
  Counter* token_changes[static_cast<int>(TokenChange::kCount)];
  Counter* token_threshold_disables;
  Counter* quota_refusals[static_cast<int>(QuotaKind::kCount)];
  Counter* quota_over_attempts;
  Counter* submission_bytes;
  Histogram* stage_duration[static_cast<int>(Stage::kCount)];
  Counter* analysis_queue_full;
  Histogram* store_tx_duration[static_cast<int>(TxKind::kCount)];
  Counter* store_tx_failures[static_cast<int>(TxKind::kCount)];
  Histogram* group_commit_batch;
  Gauge* store_follower_lag;
  Histogram* store_propagation_wait;
};

// The catalogue in Global(), registered on first call.
Catalog& M();
// Registers every series of the catalogue now (so that each exists, at 0, from the first scrape).
void RegisterAll();

inline void CountTokenVerification(TokenOutcome o) {
  if (Enabled()) M().token_verifications[static_cast<int>(o)]->Inc();
}
inline void CountTokenChange(TokenChange c) {
  if (Enabled()) M().token_changes[static_cast<int>(c)]->Inc();
}
inline void CountQuotaRefusal(QuotaKind k) {
  if (Enabled()) {
    M().quota_refusals[static_cast<int>(k)]->Inc();
    M().quota_over_attempts->Inc();
  }
}
// A carried-out token action: add, regenerate, delete, reveal, disable, enable (others: nothing).
void CountTokenAction(domain::Action a);
inline Histogram* PropagationTimer() { return Enabled() ? M().store_propagation_wait : nullptr; }
inline Histogram* StageTimer(Stage s) {
  return Enabled() ? M().stage_duration[static_cast<int>(s)] : nullptr;
}
inline Histogram* TxTimer(TxKind k) {
  return Enabled() ? M().store_tx_duration[static_cast<int>(k)] : nullptr;
}
// The outcome of this process's last store write (for /readyz), kept even with metrics off:
// 1 succeeded, 0 failed (an I/O or availability error), -1 none yet.
void NoteStoreWrite(bool ok);
int LastStoreWrite();
inline void CountTxFailure(TxKind k) {
  if (Enabled()) M().store_tx_failures[static_cast<int>(k)]->Inc();
}

// Submissions by endpoint ("submit", "discan") and result: "accepted" or a refusal reason
// (invalid_token, token_disabled, subscription_expired, throttled, quota, rate, too_large, empty,
// bad_request, queue_full, spool_unavailable, unavailable, client_gone, analysis_failed, other).
void CountSubmission(std::string_view endpoint, std::string_view result);
// Verdicts of accepted submissions by class ("Virus", "Submitted", "Malicious", ...; a bounded set
// from analysis::Classify, anything else counts as "other").
void CountVerdict(std::string_view verdict);

}  // namespace sandgate::metrics
