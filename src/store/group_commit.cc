#include "store/group_commit.h"

#include <vector>

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

std::vector<Status> WriteIsolatingFailures(
    Store& store, const std::vector<const std::function<Status(Tx&)>*>& fns,
    uint64_t* transactions) {
  Status shared = store.Write([&](Tx& tx) -> Status {
    for (const auto* fn : fns)
      if (Status st = (*fn)(tx); !st.ok()) return st;
    return Status::Ok();
  });
  uint64_t txs = 1;
  std::vector<Status> results;
  results.reserve(fns.size());
  if (shared.ok() || fns.size() == 1) {
    results.assign(fns.size(), shared);
  } else {
    // Someone's fn refused or the commit failed: nothing of the batch is stored. Each fn gets its
    // own transaction and its own outcome.
    for (const auto* fn : fns) results.push_back(store.Write(*fn));
    txs += fns.size();
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
    std::vector<const std::function<Status(Tx&)>*> fns;
    fns.reserve(batch.size());
    for (Pending* p : batch) fns.push_back(p->fn);
    std::vector<Status> results = WriteIsolatingFailures(store_, fns, &txs);
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
