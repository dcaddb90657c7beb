#include "submission/submission.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <future>
#include <memory>
#include <span>
#include <system_error>

#include "analysis/side_digest.h"
#include "common/log_format.h"
#include "common/no_wait.h"
#include "common/secret.h"
#include "http/server.h"
#include "metrics/sandgate_metrics.h"
#include "notify/webhook.h"
#include "quota/cluster_limits.h"
#include "submission/spool.h"

namespace sandgate::submission {

namespace asio = boost::asio;
namespace json = boost::json;
using http::Response;
using http::bhttp::field;
using http::bhttp::verb;

namespace {

// The most one read of the body asks for. Large: the per-read costs (deadline timer, parser,
// coroutine resumption) are paid less often on a streaming upload (issue 19, target 4).
constexpr size_t kChunk = 256 * 1024;
constexpr const char* kOk = "/submit response OK";

// Errors keep Zscaler's shape: {"code": <HTTP status as a number>, "message": "..."}.
Response ZError(int status, const std::string& message) {
  Response res{static_cast<http::bhttp::status>(status), 11};
  res.set(field::content_type, "application/json");
  std::string& body = res.body();
  body.reserve(32 + message.size());
  body = "{\"code\":";
  body += std::to_string(status);
  body += ",\"message\":";
  AppendJsonString(body, message);
  body += '}';
  return res;
}

void RateHeaders(Response& res, const quota::Admission& a) {
  res.set("X-RateLimit-Limit", std::to_string(a.limit));
  res.set("X-RateLimit-Remaining", std::to_string(a.remaining));
  res.set("X-RateLimit-Reset", std::to_string(a.reset_seconds));
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

// The stored report document: everything the summary and full report are rendered from.
json::object ReportDoc(const analysis::QuickResult& q, const analysis::StaticResult* st,
                       const analysis::Verdict& v, TimeMs started, TimeMs finished) {
  json::object o;
  o["fileType"] = q.file_type;
  o["category"] = q.category;
  o["mime"] = q.mime;
  o["description"] = q.description;
  o["identified"] = q.identified;
  o["size"] = q.hashes.size;
  o["md5"] = Upper(q.hashes.md5);
  o["sha1"] = q.hashes.sha1;
  o["sha256"] = q.hashes.sha256;
  o["ssdeep"] = q.ssdeep;
  o["entropy"] = q.entropy;
  o["virusName"] = q.virus_name;
  o["virusType"] = q.virus_type;
  o["startTime"] = started / 1000;
  o["duration"] = finished - started;
  json::array findings;
  if (st) {
    for (const auto& f : st->findings) {
      json::array sources;
      for (const auto& s : f.signature_sources) sources.emplace_back(s);
      findings.push_back(json::object{{"Risk", std::string(analysis::RiskName(f.risk))},
                                      {"Signature", f.signature},
                                      {"SignatureSources", sources},
                                      {"section", f.section}});
    }
  }
  if (!q.virus_name.empty()) {
    findings.push_back(json::object{{"Risk", "HIGH"},
                                    {"Signature", "Detected by antivirus: " + q.virus_name},
                                    {"SignatureSources", json::array{"ClamAV:" + q.virus_name}},
                                    {"section", "SystemSummary"}});
  }
  o["findings"] = std::move(findings);
  o["verdict"] = json::object{{"type", std::string(analysis::VerdictTypeName(v.type))},
                              {"score", v.score},
                              {"category", v.category},
                              {"detectedMalware", v.detected_malware},
                              {"submission", v.submission}};
  return o;
}

// What a Submission API answer was, for sandgate_submissions_total (see sandgate_metrics.h).
std::string_view ResultOf(const Response& r) {
  const std::string& b = r.body();
  auto has = [&](const char* s) { return b.find(s) != std::string::npos; };
  switch (r.result_int()) {
    case 200:
      return "accepted";
    case 401:
      return "invalid_token";
    case 403:
      return has("disabled") ? "token_disabled" : "subscription_expired";
    case 429:
      return has("invalid API tokens") ? "throttled" : has("Rate Limit") ? "rate" : "quota";
    case 413:
      return "too_large";
    case 400:
      return has("empty") ? "empty" : "bad_request";
    case 503:
      return has("queue is full")          ? "queue_full"
             : has("cannot store uploads") ? "spool_unavailable"
                                           : "unavailable";
    case 499:
      return "client_gone";
    case 500:
      return "analysis_failed";
    default:
      return "other";
  }
}

// Queues `w` on `commits` without blocking this thread, and completes with its outcome on the
// completion handler's executor (the request's I/O thread). Batches are led on `pool`. `w` and
// what it refers to must live until the completion (a coroutine frame does).
template <typename Token>
auto AsyncWrite(store::GroupCommitter& commits, const store::StagedWrite& w,
                asio::thread_pool& pool, Token&& token) {
  return asio::async_initiate<Token, void(Status)>(
      [&commits, &w, &pool](auto handler) {
        using Handler = decltype(handler);
        auto owned = std::make_shared<Handler>(std::move(handler));
        commits.WriteAsync(
            w,
            [owned](Status st) {
              auto ex = asio::get_associated_executor(*owned);
              asio::post(
                  ex, [owned, st = std::move(st)]() mutable { std::move (*owned)(std::move(st)); });
            },
            [&pool](std::function<void()> task) { asio::post(pool, std::move(task)); });
      },
      token);
}

}  // namespace

SubmissionService::SubmissionService(service::Services& services, analysis::EngineHolder& engines,
                                     SubmissionOptions options)
    : services_(services),
      engines_(engines),
      opt_(std::move(options)),
      quota_([this](domain::OrgId org, int64_t day) -> Result<std::pair<int64_t, int64_t>> {
        // From the cache while the store is unchanged (Store::ChangeStamp): the token page asks
        // for today's usage on every read (PostgreSQL, issue 19).
        using Usage = std::pair<int64_t, int64_t>;
        auto got = usage_cache_.GetOrRead(
            services_.store().ChangeStamp(), UsageKey{org, day},
            [&]() -> Result<std::shared_ptr<const Usage>> {
              auto out = std::make_shared<Usage>();
              Status st = services_.store().Read([&](store::Tx& tx) -> Status {
                auto u = tx.GetUsage(org, day);
                if (!u.ok()) return u.status();
                *out = {u->used, u->over_quota};
                return Status::Ok();
              });
              if (!st.ok()) return st;
              return std::shared_ptr<const Usage>(std::move(out));
            });
        if (!got.ok()) return got.status();
        return *got.value();
      }),
      invalid_tokens_(auth::LoginThrottle::Policy{1 << 30, opt_.invalid_token_limit, 60 * 1000,
                                                  5 * 60 * 1000,
                                                  /*per_pair=*/false}),
      commits_(services_.store()) {
  quota_.set_shared(services_.store().Shared());
  if (services_.store().Shared()) {
    auth::SharedThrottle::Policy p;
    p.free_failures = opt_.invalid_token_limit;
    shared_invalid_tokens_ = std::make_unique<auth::SharedThrottle>(
        services_.store(), "invalid-token", p, [this] { return services_.clock().now(); });
  }
  mkdir(opt_.spool_dir.c_str(), 0700);
  // Uploads in flight when a previous process died (kill -9, power loss) left their spool files.
  if (int n = RemoveStaleSpoolFiles(opt_.spool_dir); n > 0)
    spdlog::warn("removed {} spool file(s) left by a previous run", n);
  for (size_t i = 0; i < std::max<size_t>(1, opt_.static_workers); ++i)
    workers_.emplace_back([this] { Worker(); });
}

SubmissionService::~SubmissionService() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void SubmissionService::Register(http::Router& router) {
  router.AddStream(
      verb::post, "/zscsb/submit",
      [this](const http::RequestHeader& h, http::RequestContext& ctx,
             http::BodyReader& b) -> asio::awaitable<Response> {
        Response res = co_await Handle(h, ctx, b, false);
        metrics::CountSubmission("submit", ResultOf(res));
        co_return res;
      },
      http::RouteOptions{opt_.submit_limit, false, true});
  router.AddStream(
      verb::post, "/zscsb/discan",
      [this](const http::RequestHeader& h, http::RequestContext& ctx,
             http::BodyReader& b) -> asio::awaitable<Response> {
        Response res = co_await Handle(h, ctx, b, true);
        metrics::CountSubmission("discan", ResultOf(res));
        co_return res;
      },
      http::RouteOptions{opt_.discan_limit, false, true});
}

Result<quota::Limits> SubmissionService::LimitsFor(domain::OrgId org) {
  const auto stamp = services_.store().ChangeStampIgnoringUsage();  // submissions leave it
  auto cached =
      limits_cache_.GetOrRead(stamp, org, [&]() -> Result<std::shared_ptr<const quota::Limits>> {
        auto l = std::make_shared<quota::Limits>();
        Status st = services_.store().Read([&](store::Tx& tx) -> Status {
          auto o = tx.GetOrg(org);
          if (!o.ok()) return o.status();
          *l = quota::Limits{o->daily_allowance, o->rate_per_second, o->rate_per_hour,
                             o->disable_threshold};
          return Status::Ok();
        });
        if (!st.ok()) return st;
        return std::shared_ptr<const quota::Limits>(std::move(l));
      });
  if (!cached.ok()) return cached.status();
  return *cached.value();
}

void SubmissionService::OnOverQuota(domain::OrgId org, const quota::Admission& a,
                                    const std::string& request_id) {
  // Rate-limit refusals are counted in memory (RateLimitedToday): no write, no threshold.
  if (a.rate_limited || a.status.code() == "RATE_LIMITED") return;
  bool crossed = a.threshold_crossed;
  if (quota_.shared()) {
    // Several nodes: counted and judged in the store, so the threshold holds for the cluster.
    auto limits = LimitsFor(org);
    const TimeMs now = services_.clock().now();
    auto c = limits.ok() ? quota::CountOverQuotaShared(
                               services_.store(), org, a.day, limits->disable_threshold,
                               [&](store::Tx& tx, int64_t over_quota) {
                                 return notify::EnqueueQuotaRefused(tx, org, a.day, over_quota,
                                                                    limits->disable_threshold, now);
                               })
                         : Result<bool>(limits.status());
    crossed = c.ok() && *c;
  } else {
    // quota.threshold_near (issue 20): queued with the count that reaches half the threshold. The
    // stored count is read only from the in-memory line on (this write happens anyway).
    auto limits = LimitsFor(org);
    const TimeMs now = services_.clock().now();
    services_.store()
        .Write([&](store::Tx& tx) -> Status {
          if (Status s = tx.AddUsage(org, a.day, 0, 1, std::nullopt); !s.ok()) return s;
          if (!limits.ok() || a.over_quota_today < notify::QuotaNearLine(limits->disable_threshold))
            return Status::Ok();
          auto u = tx.GetUsage(org, a.day);
          if (!u.ok()) return u.status();
          return notify::EnqueueQuotaRefused(tx, org, a.day, u->over_quota,
                                             limits->disable_threshold, now);
        })
        .IgnoreError();
  }
  if (!crossed) return;
  // The request whose refusal crossed the threshold is named in the audit record.
  service::Actor system{"system", domain::Caller{domain::Role::kProviderAdmin, std::nullopt}, "",
                        false, request_id};
  auto r = services_.DisableToken(
      system, org, domain::DisableReason::kQuotaThreshold,
      std::to_string(a.over_quota_today) + " over-quota attempts today exceeded the threshold");
  if (r.ok() && metrics::Enabled()) metrics::M().token_threshold_disables->Inc();
  if (r.ok()) spdlog::warn("organization {}: token disabled (over-quota threshold)", org);
}

asio::awaitable<Response> SubmissionService::OverQuota(asio::thread_pool& blocking,
                                                       domain::OrgId org, quota::Admission refused,
                                                       std::string request_id) {
  metrics::CountQuotaRefusal(refused.status.code() == "QUOTA_EXCEEDED" ? metrics::QuotaKind::kDaily
                             : refused.status.message().find("/SECOND") != std::string::npos
                                 ? metrics::QuotaKind::kPerSecond
                                 : metrics::QuotaKind::kPerHour);
  co_await asio::co_spawn(
      blocking,
      [&]() -> asio::awaitable<void> {
        OnOverQuota(org, refused, request_id);
        co_return;
      },
      asio::use_awaitable);
  Response res = ZError(429, refused.status.message());
  RateHeaders(res, refused);
  res.set(field::retry_after, std::to_string(refused.retry_after));
  co_return res;
}

asio::awaitable<Response> SubmissionService::Handle(const http::RequestHeader& h,
                                                    http::RequestContext& ctx,
                                                    http::BodyReader& body, bool discan) {
  const TimeMs started = services_.clock().now();
  // First apply what other processes changed (the CLI on the same SQLite file). An index that may
  // have missed a change (catch-up failed, lease lapsed, database unreachable) decides nothing;
  // refuse rather than guess (and count nothing against the caller).
  const Status caught_up = services_.store().CatchUp();
  if (!caught_up.ok() || !services_.store().IndexTrusted()) {
    Response res = ZError(503, "The service is temporarily unavailable");
    res.set(field::retry_after, "1");
    co_return res;
  }
  // Exactly one api_token: two (even under another spelling such as api%5Ftoken) are ambiguous and
  // count as a failed attempt. Parameter names are case-sensitive (API_TOKEN is not the token).
  const size_t tokens_given = http::QueryParamCount(ctx.query, "api_token");
  auto token = http::QueryParam(ctx.query, "api_token");
  token::Verification v =
      services_.index().Verify(tokens_given == 1 ? token.value_or("") : std::string(), started);
  if (token) Wipe(*token);
  const bool invalid = tokens_given > 1 || v.status.IsUnauthenticated();
  // The per-address check and the count of this failure happen in one step (no window for many
  // connections at once); once an address waits, even a valid token waits.
  const std::string& addr_key = ctx.client_key.empty() ? ctx.client_addr : ctx.client_key;
  // Several nodes: counted for the cluster first (auth/shared_throttle.h).
  std::optional<int64_t> shared_wait;
  if (shared_invalid_tokens_) {
    bool exchange_first = false;
    shared_wait = shared_invalid_tokens_->Attempt(addr_key, started, invalid, &exchange_first);
    if (exchange_first) {  // this node's slice is used up: learn the cluster's count first
      co_await asio::co_spawn(
          *ctx.blocking,
          [&]() -> asio::awaitable<void> {
            (void)shared_invalid_tokens_->ExchangeSoon();
            co_return;
          },
          asio::use_awaitable);
      shared_wait = shared_invalid_tokens_->Attempt(addr_key, started, invalid);
    }
  }
  if (auto wait =
          shared_wait ? shared_wait : invalid_tokens_.Attempt("", addr_key, started, invalid)) {
    metrics::CountTokenVerification(metrics::TokenOutcome::kThrottled);
    Response res = ZError(429, "Too many invalid API tokens from this address; try again later");
    res.set(field::retry_after, std::to_string(*wait));
    co_return res;
  }
  if (tokens_given > 1) co_return ZError(400, "Give the api_token parameter once");
  auto force_s = http::QueryParam(ctx.query, "force");
  if (force_s && *force_s != "0" && *force_s != "1")
    co_return ZError(400, "The force parameter is 0 or 1");
  const bool force = force_s && *force_s == "1";
  // Optional: the file's name, for the rules' external variables (filename, extension, ...).
  // The Zscaler clients send none.
  const std::string filename = http::QueryParam(ctx.query, "filename").value_or("");
  if (filename.size() > 255 || std::any_of(filename.begin(), filename.end(),
                                           [](unsigned char c) { return c < 0x20 || c == 0x7f; }))
    co_return ZError(400, "The filename parameter is at most 255 characters, without controls");
  metrics::CountTokenVerification(invalid         ? metrics::TokenOutcome::kInvalid
                                  : v.status.ok() ? metrics::TokenOutcome::kAccepted
                                  : v.status.code() == "TOKEN_DISABLED"
                                      ? metrics::TokenOutcome::kDisabled
                                      : metrics::TokenOutcome::kExpired);
  if (v.org) ctx.org_id = *v.org;
  if (!v.status.ok()) {
    if (v.status.IsUnauthenticated()) co_return ZError(401, "Invalid API token");
    co_return ZError(v.status.http_status(), v.status.message());
  }
  const domain::OrgId org = *v.org;
  // From the cache on this I/O thread; a miss that needs the database (PostgreSQL) is read on the
  // blocking pool (issue 19: nothing on an I/O thread waits for the database).
  Result<quota::Limits> limits = Status::Internal("unset");
  bool on_pool = false;
  {
    no_wait::Scope no_wait;
    limits = LimitsFor(org);
    on_pool = no_wait::TakeWouldBlock();
  }
  if (on_pool) {
    co_await asio::co_spawn(
        *ctx.blocking,
        [&]() -> asio::awaitable<void> {
          limits = LimitsFor(org);
          co_return;
        },
        asio::use_awaitable);
  }
  if (!limits.ok()) co_return ZError(503, "The service is temporarily unavailable");
  quota::Admission adm = quota_.Reserve(org, limits.value(), started);
  if (!adm.status.ok()) {
    if (!adm.status.IsRateLimited())
      co_return ZError(503, "The service is temporarily unavailable");
    co_return co_await OverQuota(*ctx.blocking, org, adm, ctx.request_id);
  }
  // Several nodes: the store's count is the authority, taken now (an accepted submission counts
  // from admission; a failed one gives its count back below).
  const bool shared = quota_.shared();
  if (shared) {
    // Daily allowance and rates for the whole cluster, in one transaction (quota/cluster_limits).
    // Queued on the group committer without holding a thread while it waits: concurrent
    // admissions (and reports) share one transaction, one advisory lock and one change-log
    // entry, and this I/O thread goes on serving (issue 19, target 6).
    const int64_t allowance = limits.value().daily_allowance;
    const int64_t day = adm.day;
    quota::SharedAdmission admission(
        org, limits.value(), day, started, [&](store::Tx& tx, int64_t used) {
          return notify::EnqueueQuotaUsed(tx, org, day, used, allowance, services_.clock().now());
        });
    const Status written =
        co_await AsyncWrite(commits_, admission.write(), *ctx.blocking, asio::use_awaitable);
    const quota::ClusterAdmission cl = admission.Outcome(written);
    using Kind = quota::ClusterAdmission::Kind;
    if (cl.kind == Kind::kUnavailable) {
      quota_.Release(org, adm.day);
      co_return ZError(503, "The service is temporarily unavailable");
    }
    if (cl.kind == Kind::kRateLimited) {
      // Not an over-quota attempt: answered 429, never counted toward the disable threshold.
      quota_.Release(org, adm.day);
      Response res = ZError(429, cl.refusal.status.message());
      RateHeaders(res, cl.refusal);
      res.set(field::retry_after, std::to_string(cl.refusal.retry_after));
      co_return res;
    }
    if (cl.kind == Kind::kQuotaFull) {
      co_return co_await OverQuota(*ctx.blocking, org,
                                   quota_.RefuseShared(org, limits.value(), adm, started),
                                   ctx.request_id);
    }
  }
  // From here the reservation is released unless the submission is recorded.
  bool committed = false;
  struct ReleaseGuard {
    SubmissionService* s;
    domain::OrgId org;
    int64_t day;
    bool* committed;
    bool shared;
    asio::thread_pool* blocking;
    ~ReleaseGuard() {
      if (*committed) return;
      s->quota_.Release(org, day);
      if (!shared) return;
      // Give the shared count back, off the I/O thread. If this write fails the count stays one
      // too high for the day: conservative, never above the allowance.
      SubmissionService* self = s;
      domain::OrgId o = org;
      int64_t d = day;
      asio::post(*blocking, [self, o, d] {
        (void)self->services_.store().Write(
            [&](store::Tx& tx) { return tx.AddUsage(o, d, -1, 0, std::nullopt); });
      });
    }
  } guard{this, org, adm.day, &committed, shared, ctx.blocking};

  std::unique_ptr<GzipInflater> inflater;
  if (auto ce = h.find(field::content_encoding);
      ce != h.end() && boost::beast::iequals(ce->value(), "gzip"))
    inflater = std::make_unique<GzipInflater>();
  // A small body of known size stays in memory (issue 19, target 3: no file system churn per
  // submission); a larger, chunked or gzip-encoded one goes to a spool file.
  const bool in_memory = !inflater && body.content_length() &&
                         *body.content_length() <= opt_.memory_body_limit &&
                         // a child AV scan opens the file by name in another process
                         *body.content_length() <= engines_.Get()->config().av_subprocess_threshold;
  auto spool = in_memory ? SpoolFile::CreateInMemory(static_cast<size_t>(*body.content_length()))
                         : SpoolFile::Create(opt_.spool_dir);
  if (!spool.ok()) co_return ZError(503, "The service cannot store uploads right now");
  analysis::StreamHasher hasher;
  // A spooled body is a large one: MD5 on a second core (issue 19, target 4).
  if (!spool->in_memory()) hasher.UseHelperThread();
  // ssdeep and entropy while the body arrives (issue 19, target 5): a body in a spool file is
  // read back and digested by a thread of its own (the other core), so this I/O thread only
  // hashes and writes; a small in-memory body is digested here, inline.
  std::optional<analysis::SideDigester> side;
  if (spool->in_memory())
    side.emplace();
  else
    side.emplace(spool->path());
  if (!inflater && body.content_length()) side->SetTotalLength(*body.content_length());
  // A discan of a large body of known size: the AV scan starts now, in a child that follows the
  // spool file, so it overlaps the upload instead of following it (issue 19, target 5). Without a
  // free early-scan slot it starts after the body, as any other. Destroyed unfinished (the upload
  // failed), it kills its child.
  std::unique_ptr<analysis::EarlyAvScan> early_av;
  if (discan && !inflater && body.content_length() && !spool->in_memory()) {
    auto started = engines_.Get()->StartAvScan(spool->path(), *body.content_length());
    if (started.ok()) early_av = std::move(*started);
  }
  const uint64_t limit = discan ? opt_.discan_limit : opt_.submit_limit;
  uint64_t size = 0;
  int64_t hashing_ns = 0;  // the hashing stage, spread over the upload
  const bool timing = metrics::Enabled();
  auto sink = [&](const char* data, size_t n) -> Status {
    size += n;
    if (size > limit) return Status(413, "PAYLOAD_TOO_LARGE", "File too large");
    const int64_t t0 = timing ? metrics::MonotonicNs() : 0;
    hasher.Update(data, n);
    if (timing) hashing_ns += metrics::MonotonicNs() - t0;
    if (Status st = spool->Write(data, n); !st.ok()) return st;
    side->Update(data, n);  // after the write: a follower reads these bytes back from the file
    return Status::Ok();
  };
  // A body of known, smaller size gets a buffer of its size (not zero-filled).
  const size_t buf_size = inflater || !body.content_length() || *body.content_length() >= kChunk
                              ? kChunk
                              : std::max<size_t>(1, static_cast<size_t>(*body.content_length()));
  auto buf_owner = std::make_unique_for_overwrite<char[]>(buf_size);
  const std::span<char> buf(buf_owner.get(), buf_size);
  for (;;) {
    auto got = co_await body.Read(buf.data(), buf.size());
    if (!got.ok()) {
      if (got.status().IsTooLarge()) co_return ZError(413, "File too large");
      if (got.status().IsInvalid()) co_return ZError(400, got.status().message());
      co_return ZError(499, "Client closed the request");  // nobody reads this
    }
    if (*got == 0) break;
    Status st = inflater ? inflater->Feed(buf.data(), *got, sink) : sink(buf.data(), *got);
    if (!st.ok())
      co_return ZError(st.http_status(), st.IsTooLarge() ? "File too large" : st.message());
  }
  // A gzip body must end exactly where its stream ends: a cut-short stream is not the file.
  if (inflater && !inflater->finished())
    co_return ZError(400, "The gzip-encoded body is incomplete");
  if (size == 0) co_return ZError(400, "The request body is empty; send the file's bytes");
  if (Status st = spool->Close(); !st.ok())
    co_return ZError(503, "The service cannot store uploads right now");
  const int64_t t_finish = timing ? metrics::MonotonicNs() : 0;
  auto hashes = hasher.Finish();
  if (timing) {
    hashing_ns += metrics::MonotonicNs() - t_finish;
    metrics::M().stage_duration[static_cast<int>(metrics::Stage::kHash)]->Observe(
        static_cast<double>(hashing_ns) / 1e9);
    metrics::M().submission_bytes->Inc(size);
  }
  if (!hashes.ok()) co_return ZError(500, "Hashing failed");
  const std::string md5 = Upper(hashes->md5);

  // Everything below blocks (scans, fsync): off the I/O threads.
  Response res = co_await asio::co_spawn(
      *ctx.blocking,
      [&]() -> asio::awaitable<Response> {
        auto engine = engines_.Get();
        const int64_t day = adm.day;
        // The usage of a submission with this report (`rec`; none: a verdict already stored).
        auto record_usage = [&](store::Tx& tx, const store::ReportRecord* rec) -> Status {
          const TimeMs at = services_.clock().now();
          // Several nodes: counted at admission; here the last use.
          Status s = rec ? tx.PutReportWithUsage(*rec, day, shared ? 0 : 1, at)
                         : tx.AddUsage(org, day, shared ? 0 : 1, 0, at);
          if (!s.ok()) return s;
          // Several nodes: counted, and the quota.* webhooks queued, at admission (AdmitShared).
          if (shared) return Status::Ok();
          // quota.warning / quota.exhausted (issue 20) in this transaction when this call's
          // count reaches a line; the stored count is read only when it may (CommitMayReach).
          const int64_t allowance = limits.value().daily_allowance;
          if (!quota_.CommitMayReach(org, day, notify::QuotaWarningLine(allowance)) &&
              !quota_.CommitMayReach(org, day, allowance))
            return Status::Ok();
          auto u = tx.GetUsage(org, day);
          if (!u.ok()) return u.status();
          return notify::EnqueueQuotaUsed(tx, org, day, u->used, allowance, at);
        };
        if (!discan && !force) {
          auto existing = Report(org, md5);
          if (existing.ok() && existing->has_value()) {
            Status st = commits_.Write([&](store::Tx& tx) { return record_usage(tx, nullptr); });
            if (!st.ok()) co_return ZError(503, "The service is temporarily unavailable");
            committed = true;
            quota_.Commit(org, day);
            json::value doc = json::parse((*existing)->report_json);
            json::object& d = doc.as_object();
            json::object out{{"code", 200},
                             {"message",
                              "A verdict for this file already exists; submit with force=1 to "
                              "analyse it again"},
                             {"fileType", d["fileType"]},
                             {"md5", md5},
                             {"sandboxSubmission", (*existing)->status == "COMPLETED"
                                                       ? d["verdict"].as_object()["submission"]
                                                       : json::value("Submitted")},
                             {"virusName", d["virusName"]},
                             {"virusType", d["virusType"]}};
            Response r{http::bhttp::status::ok, 11};
            r.set(field::content_type, "application/json");
            r.body() = json::serialize(out);
            co_return r;
          }
        }
        // discan: the static analysis (YARA, ...) runs beside the quick one (file type, ssdeep,
        // the AV scan) on a thread of its own, so the answer waits for the longer of the two, not
        // their sum (issue 19, target 5). The engine is safe for concurrent use.
        const std::string& spooled = spool->path();
        std::future<Result<analysis::StaticResult>> static_run;
        if (discan) {
          try {
            static_run = std::async(std::launch::async, [&engine, &spooled, &filename] {
              return engine->Static(spooled, filename);
            });
          } catch (const std::system_error&) {  // no thread to be had: one after the other
          }
        }
        // The AV scan starts at once; the ssdeep and entropy of the body's tail, if the follower
        // is still behind, finish beside it.
        // A small body's bytes are read in memory (issue 19, target 3: no map, no reads).
        auto quick = engine->Quick(spooled, hashes.value(), 0, /*ssdeep=*/false, spool->content(),
                                   early_av.get());
        auto digests = side->Finish();
        if (quick.ok() && digests.ok()) {
          quick->ssdeep = std::move(digests->ssdeep);
          quick->entropy = digests->entropy;
        }
        std::optional<analysis::StaticResult> statics;
        if (discan) {
          auto s = static_run.valid() ? static_run.get() : engine->Static(spooled, filename);
          if (s.ok()) statics = std::move(s.value());
        }
        if (!quick.ok() || !digests.ok()) co_return ZError(500, "The analysis failed");
        analysis::Verdict verdict = analysis::Classify(*quick, statics ? &*statics : nullptr);
        const bool queue_rules = !discan && quick->virus_name.empty();
        store::ReportRecord rec;
        rec.org_id = org;
        rec.md5 = md5;
        rec.sha256 = hashes->sha256;
        rec.status = discan ? "NODYNAMIC" : queue_rules ? "INPROGRESS" : "COMPLETED";
        TimeMs now = services_.clock().now();
        rec.report_json = json::serialize(
            ReportDoc(*quick, statics ? &*statics : nullptr, verdict, started, now));
        rec.created_at = now;
        rec.updated_at = now;
        if (queue_rules) {
          // Reserve the queue slot first: a full queue answers 503 and records nothing.
          std::lock_guard<std::mutex> lock(mu_);
          if (queue_.size() >= opt_.static_queue) {
            if (metrics::Enabled()) metrics::M().analysis_queue_full->Inc();
            Response r = ZError(503, "The analysis queue is full; try again shortly");
            r.set(field::retry_after, "5");
            co_return r;
          }
        }
        // Shares a transaction (and its fsync) with concurrent submissions; durable on return.
        // Several nodes: the report and the last use are one call, pipelined with the batch's
        // other writes (issue 19, target 6). One node: record_usage whole, since it reads the
        // count it made.
        store::Tx::Ticket sent = 0;
        store::StagedWrite write;
        if (shared) {
          write.send = [&](store::Tx& tx) {
            sent = tx.SendReportWithUsage(rec, day, 0, services_.clock().now());
            return Status::Ok();
          };
          write.finish = [&](store::Tx& tx) { return tx.TakeReportWithUsage(sent); };
        } else {
          write.send = [&](store::Tx& tx) { return record_usage(tx, &rec); };
        }
        Status st = commits_.Write(write);
        if (!st.ok()) co_return ZError(503, "The service is temporarily unavailable");
        committed = true;
        quota_.Commit(org, day);
        if (queue_rules)
          TryEnqueue(
              Job{org, md5, spool->Release(), filename, spool->TakeContent(), std::move(rec)});
        if (!queue_rules)
          metrics::CountVerdict(verdict.submission);  // final (no rules to wait for)
        json::object out{
            {"code", 200}, {"message", kOk}, {"fileType", quick->file_type}, {"md5", md5}};
        if (!discan)
          out["sandboxSubmission"] = quick->virus_name.empty() ? "Submitted" : verdict.submission;
        out["virusName"] = quick->virus_name;
        out["virusType"] = quick->virus_type;
        Response r{http::bhttp::status::ok, 11};
        r.set(field::content_type, "application/json");
        r.body() = json::serialize(out);
        co_return r;
      },
      asio::use_awaitable);
  if (res.result_int() == 200 || res.result_int() == 503) {
    quota::Admission after = adm;
    RateHeaders(res, after);
  }
  co_return res;
}

Result<std::optional<store::ReportRecord>> SubmissionService::Report(domain::OrgId org,
                                                                     const std::string& md5) {
  std::optional<store::ReportRecord> out;
  Status st = services_.store().Read([&](store::Tx& tx) -> Status {
    auto r = tx.GetReport(org, Upper(md5));
    if (!r.ok()) return r.status();
    out = std::move(r.value());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

bool SubmissionService::TryEnqueue(Job job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

size_t SubmissionService::queue_depth() {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void SubmissionService::Drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_cv_.wait(lock, [&] { return queue_.empty() && busy_ == 0; });
}

void SubmissionService::Worker() {
  // Takes every queued job (up to kBatch) at once and stores their results through the group
  // committer: shared transactions, so the rules keep up with the submissions instead of
  // queueing behind the store's single writer.
  constexpr size_t kBatch = 32;
  for (;;) {
    std::vector<Job> jobs;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and nothing left
      while (!queue_.empty() && jobs.size() < kBatch) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      busy_ += jobs.size();
    }
    std::vector<store::ReportRecord> done;
    done.reserve(jobs.size());
    for (const Job& job : jobs) {
      if (auto rec = RunStatic(job)) done.push_back(std::move(*rec));
    }
    // Through the submissions' group committer: the batch shares their transactions (on
    // PostgreSQL one advisory lock and one change-log entry for all; issue 19, target 6), and one
    // bad record (its organization just deleted, say) does not cost the others theirs.
    // Staged: on PostgreSQL the reports travel in one pipeline with the batch's other writes,
    // and a file's several reports become one upsert.
    if (!done.empty()) {
      std::vector<store::Tx::Ticket> sent(done.size());
      std::vector<store::StagedWrite> writes(done.size());
      for (size_t i = 0; i < done.size(); ++i) {
        writes[i].send = [&, i](store::Tx& tx) {
          sent[i] = tx.SendReport(done[i]);
          return Status::Ok();
        };
        writes[i].finish = [&, i](store::Tx& tx) { return tx.TakeReport(sent[i]); };
      }
      for (const Status& s : commits_.WriteEach(writes))
        // Not found: the organization was deleted meanwhile, and its reports with it.
        if (!s.ok() && !s.IsNotFound())
          spdlog::error("storing the rule analysis of a report failed: {}", s.message());
    }
    for (const Job& job : jobs) RemoveSpooled(job.path);
    {
      std::lock_guard<std::mutex> lock(mu_);
      busy_ -= jobs.size();
    }
    idle_cv_.notify_all();
  }
}

std::optional<store::ReportRecord> SubmissionService::RunStatic(const Job& job) {
  auto engine = engines_.Get();
  store::ReportRecord rec = job.record;
  auto statics = engine->Static(
      job.path, job.filename,
      job.content.empty() ? std::nullopt : std::optional<std::string_view>(job.content));
  json::value doc = json::parse(rec.report_json);
  json::object& d = doc.as_object();
  // Rebuild the verdict with the rule findings (the quick part is in the document).
  analysis::QuickResult q;
  q.file_type = std::string(d["fileType"].as_string());
  q.category = std::string(d["category"].as_string());
  q.identified = d["identified"].as_bool();
  q.entropy = d["entropy"].to_number<double>();
  q.hashes.size = d["size"].to_number<uint64_t>();
  q.hashes.md5 = std::string(d["md5"].as_string());
  q.hashes.sha1 = std::string(d["sha1"].as_string());
  q.hashes.sha256 = std::string(d["sha256"].as_string());
  q.ssdeep = std::string(d["ssdeep"].as_string());
  q.mime = std::string(d["mime"].as_string());
  q.description = std::string(d["description"].as_string());
  q.virus_name = std::string(d["virusName"].as_string());
  q.virus_type = std::string(d["virusType"].as_string());
  const analysis::StaticResult* st = statics.ok() ? &statics.value() : nullptr;
  analysis::Verdict verdict = analysis::Classify(q, st);
  metrics::CountVerdict(verdict.submission);
  TimeMs now = services_.clock().now();
  rec.report_json =
      json::serialize(ReportDoc(q, st, verdict, d["startTime"].to_number<int64_t>() * 1000, now));
  rec.status = "COMPLETED";
  rec.updated_at = now;
  return rec;
}

}  // namespace sandgate::submission
