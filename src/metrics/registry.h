// A small Prometheus metrics registry of our own (Debian 12 packages no C++ client library).
// - Counter, Gauge, Histogram: lock-free on the hot path. Each keeps kShards cache-line-sized cells
//   and a thread adds to its own shard (relaxed atomics), so I/O threads never share a line; a
//   scrape sums the shards.
// - Histograms have fixed bucket bounds, given when they are registered.
// - Sampled gauges/counters are read from a callback at each scrape (queue depth, RSS, ...).
// - Registry: families (name, help, type) of series (label values), created once (a mutex) and
//   then used through the returned reference, which stays valid for the registry's lifetime.
//   Expose() writes the Prometheus text exposition format 0.0.4.
// Labels must stay bounded: route templates, outcomes, kinds; never a path or an organization.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sandgate::metrics {

// Whether the server counts at all (`serve --metrics off` for the cost comparison). Set once at
// start, before the server threads exist.
bool Enabled();
void SetEnabled(bool on);

constexpr size_t kShards = 8;
// The calling thread's shard: assigned round robin at a thread's first use.
size_t ThisShard();

class Counter {
 public:
  void Inc(uint64_t n = 1) { cells_[ThisShard()].v.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<uint64_t> v{0};
  };
  Cell cells_[kShards];
};

// Add() is sharded like a counter (in-flight requests, open connections); Set() is for a gauge
// one thread owns (it overwrites every shard and must not be mixed with Add()).
class Gauge {
 public:
  void Add(int64_t n) { cells_[ThisShard()].v.fetch_add(n, std::memory_order_relaxed); }
  void Set(int64_t v);
  int64_t Value() const;

 private:
  struct alignas(64) Cell {
    std::atomic<int64_t> v{0};
  };
  Cell cells_[kShards];
};

class Histogram {
 public:
  // `bounds`: increasing upper bounds of the buckets (the +Inf bucket is implicit).
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  struct alignas(64) Shard {
    std::unique_ptr<std::atomic<uint64_t>[]> buckets;  // bounds_.size() + 1, not cumulative
    std::atomic<double> sum{0};
  };
  std::vector<double> bounds_;
  std::unique_ptr<Shard[]> shards_;
};

// Times a scope into a histogram, in seconds (nothing when `h` is null).
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram* h);
  ~ScopedTimer();
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram* h_;
  int64_t start_ns_ = 0;
};
int64_t MonotonicNs();

using Labels = std::vector<std::pair<std::string, std::string>>;

// Buckets for durations in seconds: 0.5 ms .. 60 s.
std::vector<double> DurationBuckets();

class Registry {
 public:
  Registry();
  ~Registry();
  // The series of family `name` with `labels` (created on first call). The family's help, type
  // and label names are fixed by its first registration; a mismatch throws std::invalid_argument
  // (a programming error), as does an invalid metric or label name.
  Counter& GetCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds, const Labels& labels = {});
  // A series read from `fn` at each scrape, as a gauge or a counter. Returns an id for
  // RemoveSampled (call it before whatever `fn` reads goes away). `fn` runs under the registry's
  // lock: keep it cheap and never call the registry from it.
  size_t AddSampled(const std::string& name, const std::string& help, bool counter,
                    const Labels& labels, std::function<double()> fn);
  void RemoveSampled(size_t id);

  // The text exposition format (version 0.0.4), families in registration order.
  std::string Expose() const;

 private:
  struct Family;
  Family& FamilyFor(const std::string& name, const std::string& help, int type,
                    const Labels& labels);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  size_t next_sampled_id_ = 1;
};

// The process-wide registry `serve` exposes on /metrics.
Registry& Global();

// Escapes a label value for the exposition format (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& v);

}  // namespace sandgate::metrics
