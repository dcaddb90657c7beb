#include "store/group_commit.h"

#include <vector>

#include "metrics/sandgate_metrics.h"

namespace sandgate::store {

GroupCommitter::GroupCommitter(Store& store, size_t max_batch)
    : store_(store), max_batch_(max_batch < 1 ? 1 : max_batch) {}

void GroupCommitter::QueueAndWait(Pending* pending, size_t n) {
  std::unique_lock<std::mutex> lock(mu_);
  for (size_t i = 0; i < n; ++i) queue_.push_back(&pending[i]);
  // pending[i] is done in order: each earlier one was ahead of it in the queue.
  for (size_t i = 0; i < n; ++i) {
    while (!pending[i].done) {
      // It leads when first in line, or when an asynchronous write is (whose Drain may wait for
      // a pool thread that this very caller holds).
      if (!leading_ && !queue_.empty() &&
          (queue_.front() == &pending[i] || queue_.front()->on_done)) {
        Lead(lock);
        HandOnLocked();
      } else
        pending[i].cv.wait(lock);
    }
  }
}

Status GroupCommitter::Write(const std::function<Status(Tx&)>& fn) {
  return Write(StagedWrite{fn, nullptr});
}

Status GroupCommitter::Write(const StagedWrite& w) {
  Pending p{&w, Status::Ok(), false, {}, nullptr};
  QueueAndWait(&p, 1);
  return p.result;
}

std::vector<Status> GroupCommitter::WriteEach(size_t n,
                                              const std::function<Status(Tx&, size_t i)>& fn_at) {
  std::vector<StagedWrite> writes;
  writes.reserve(n);
  for (size_t i = 0; i < n; ++i)
    writes.push_back(StagedWrite{[&fn_at, i](Tx& tx) { return fn_at(tx, i); }, nullptr});
  return WriteEach(writes);
}

std::vector<Status> GroupCommitter::WriteEach(const std::vector<StagedWrite>& writes) {
  const size_t n = writes.size();
  auto pending = std::make_unique<Pending[]>(n);  // stable addresses (a Pending cannot move)
  for (size_t i = 0; i < n; ++i) pending[i].write = &writes[i];
  QueueAndWait(pending.get(), n);
  std::vector<Status> results;
  results.reserve(n);
  for (size_t i = 0; i < n; ++i) results.push_back(std::move(pending[i].result));
  return results;
}

void GroupCommitter::WriteAsync(const StagedWrite& w, std::function<void(Status)> done,
                                Spawn spawn) {
  auto* p = new Pending{&w, Status::Ok(), false, {}, std::move(done)};
  std::lock_guard<std::mutex> lock(mu_);
  spawn_ = std::move(spawn);
  queue_.push_back(p);
  HandOnLocked();
}

void GroupCommitter::HandOnLocked() {
  if (leading_ || queue_.empty()) return;
  // A blocked caller leads if there is one: the first in line (a Drain might have to wait for a
  // pool thread that such callers hold).
  for (Pending* p : queue_) {
    if (!p->on_done) {
      p->cv.notify_one();
      return;
    }
  }
  if (drain_scheduled_) return;
  drain_scheduled_ = true;
  spawn_([this] { Drain(); });  // only queues the task (never runs it inline)
}

void GroupCommitter::Drain() noexcept {
  std::unique_lock<std::mutex> lock(mu_);
  drain_scheduled_ = false;
  while (!leading_ && !queue_.empty() && queue_.front()->on_done) Lead(lock);
  HandOnLocked();
}

uint64_t GroupCommitter::transactions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return transactions_;
}

std::vector<Status> WriteIsolatingFailures(
    Store& store, size_t n, const std::function<const StagedWrite&(size_t i)>& write_at,
    uint64_t* transactions) {
  Status shared = store.Write([&](Tx& tx) -> Status {
    for (size_t i = 0; i < n; ++i)
      if (Status st = write_at(i).send(tx); !st.ok()) return st;
    for (size_t i = 0; i < n; ++i) {
      const StagedWrite& w = write_at(i);
      if (!w.finish) continue;
      if (Status st = w.finish(tx); !st.ok()) return st;
    }
    return Status::Ok();
  });
  uint64_t txs = 1;
  std::vector<Status> results;
  results.reserve(n);
  if (shared.ok() || n == 1) {
    results.assign(n, shared);
  } else {
    // Someone's fn refused or the commit failed: nothing of the batch is stored. Each fn gets its
    // own transaction and its own outcome.
    for (size_t i = 0; i < n; ++i)
      results.push_back(store.Write([&](Tx& tx) { return write_at(i).Run(tx); }));
    txs += n;
  }
  if (transactions) *transactions += txs;
  return results;
}

void GroupCommitter::Lead(std::unique_lock<std::mutex>& lock) noexcept {
  leading_ = true;
  std::vector<Pending*> batch;
  while (!queue_.empty() && batch.size() < max_batch_) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  lock.unlock();
  uint64_t txs = 0;
  if (metrics::Enabled())
    metrics::M().group_commit_batch->Observe(static_cast<double>(batch.size()));
  std::vector<Status> results;
  {
    metrics::ScopedTimer timed(metrics::TxTimer(metrics::TxKind::kGroupCommit));
    results = WriteIsolatingFailures(
        store_, batch.size(), [&](size_t i) -> const StagedWrite& { return *batch[i]->write; },
        &txs);
  }
  // An asynchronous write's outcome is handed on outside the lock; then its Pending goes.
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i]->on_done) continue;
    std::unique_ptr<Pending> owned(batch[i]);
    batch[i] = nullptr;
    owned->on_done(std::move(results[i]));
  }
  lock.lock();
  // Woken under the lock: a caller may return (and its Pending go) as soon as it sees `done`, so
  // no Pending of this batch is touched after the lock is released.
  transactions_ += txs;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i]) continue;
    batch[i]->result = std::move(results[i]);
    batch[i]->done = true;
    batch[i]->cv.notify_one();
  }
  leading_ = false;
  // The caller hands on (HandOnLocked): the next in line leads.
}

}  // namespace sandgate::store
