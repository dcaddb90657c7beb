#include "notify/delivery.h"

#include <sodium.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>

#include "notify/http_client.h"
#include "notify/url_guard.h"
#include "notify/webhook.h"

namespace sandgate::notify {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxAnswerBody = 64 * 1024;
constexpr TimeMs kFirstRetryMs = 5000;
constexpr TimeMs kMaxRetryMs = 3600 * 1000;

struct Request {
  ParsedUrl url;
  std::vector<asio::ip::address> addresses;
  std::string msg_id;
  int64_t timestamp_s = 0;
  std::string signature;
  std::string body;
};

asio::awaitable<HttpAnswer> Attempt(const Request& r, TimeMs timeout_ms,
                                    const std::string& ca_file) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, r.url.target, 11};
  req.set(bhttp::field::user_agent, "Sandgate-Webhooks/1");
  req.set(bhttp::field::content_type, "application/json");
  req.set("webhook-id", r.msg_id);
  req.set("webhook-timestamp", std::to_string(r.timestamp_s));
  req.set("webhook-signature", r.signature);
  req.body() = r.body;
  std::vector<tcp::endpoint> eps;
  for (const auto& a : r.addresses) eps.emplace_back(a, r.url.port);
  // A status line is enough: an answer cut short or too long still tells what the receiver said.
  co_return co_await Exchange(r.url, eps, std::move(req), kMaxAnswerBody, timeout_ms, ca_file);
}

TimeMs Backoff(int64_t attempts) {
  TimeMs d = kFirstRetryMs;
  for (int64_t i = 1; i < attempts && d < kMaxRetryMs; ++i) d *= 2;
  d = std::min(d, kMaxRetryMs);
  // Jitter: between half and all of the delay, so endpoints that failed together spread out.
  return d / 2 + static_cast<TimeMs>(randombytes_uniform(static_cast<uint32_t>(d / 2 + 1)));
}

}  // namespace

Status CheckCaFile(const std::string& ca_file) {
  if (ca_file.empty()) return Status::Ok();
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.load_verify_file(ca_file, ec);
  if (ec)
    return Status::Invalid("CONFIG_INVALID", "The webhook CA file " + ca_file +
                                                 " holds no PEM certificate that can be loaded.");
  return Status::Ok();
}

Deliverer::Deliverer(std::shared_ptr<store::Store> store, std::shared_ptr<token::Keyring> keys,
                     const Clock& clock, DeliveryOptions options)
    : store_(std::move(store)), keys_(std::move(keys)), clock_(clock), opt_(std::move(options)) {}

Deliverer::~Deliverer() { Stop(); }

Status Deliverer::Start() {
  if (!store_->Shared()) {
    Status st = store_->Write([](store::Tx& tx) { return tx.ReleaseOutboxClaims().status(); });
    if (!st.ok()) return st;
  }
  const size_t n = static_cast<size_t>(std::max(1, opt_.workers));
  current_.assign(n, nullptr);
  for (size_t i = 0; i < n; ++i) threads_.emplace_back([this, i] { Run(i); });
  threads_.emplace_back([this] { Schedule(); });
  return Status::Ok();
}

void Deliverer::Schedule() {
  while (true) {
    SchedulePass();
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(opt_.schedule_ms), [&] { return stopping_; }))
      return;
  }
}

void Deliverer::SchedulePass() {
  constexpr TimeMs kDayMs = 24LL * 3600 * 1000;
  const TimeMs now = clock_.now();
  struct Due {
    domain::OrgId org;
    TimeMs ends_at;
    int days;  // 14, 3, 1; 0: ended
  };
  std::vector<Due> due;
  Status st = store_->Read([&](store::Tx& tx) {
    // Only the active subscriptions that end within the earliest notice (14 days), not every
    // organization. The store guarantees an end date; the test only keeps *ends_at defined.
    return tx.ForEachOrgEndingBy(now + 14 * kDayMs, [&](const store::OrgRecord& o) {
      if (!o.ends_at) return Status::Ok();
      const TimeMs left = *o.ends_at - now;
      int days = -1;
      if (left <= 0) {
        days = 0;
      } else {
        for (int d : {14, 3, 1})
          if (left <= d * kDayMs) days = d;  // the most urgent threshold reached
      }
      if (days < 0) return Status::Ok();
      const std::string key =
          std::to_string(o.id) + ":" + std::to_string(*o.ends_at) + ":" + std::to_string(days);
      if (!fired_.count(key)) due.push_back({o.id, *o.ends_at, days});
      return Status::Ok();
    });
  });
  if (!st.ok()) {
    spdlog::warn("webhooks: the scheduler could not read the organizations: {}", st.message());
    return;
  }
  for (const Due& d : due) {
    st = store_->Write([&](store::Tx& tx) -> Status {
      auto org = tx.GetOrg(d.org);
      if (!org.ok()) return org.status().IsNotFound() ? Status::Ok() : org.status();
      if (org->subscription != domain::Subscription::kActive || org->ends_at != d.ends_at)
        return Status::Ok();  // changed meanwhile: the next pass sees the new state
      boost::json::object data{
          {"organization", boost::json::object{{"id", org->id}, {"name", org->name}}},
          {"actor", "system"},
          {"endsAt", FormatIso8601(d.ends_at)}};
      if (d.days > 0) data["daysLeft"] = d.days;
      const std::string key = (d.days > 0 ? "expiring:" : "expired:") + std::to_string(d.ends_at) +
                              ":" + std::to_string(d.days);
      return Enqueue(tx, org->id, d.days > 0 ? "subscription.expiring" : "subscription.expired",
                     now, boost::json::serialize(data), key)
          .status();
    });
    if (!st.ok()) {
      spdlog::warn("webhooks: queueing a scheduled event failed: {}", st.message());
      return;  // tried again at the next pass
    }
    fired_.insert(std::to_string(d.org) + ":" + std::to_string(d.ends_at) + ":" +
                  std::to_string(d.days));
  }
}

void Deliverer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    for (auto* ioc : current_)
      if (ioc) ioc->stop();
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void Deliverer::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++wakes_;
  }
  cv_.notify_all();
}

void Deliverer::Run(size_t worker) {
  uint64_t seen = 0;
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      seen = wakes_;
    }
    bool worked = false;
    const TimeMs now = clock_.now();
    bool due = false;
    Status st = store_->Read([&](store::Tx& tx) {
      auto d = tx.OutboxDue(now);
      if (!d.ok()) return d.status();
      due = *d;
      return Status::Ok();
    });
    std::vector<store::OutboxMessage> claimed;
    if (st.ok() && due) {
      st = store_->Write([&](store::Tx& tx) {
        auto c = tx.ClaimOutbox(now, now + opt_.claim_ms, 1);
        if (!c.ok()) return c.status();
        claimed = std::move(c).value();
        return Status::Ok();
      });
    }
    if (!st.ok()) spdlog::warn("webhooks: reading the outbox failed: {}", st.message());
    for (auto& m : claimed) {
      DeliverOne(worker, std::move(m));
      worked = true;
    }
    if (worked) continue;  // there may be more
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(opt_.poll_ms),
                 [&] { return stopping_ || wakes_ != seen; });
  }
}

void Deliverer::DeliverOne(size_t worker, store::OutboxMessage m) {
  store::WebhookEndpoint ep;
  Status st = store_->Read([&](store::Tx& tx) {
    auto e = tx.GetWebhookEndpoint(m.endpoint_id);
    if (!e.ok()) return e.status();
    ep = std::move(e).value();
    return Status::Ok();
  });
  if (!st.ok()) return;  // deleted meanwhile (its messages went with it), or the store is down
  AttemptResult res;
  Request req;
  req.msg_id = m.msg_id;
  req.body = m.payload;
  const auto started = std::chrono::steady_clock::now();
  auto url = ParseUrl(ep.url);
  if (!url.ok()) {
    res.error = url.status().message();
  } else {
    req.url = std::move(url).value();
    auto addrs = ResolveAllowed(req.url, opt_.allow);
    if (!addrs.ok()) {
      res.error = addrs.status().message();
    } else {
      req.addresses = std::move(addrs).value();
      const TimeMs now = clock_.now();
      req.timestamp_s = now / 1000;
      req.signature = SignatureHeader(*keys_, ep, req.msg_id, req.timestamp_s, req.body, now);
      asio::io_context ioc(1);
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) return;  // stays claimed until the claim runs out or the next start
        current_[worker] = &ioc;
      }
      const ExchangeOutcome out =
          RunExchange(ioc, Attempt(req, opt_.timeout_ms, opt_.ca_file), opt_.timeout_ms);
      {
        std::lock_guard<std::mutex> lock(mu_);
        current_[worker] = nullptr;
        if (stopping_ && !out.finished) return;  // cut short by Stop: stays pending
      }
      res.status = out.answer.status;
      res.error = out.error;
    }
  }
  res.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started)
                       .count();
  const TimeMs now = clock_.now();
  m.attempts += 1;
  m.last_status = res.status;
  m.last_error = res.error;
  m.last_latency_ms = res.latency_ms;
  m.claimed_until = 0;
  bool gave_up = false;
  if (res.error.empty()) {
    m.state = "delivered";
    m.delivered_at = now;
  } else if (now - m.created_at >= opt_.give_up_after_ms) {
    m.state = "failed";
    gave_up = true;
  } else {
    m.next_attempt_at = now + Backoff(m.attempts);
  }
  st = store_->Write([&](store::Tx& tx) -> Status {
    Status u = tx.UpdateOutbox(m);
    if (u.IsNotFound()) return Status::Ok();  // the endpoint was deleted meanwhile
    if (!u.ok()) return u;
    auto e = tx.GetWebhookEndpoint(m.endpoint_id);
    if (!e.ok()) return e.status().IsNotFound() ? Status::Ok() : e.status();
    if (gave_up && !e->failing_since) {
      e->failing_since = now;
      return tx.UpdateWebhookEndpoint(*e);
    }
    if (m.state == "delivered" && e->failing_since) {
      e->failing_since = std::nullopt;
      return tx.UpdateWebhookEndpoint(*e);
    }
    return Status::Ok();
  });
  if (!st.ok())
    spdlog::warn("webhooks: recording delivery of {} failed: {}", m.msg_id, st.message());
  if (!res.error.empty())
    spdlog::info("webhooks: {} to endpoint {} failed (attempt {}): {}{}", m.event, m.endpoint_id,
                 m.attempts, res.error, gave_up ? "; giving up, endpoint marked failing" : "");
}

}  // namespace sandgate::notify
