// Deadlines of the connections one I/O thread serves, enforced by one timer (issue 19).
//
// Before a read or a write a connection sets the instant by which the operation must finish
// (ConnectionDeadline::Set), and clears it when the operation completes (Clear). Every
// DeadlineSweep::kPeriod the thread's DeadlineSweep closes the socket of each connection whose set
// instant has passed, which ends its pending operation with an error, as Beast's per-operation
// timeouts did. A deadline thus costs two stores per operation instead of a timer armed and then
// cancelled (two trips through the scheduler), and is enforced at most one period late.
//
// Between operations (while a handler runs, on the blocking pool or not) no deadline is set, so
// nothing is closed then.
//
// Thread-safety: none. A DeadlineSweep and its ConnectionDeadlines are used only by the thread
// that runs their io_context. A ConnectionDeadline must not outlive its DeadlineSweep.
#pragma once

#include <time.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstddef>

namespace sandgate::http {

class DeadlineSweep;

// The monotonic clock as of the last kernel tick (a few milliseconds coarse, much cheaper to read
// than steady_clock): on the same time base as std::chrono::steady_clock.
inline std::chrono::steady_clock::time_point CoarseNow() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(std::chrono::seconds(ts.tv_sec) +
                                               std::chrono::nanoseconds(ts.tv_nsec));
}

// One connection's deadline. Registers with `sweep` for its lifetime; `socket` is what the sweep
// closes when the deadline passes.
class ConnectionDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  ConnectionDeadline(DeadlineSweep& sweep, boost::asio::ip::tcp::socket& socket);
  ~ConnectionDeadline();
  ConnectionDeadline(const ConnectionDeadline&) = delete;
  ConnectionDeadline& operator=(const ConnectionDeadline&) = delete;

  // The operation about to start must finish by `at`.
  void Set(Clock::time_point at) { at_ = at; }
  // ... within `d` from now.
  template <class Rep, class Period>
  void SetAfter(std::chrono::duration<Rep, Period> d) {
    at_ = CoarseNow() + d;
  }
  // No operation is pending: nothing to enforce.
  void Clear() { at_ = Clock::time_point::max(); }
  // The sweep closed the connection.
  bool expired() const { return expired_; }

 private:
  friend class DeadlineSweep;
  DeadlineSweep& sweep_;
  boost::asio::ip::tcp::socket& socket_;
  Clock::time_point at_ = Clock::time_point::max();
  bool expired_ = false;
  ConnectionDeadline* prev_ = nullptr;
  ConnectionDeadline* next_ = nullptr;
};

class DeadlineSweep {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kPeriod{250};

  DeadlineSweep() = default;
  DeadlineSweep(const DeadlineSweep&) = delete;
  DeadlineSweep& operator=(const DeadlineSweep&) = delete;

  // Sweeps every kPeriod on the calling coroutine's executor, until its io_context is stopped
  // (the frame, and the timer in it, go with the context).
  boost::asio::awaitable<void> Run();
  // Closes the socket of every connection whose deadline is at or before `now`; returns how many.
  size_t SweepOnce(Clock::time_point now);
  size_t size() const { return size_; }

 private:
  friend class ConnectionDeadline;
  ConnectionDeadline* head_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sandgate::http
