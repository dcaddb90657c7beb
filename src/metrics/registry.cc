#include "metrics/registry.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace sandgate::metrics {

namespace {

std::atomic<bool> g_enabled{true};
std::atomic<size_t> g_next_shard{0};

enum Type { kCounter = 0, kGauge = 1, kHistogram = 2, kSampledGauge = 3, kSampledCounter = 4 };

bool ValidName(const std::string& n, bool label) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return !(label && n.rfind("__", 0) == 0);
}

void AppendDouble(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendUint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void AppendLabels(std::string& out, const Labels& labels, const char* extra_name = nullptr,
                  const std::string& extra_value = {}) {
  if (labels.empty() && !extra_name) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    out += EscapeLabelValue(v);
    out += '"';
  }
  if (extra_name) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

std::string EscapeHelp(const std::string& h) {
  std::string out;
  for (char c : h) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

bool Enabled() { return g_enabled.load(std::memory_order_relaxed); }
void SetEnabled(bool on) { g_enabled.store(on, std::memory_order_relaxed); }

size_t ThisShard() {
  thread_local const size_t shard = g_next_shard.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

uint64_t Counter::Value() const {
  uint64_t sum = 0;
  for (const auto& c : cells_) sum += c.v.load(std::memory_order_relaxed);
  return sum;
}

void Gauge::Set(int64_t v) {
  cells_[0].v.store(v, std::memory_order_relaxed);
  for (size_t i = 1; i < kShards; ++i) cells_[i].v.store(0, std::memory_order_relaxed);
}

int64_t Gauge::Value() const {
  int64_t sum = 0;
  for (const auto& c : cells_) sum += c.v.load(std::memory_order_relaxed);
  return sum;
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), shards_(std::make_unique<Shard[]>(kShards)) {
  for (size_t i = 1; i < bounds_.size(); ++i)
    if (!(bounds_[i] > bounds_[i - 1]))
      throw std::invalid_argument("histogram bounds must increase");
  for (size_t s = 0; s < kShards; ++s) {
    shards_[s].buckets = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
    for (size_t b = 0; b <= bounds_.size(); ++b) shards_[s].buckets[b].store(0);
  }
}

void Histogram::Observe(double v) {
  size_t b = 0;
  while (b < bounds_.size() && v > bounds_[b]) ++b;
  Shard& s = shards_[ThisShard()];
  s.buckets[b].fetch_add(1, std::memory_order_relaxed);
  s.sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot snap;
  std::vector<uint64_t> counts(bounds_.size() + 1, 0);
  for (size_t s = 0; s < kShards; ++s) {
    for (size_t b = 0; b <= bounds_.size(); ++b)
      counts[b] += shards_[s].buckets[b].load(std::memory_order_relaxed);
    snap.sum += shards_[s].sum.load(std::memory_order_relaxed);
  }
  uint64_t running = 0;
  snap.cumulative.reserve(counts.size());
  for (uint64_t c : counts) snap.cumulative.push_back(running += c);
  snap.count = running;
  return snap;
}

int64_t MonotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

ScopedTimer::ScopedTimer(Histogram* h) : h_(Enabled() ? h : nullptr) {
  if (h_) start_ns_ = MonotonicNs();
}

ScopedTimer::~ScopedTimer() {
  if (h_) h_->Observe(static_cast<double>(MonotonicNs() - start_ns_) / 1e9);
}

std::vector<double> DurationBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

struct Registry::Family {
  std::string name, help;
  int type = kCounter;
  std::vector<std::string> label_names;
  std::vector<double> bounds;
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> sample;
    size_t sampled_id = 0;
  };
  std::vector<std::unique_ptr<Series>> series;

  Series* Find(const Labels& labels) {
    for (auto& s : series)
      if (s->labels == labels) return s.get();
    return nullptr;
  }
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Family& Registry::FamilyFor(const std::string& name, const std::string& help, int type,
                                      const Labels& labels) {
  if (!ValidName(name, false)) throw std::invalid_argument("invalid metric name: " + name);
  std::vector<std::string> label_names;
  for (const auto& l : labels) {
    if (!ValidName(l.first, true) || l.first == "le")
      throw std::invalid_argument("invalid label name: " + l.first);
    label_names.push_back(l.first);
  }
  for (auto& f : families_) {
    if (f->name != name) continue;
    if (f->type != type || f->label_names != label_names)
      throw std::invalid_argument("metric " + name + " registered with another type or labels");
    return *f;
  }
  auto f = std::make_unique<Family>();
  f->name = name;
  f->help = help;
  f->type = type;
  f->label_names = std::move(label_names);
  families_.push_back(std::move(f));
  return *families_.back();
}

Counter& Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, kCounter, labels);
  if (auto* s = f.Find(labels)) return *s->counter;
  auto s = std::make_unique<Family::Series>();
  s->labels = labels;
  s->counter = std::make_unique<Counter>();
  f.series.push_back(std::move(s));
  return *f.series.back()->counter;
}

Gauge& Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, kGauge, labels);
  if (auto* s = f.Find(labels)) return *s->gauge;
  auto s = std::make_unique<Family::Series>();
  s->labels = labels;
  s->gauge = std::make_unique<Gauge>();
  f.series.push_back(std::move(s));
  return *f.series.back()->gauge;
}

Histogram& Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, kHistogram, labels);
  if (f.series.empty()) f.bounds = bounds;
  if (f.bounds != bounds)
    throw std::invalid_argument("histogram " + name + " registered with other buckets");
  if (auto* s = f.Find(labels)) return *s->histogram;
  auto s = std::make_unique<Family::Series>();
  s->labels = labels;
  s->histogram = std::make_unique<Histogram>(bounds);
  f.series.push_back(std::move(s));
  return *f.series.back()->histogram;
}

size_t Registry::AddSampled(const std::string& name, const std::string& help, bool counter,
                            const Labels& labels, std::function<double()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = FamilyFor(name, help, counter ? kSampledCounter : kSampledGauge, labels);
  if (f.Find(labels))
    throw std::invalid_argument("sampled metric " + name + " registered twice with one label set");
  auto s = std::make_unique<Family::Series>();
  s->labels = labels;
  s->sample = std::move(fn);
  s->sampled_id = next_sampled_id_++;
  f.series.push_back(std::move(s));
  return f.series.back()->sampled_id;
}

void Registry::RemoveSampled(size_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& f : families_)
    for (auto it = f->series.begin(); it != f->series.end(); ++it)
      if ((*it)->sampled_id == id) {
        f->series.erase(it);
        return;
      }
}

std::string Registry::Expose() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(16 * 1024);
  for (const auto& f : families_) {
    if (f->series.empty()) continue;
    out += "# HELP ";
    out += f->name;
    out += ' ';
    out += EscapeHelp(f->help);
    out += "\n# TYPE ";
    out += f->name;
    switch (f->type) {
      case kCounter:
      case kSampledCounter:
        out += " counter\n";
        break;
      case kHistogram:
        out += " histogram\n";
        break;
      default:
        out += " gauge\n";
    }
    for (const auto& s : f->series) {
      if (f->type == kHistogram) {
        const auto snap = s->histogram->Take();
        const auto& bounds = s->histogram->bounds();
        for (size_t b = 0; b <= bounds.size(); ++b) {
          std::string le;
          if (b < bounds.size())
            AppendDouble(le, bounds[b]);
          else
            le = "+Inf";
          out += f->name;
          out += "_bucket";
          AppendLabels(out, s->labels, "le", le);
          out += ' ';
          AppendUint(out, snap.cumulative[b]);
          out += '\n';
        }
        out += f->name;
        out += "_sum";
        AppendLabels(out, s->labels);
        out += ' ';
        AppendDouble(out, snap.sum);
        out += '\n';
        out += f->name;
        out += "_count";
        AppendLabels(out, s->labels);
        out += ' ';
        AppendUint(out, snap.count);
        out += '\n';
        continue;
      }
      out += f->name;
      AppendLabels(out, s->labels);
      out += ' ';
      if (f->type == kCounter)
        AppendUint(out, s->counter->Value());
      else if (f->type == kGauge)
        AppendDouble(out, static_cast<double>(s->gauge->Value()));
      else
        AppendDouble(out, s->sample());
      out += '\n';
    }
  }
  return out;
}

Registry& Global() {
  static Registry* r = new Registry();  // never destroyed: threads may count until exit
  return *r;
}

}  // namespace sandgate::metrics
