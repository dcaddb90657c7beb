// The webhook delivery worker (issue 20): a few threads claim the oldest due message of each
// endpoint from the outbox (one at a time per endpoint, so each endpoint gets its events in
// order), POST it signed, and record the outcome. At-least-once: a message leaves the outbox's
// pending state only after a 2xx answer was recorded; a crash before that delivers it again.
// Failures retry with exponential backoff and jitter (5 s doubling, at most 1 h apart) for 24 h
// after the event, then the message is marked failed and its endpoint failing (shown to the
// organization) until a delivery succeeds again. Each request has a whole-operation timeout, a
// bounded answer and no redirects; a slow endpoint holds one worker while the others go on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/cidr.h"
#include "common/clock.h"
#include "store/store.h"
#include "token/keyring.h"

namespace boost::asio {
class io_context;
}

namespace sandgate::notify {

struct DeliveryOptions {
  std::vector<Cidr> allow;  // ranges allowed despite the SSRF guard (tests: 127.0.0.0/8)
  // Extra CAs (PEM) trusted for https deliveries besides the system's (--webhook-ca-file).
  std::string ca_file;
  int workers = 4;
  TimeMs timeout_ms = 15000;  // connect + TLS + request + answer, per attempt
  TimeMs give_up_after_ms = 24LL * 3600 * 1000;
  TimeMs claim_ms = 60000;  // a claim outlives any attempt (other nodes then retry it)
  TimeMs poll_ms = 250;
  // How often the scheduler looks for subscriptions ending in 14, 3 or 1 days, or ended.
  TimeMs schedule_ms = 10000;
};

class Deliverer {
 public:
  Deliverer(std::shared_ptr<store::Store> store, std::shared_ptr<token::Keyring> keys,
            const Clock& clock, DeliveryOptions options);  // clock outlives this
  ~Deliverer();
  Deliverer(const Deliverer&) = delete;
  Deliverer& operator=(const Deliverer&) = delete;

  // Single node: releases the claims a previous process left (it was killed mid-delivery).
  // Starts the workers.
  Status Start();
  // Stops the workers, cutting requests in flight short (they stay pending). Idempotent.
  void Stop();
  // A message was queued: look now rather than at the next poll.
  void Wake();

 private:
  void Run(size_t worker);
  // The scheduler's thread: scheduled events (subscription.expiring, subscription.expired when
  // the end date passes), each queued once per endpoint whatever the number of nodes (the
  // outbox's dedupe key), and written once per process (fired_).
  void Schedule();
  void SchedulePass();
  void DeliverOne(size_t worker, store::OutboxMessage m);

  std::shared_ptr<store::Store> store_;
  std::shared_ptr<token::Keyring> keys_;
  const Clock& clock_;
  DeliveryOptions opt_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t wakes_ = 0;
  std::vector<boost::asio::io_context*> current_;  // each worker's request in flight, under mu_
  std::vector<std::thread> threads_;
  std::set<std::string> fired_;  // scheduler thread only
};

// 400 CONFIG_INVALID when `ca_file` is set but holds no certificate OpenSSL can load.
Status CheckCaFile(const std::string& ca_file);

// One attempt's outcome.
struct AttemptResult {
  int status = 0;     // HTTP status, 0 when none was received
  std::string error;  // "" on 2xx; otherwise why (no secrets, no URL query)
  int64_t latency_ms = 0;
};

}  // namespace sandgate::notify
