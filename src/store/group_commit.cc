#include "store/group_commit.h"

#include <vector>

#include "metrics/sandgate_metrics.h"

namespace sandgate::store {

GroupCommitter::GroupCommitter(Store& store, size_t max_batch)
    : store_(store), max_batch_(max_batch < 1 ? 1 : max_batch), committer_([this] { Run(); }) {}

GroupCommitter::~GroupCommitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  committer_.join();
}

Status GroupCommitter::Write(const std::function<Status(Tx&)>& fn) {
  Pending p{&fn, Status::Ok(), false};
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) {
    lock.unlock();
    return store_.Write(fn);
  }
  queue_.push_back(&p);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return p.done; });
  return p.result;
}

uint64_t GroupCommitter::transactions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return transactions_;
}

std::vector<Status> WriteIsolatingFailures(Store& store, size_t n,
                                           const std::function<Status(Tx&, size_t i)>& fn_at,
                                           uint64_t* transactions) {
  Status shared = store.Write([&](Tx& tx) -> Status {
    for (size_t i = 0; i < n; ++i)
      if (Status st = fn_at(tx, i); !st.ok()) return st;
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
      results.push_back(store.Write([&](Tx& tx) { return fn_at(tx, i); }));
    txs += n;
  }
  if (transactions) *transactions += txs;
  return results;
}

void GroupCommitter::Run() {
  std::vector<Pending*> batch;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and nothing left
      batch.clear();
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    uint64_t txs = 0;
    if (metrics::Enabled())
      metrics::M().group_commit_batch->Observe(static_cast<double>(batch.size()));
    metrics::ScopedTimer timed(metrics::TxTimer(metrics::TxKind::kGroupCommit));
    std::vector<Status> results = WriteIsolatingFailures(
        store_, batch.size(), [&](Tx& tx, size_t i) { return (*batch[i]->fn)(tx); }, &txs);
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Pending* p : batch) p->done = true;
      transactions_ += txs;
    }
    done_cv_.notify_all();
  }
}

}  // namespace sandgate::store
