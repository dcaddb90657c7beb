// Group commit: many threads' small writes share one transaction, and so one fsync.
//
// Write(fn) queues fn and blocks until it is durable. The caller whose write is first in the queue
// while no batch is running leads (LevelDB's writer queue): it takes every queued fn (up to
// max_batch), in arrival order, runs them inside one Store::Write on its own thread and wakes
// their callers with the outcome; the next caller in line then leads the next batch. No thread of
// its own: a lone writer commits at once, with no hand-off (issue 19, target 3). The contract
// for each caller is Store::Write's: OK means fn's changes are committed and durable; an error
// means none of them are. If a shared transaction fails (one fn refused, or the commit failed),
// each fn of that batch is run again in a transaction of its own, so one caller's error is never
// another's. Hence fn must be safe to run twice (it is rolled back in between), must not depend on
// the thread it runs on, and must not depend on when it runs relative to writes outside this
// committer. Never call Write inside a transaction of the same store (the leader would wait for
// it forever).
//
// WriteAsync queues a write without blocking its caller, so an I/O thread can queue a write and
// be told its outcome later. When nobody leads, a blocked caller in the queue leads (even if it
// is not first in line); with none, a task handed to the caller's `spawn` (a thread pool) does.
// So a pool whose threads are all blocked in Write never waits for that task.
//
// Thread-safe. Destroy only when no Write, WriteEach or WriteAsync is in progress (every
// WriteAsync's `done` has run) and no task handed to `spawn` is still to run (join the pool
// first: such a task may outlive the writes it was handed out for).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "store/store.h"

namespace sandgate::store {

// A write in two steps, so that a batch sends every write's calls before it waits for any answer
// (Tx::Send*; PostgreSQL then answers the whole batch in one round trip: issue 19, target 6).
// `send` makes the write's calls or starts them (Send*); `finish`, when set, takes their answers
// (Take*) and may make more calls. In a shared transaction every write's send runs, in queue
// order, before any finish: so a finish must not rely on nothing having run since its send (the
// other writes' sends did). Both steps run again when a shared transaction is run again alone.
struct StagedWrite {
  std::function<Status(Tx&)> send;
  std::function<Status(Tx&)> finish;  // may be empty
  // Both steps, one after the other, in `tx`.
  Status Run(Tx& tx) const {
    if (Status st = send(tx); !st.ok()) return st;
    return finish ? finish(tx) : Status::Ok();
  }
};

// Runs write_at(i) for every i < n in one Store::Write: every send, then every finish. If that
// fails and n > 1, runs each i again in a Write of its own, so one's error is never another's
// (each must be safe to run twice). Returns each i's outcome, in order; adds the Writes it made
// to *transactions if given.
std::vector<Status> WriteIsolatingFailures(
    Store& store, size_t n, const std::function<const StagedWrite&(size_t i)>& write_at,
    uint64_t* transactions = nullptr);

class GroupCommitter {
 public:
  // `store` must outlive the committer. `max_batch`: most fns per shared transaction.
  explicit GroupCommitter(Store& store, size_t max_batch = 64);
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  Status Write(const std::function<Status(Tx&)>& fn);
  // The same for a write in two steps (see StagedWrite).
  Status Write(const StagedWrite& w);

  // Queues fn_at(tx, i) for every i < n as n separate writes (sharing transactions with each
  // other and with everyone else's) and blocks until all are done; returns each one's outcome,
  // in order. One's error is never another's, as with Write.
  std::vector<Status> WriteEach(size_t n, const std::function<Status(Tx&, size_t i)>& fn_at);
  // The same for writes in two steps (see StagedWrite).
  std::vector<Status> WriteEach(const std::vector<StagedWrite>& writes);

  // Runs `task` later on another thread (a pool); never inline.
  using Spawn = std::function<void(std::function<void()>)>;
  // Queues w and returns at once. When w is committed, or has failed (Write's contract), `done`
  // runs with the outcome on the thread that ran its batch, outside the committer's lock: it should
  // hand the outcome on (post it), not block or write through this committer. `spawn` gets the
  // task that leads batches when nobody leads (the last one given is kept). w must stay valid
  // until done has run.
  void WriteAsync(const StagedWrite& w, std::function<void(Status)> done, Spawn spawn);

  // Transactions committed so far (shared and single), for tests and metrics.
  uint64_t transactions() const;

 private:
  struct Pending {
    const StagedWrite* write;
    Status result;
    bool done = false;           // guarded by mu_
    std::condition_variable cv;  // its caller's own: woken when done or when it is to lead
    // Set for a WriteAsync: nobody waits on cv; the queue owns this Pending and the batch that
    // runs it calls on_done and deletes it.
    std::function<void(Status)> on_done;
  };
  // Queues pending[0..n) and returns once all are done, leading batches whenever no batch is
  // running and one of them, or an asynchronous write, is first in line.
  void QueueAndWait(Pending* pending, size_t n);
  // Runs one batch from the front of the queue; `lock` holds mu_ (released while it runs).
  // noexcept: an exception would leave the batch's callers waiting forever with no leader, so it
  // ends the process instead (as it did when a committer thread ran the batches).
  void Lead(std::unique_lock<std::mutex>& lock) noexcept;
  // With mu_ held: when nobody leads and the queue is not empty, makes sure someone will (wakes
  // the first blocked caller in the queue, or, with none, hands a Drain to spawn_).
  void HandOnLocked();
  // The task given to spawn_: leads batches while an asynchronous write is first in line.
  void Drain() noexcept;

  Store& store_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  std::deque<Pending*> queue_;    // guarded by mu_
  bool leading_ = false;          // guarded by mu_: a batch is running
  uint64_t transactions_ = 0;     // guarded by mu_
  bool drain_scheduled_ = false;  // guarded by mu_: a Drain was handed to spawn_ and has not begun
  Spawn spawn_;                   // guarded by mu_
};

}  // namespace sandgate::store
