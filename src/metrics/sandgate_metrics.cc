#include "metrics/sandgate_metrics.h"

#include <array>
#include <string>

namespace sandgate::metrics {

namespace {

constexpr std::array<const char*, 15> kSubmissionResults = {
    "accepted",    "invalid_token", "token_disabled", "subscription_expired",
    "throttled",   "quota",         "rate",           "too_large",
    "empty",       "bad_request",   "queue_full",     "spool_unavailable",
    "unavailable", "client_gone",   "analysis_failed"};
constexpr std::array<const char*, 6> kVerdicts = {"Virus",   "Suspicious", "Clean",
                                                  "Unknown", "Submitted",  "other"};

struct Submissions {
  // [endpoint][result]; "other" is the last result.
  Counter* by_result[2][kSubmissionResults.size() + 1];
  Counter* verdicts[kVerdicts.size()];
};

Submissions& S() {
  static Submissions* s = [] {
    auto* out = new Submissions();
    Registry& r = Global();
    const char* endpoints[2] = {"submit", "discan"};
    for (int e = 0; e < 2; ++e) {
      for (size_t i = 0; i <= kSubmissionResults.size(); ++i) {
        const char* result = i < kSubmissionResults.size() ? kSubmissionResults[i] : "other";
        out->by_result[e][i] = &r.GetCounter(
            "sandgate_submissions_total",
            "Submission API requests by endpoint and result (accepted or the refusal reason).",
            {{"endpoint", endpoints[e]}, {"result", result}});
      }
    }
    for (size_t i = 0; i < kVerdicts.size(); ++i)
      out->verdicts[i] =
          &r.GetCounter("sandgate_submission_verdicts_total",
                        "Verdicts of analysed submissions by class (final: after the rules).",
                        {{"verdict", kVerdicts[i]}});
    return out;
  }();
  return *s;
}

}  // namespace

Catalog::Catalog() {
  Registry& r = Global();
  http_in_flight = &r.GetGauge("sandgate_http_requests_in_flight",
                               "HTTP requests being served (header read, response not yet sent).");
  http_connections_open =
      &r.GetGauge("sandgate_http_connections_open", "Open client connections, all listeners.");
  const char* caps[] = {"total", "per_address"};
  for (int i = 0; i < static_cast<int>(Cap::kCount); ++i)
    http_connections_refused[i] = &r.GetCounter(
        "sandgate_http_connections_refused_total",
        "Connections closed unread because a connection cap was reached.", {{"cap", caps[i]}});
  http_tls_handshake_failures = &r.GetCounter(
      "sandgate_http_tls_handshake_failures_total",
      "TLS handshakes that failed (not TLS, old protocol, no shared cipher, too slow).");
  const char* outcomes[] = {"accepted", "invalid", "disabled", "expired", "throttled"};
  for (int i = 0; i < static_cast<int>(TokenOutcome::kCount); ++i)
    token_verifications[i] = &r.GetCounter(
        "sandgate_token_verifications_total",
        "Submission API token verifications by outcome (throttled: refused before verifying).",
        {{"outcome", outcomes[i]}});
  const char* actions[] = {"add", "regenerate", "delete", "reveal", "disable", "enable"};
  for (int i = 0; i < static_cast<int>(TokenChange::kCount); ++i)
    token_changes[i] = &r.GetCounter("sandgate_token_changes_total",
                                     "Token changes and reveals that were carried out, by action.",
                                     {{"action", actions[i]}});
  token_threshold_disables =
      &r.GetCounter("sandgate_token_threshold_disables_total",
                    "Tokens disabled because over-quota attempts crossed the threshold.");
  const char* kinds[] = {"daily", "per_second", "per_hour"};
  for (int i = 0; i < static_cast<int>(QuotaKind::kCount); ++i)
    quota_refusals[i] =
        &r.GetCounter("sandgate_quota_refusals_total",
                      "Submissions refused with 429 by the quota, by limit.", {{"kind", kinds[i]}});
  quota_over_attempts =
      &r.GetCounter("sandgate_quota_over_attempts_total",
                    "Over-quota attempts (what the disable threshold counts), all organizations.");
  submission_bytes = &r.GetCounter("sandgate_submission_received_bytes_total",
                                   "Bytes of submitted files received (after gzip decoding).");
  const char* stages[] = {"hashing", "file_type", "clamav", "yara"};
  for (int i = 0; i < static_cast<int>(Stage::kCount); ++i)
    stage_duration[i] = &r.GetHistogram("sandgate_analysis_stage_duration_seconds",
                                        "Time spent per analysis engine stage, per file.",
                                        DurationBuckets(), {{"stage", stages[i]}});
  analysis_queue_full =
      &r.GetCounter("sandgate_analysis_queue_full_total",
                    "Submissions answered 503 because the rule-analysis queue was full.");
  const char* tx[] = {"read", "write", "group_commit"};
  for (int i = 0; i < static_cast<int>(TxKind::kCount); ++i) {
    store_tx_duration[i] =
        &r.GetHistogram("sandgate_store_transaction_duration_seconds",
                        "Store transaction time by kind (write includes the commit and its fsync).",
                        DurationBuckets(), {{"kind", tx[i]}});
  }
  for (int i = 0; i < static_cast<int>(TxKind::kCount); ++i)
    store_tx_failures[i] =
        &r.GetCounter("sandgate_store_transaction_failures_total",
                      "Store transactions that failed (I/O, unavailable).", {{"kind", tx[i]}});
  group_commit_batch = &r.GetHistogram(
      "sandgate_store_group_commit_batch_size",
      "Accepted submissions recorded per group-commit transaction.", {1, 2, 4, 8, 16, 32, 64});
  store_follower_lag = &r.GetGauge(
      "sandgate_store_follower_lag_entries",
      "PostgreSQL: change-log entries committed by other nodes and not yet applied here.");
  store_propagation_wait = &r.GetHistogram(
      "sandgate_store_propagation_wait_seconds",
      "PostgreSQL: time a change waited for the other nodes to apply it.", DurationBuckets());
}

Catalog& M() {
  static Catalog* c = new Catalog();  // never destroyed: threads may count until exit
  return *c;
}

namespace {
std::atomic<int> g_last_store_write{-1};
}  // namespace

void NoteStoreWrite(bool ok) { g_last_store_write.store(ok ? 1 : 0, std::memory_order_relaxed); }
int LastStoreWrite() { return g_last_store_write.load(std::memory_order_relaxed); }

void RegisterAll() {
  M();
  S();
}

void CountSubmission(std::string_view endpoint, std::string_view result) {
  if (!Enabled()) return;
  const int e = endpoint == "discan" ? 1 : 0;
  size_t i = 0;
  while (i < kSubmissionResults.size() && result != kSubmissionResults[i]) ++i;
  S().by_result[e][i]->Inc();
}

void CountTokenAction(domain::Action a) {
  using domain::Action;
  switch (a) {
    case Action::kAdd:
      return CountTokenChange(TokenChange::kAdd);
    case Action::kRegenerate:
      return CountTokenChange(TokenChange::kRegenerate);
    case Action::kDelete:
      return CountTokenChange(TokenChange::kDelete);
    case Action::kReveal:
      return CountTokenChange(TokenChange::kReveal);
    case Action::kDisable:
      return CountTokenChange(TokenChange::kDisable);
    case Action::kEnable:
      return CountTokenChange(TokenChange::kEnable);
    default:
      return;
  }
}

void CountVerdict(std::string_view verdict) {
  if (!Enabled()) return;
  size_t i = 0;
  while (i + 1 < kVerdicts.size() && verdict != kVerdicts[i]) ++i;
  S().verdicts[i]->Inc();
}

}  // namespace sandgate::metrics
