// The Sandbox Submission API (wire-compatible with Zscaler's csbapi host):
//   POST /zscsb/submit?api_token=TOKEN&force=0|1   raw file body; AV verdict now, rules queued
//   POST /zscsb/discan?api_token=TOKEN             raw file body; the whole scan, synchronously
// Order of checks per request: invalid-token throttle per client address (429) -> token (401/403,
// from the in-memory index, no database) -> quota and rate (429 + X-RateLimit-*; over-quota
// attempts past the threshold disable the token) -> size (413 before the body is read) -> the body
// streams through hashing into a spool file (constant memory) -> analysis -> one store transaction
// records the report and the usage. A client that goes away consumes no quota and leaves no file.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "analysis/engine.h"
#include "auth/login_throttle.h"
#include "auth/shared_throttle.h"
#include "http/router.h"
#include "quota/quota.h"
#include "service/services.h"
#include "store/group_commit.h"
#include "store/stamped_cache.h"

namespace sandgate::submission {

struct SubmissionOptions {
  std::string spool_dir;                // required; created if missing
  uint64_t submit_limit = 50ull << 20;  // bytes (after gzip decoding too)
  // Bodies up to this size (known from Content-Length, not gzip-encoded) are kept in memory (a
  // memfd) instead of a spool file (issue 19, target 3).
  uint64_t memory_body_limit = 1ull << 20;
  uint64_t discan_limit = 400ull << 20;
  size_t static_workers = 2;     // rule-analysis threads
  size_t static_queue = 64;      // queued jobs beyond which submit answers 503
  int invalid_token_limit = 20;  // invalid tokens per client address per minute, then 429 for 5 min
};

class SubmissionService {
 public:
  SubmissionService(service::Services& services, analysis::EngineHolder& engines,
                    SubmissionOptions options);
  ~SubmissionService();  // finishes queued analyses, joins the workers

  void Register(http::Router& router);
  quota::QuotaManager& quota() { return quota_; }

  // The stored report of `md5` (any case) submitted by `org`, if any.
  Result<std::optional<store::ReportRecord>> Report(domain::OrgId org, const std::string& md5);
  // Analyses waiting for a rule worker (sandgate_analysis_queue_depth).
  size_t queue_depth();
  size_t queue_capacity() const { return opt_.static_queue; }
  bool engine_loaded() const { return engines_.Get() != nullptr; }
  const std::string& spool_dir() const { return opt_.spool_dir; }
  // Waits until the static-analysis queue is empty (tests, shutdown).
  void Drain();

 private:
  struct Job {
    domain::OrgId org;
    std::string md5;
    std::string path;           // spool file, removed by the job
    std::string filename = {};  // the client's name for the file (YARA externals), may be empty
    // An in-memory body's bytes (the rules scan them there); empty for a spooled one.
    std::string content = {};
    // The report as the submission stored it (INPROGRESS): the rules complete this record, so
    // the worker does not read it back from the store (issue 19, target 6).
    store::ReportRecord record = {};
  };
  boost::asio::awaitable<http::Response> Handle(const http::RequestHeader& h,
                                                http::RequestContext& ctx, http::BodyReader& body,
                                                bool discan);
  Result<quota::Limits> LimitsFor(domain::OrgId org);
  void OnOverQuota(domain::OrgId org, const quota::Admission& a, const std::string& request_id);
  // The 429 for a refused admission, after OnOverQuota has run on the blocking pool.
  boost::asio::awaitable<http::Response> OverQuota(boost::asio::thread_pool& blocking,
                                                   domain::OrgId org, quota::Admission refused,
                                                   std::string request_id);
  bool TryEnqueue(Job job);
  void Worker();
  // The report of `job` completed with the rule findings, to be stored by the caller; nothing
  // when the report is gone.
  std::optional<store::ReportRecord> RunStatic(const Job& job);

  service::Services& services_;
  analysis::EngineHolder& engines_;
  SubmissionOptions opt_;
  // The usage loader's reads, per organization and day, while the store is unchanged. Declared
  // before quota_, whose loader uses it.
  struct UsageKey {
    domain::OrgId org;
    int64_t day;
    bool operator==(const UsageKey&) const = default;
  };
  struct UsageKeyHash {
    size_t operator()(const UsageKey& k) const {
      return std::hash<int64_t>()(k.org) * 31 + std::hash<int64_t>()(k.day);
    }
  };
  store::StampedCache<UsageKey, std::pair<int64_t, int64_t>, UsageKeyHash> usage_cache_{65536};
  quota::QuotaManager quota_;
  auth::LoginThrottle invalid_tokens_;  // per client address
  // Several nodes: the same throttle counted across the cluster (null on one node).
  std::unique_ptr<auth::SharedThrottle> shared_invalid_tokens_;
  // Reports and usage of accepted submissions, the rule workers' reports and, on several nodes,
  // the admissions: all share its transactions.
  store::GroupCommitter commits_;
  // LimitsFor's reads, per organization, while the store is unchanged but for usage
  // (Store::ChangeStampIgnoringUsage: submissions do not empty it).
  store::StampedCache<domain::OrgId, quota::Limits> limits_cache_{65536};

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Job> queue_;
  size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace sandgate::submission
