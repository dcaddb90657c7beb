// Clock: the seam through which all code reads the time, so tests can move it.
// Times are milliseconds since the Unix epoch (UTC). Implementations are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace sandgate {

using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now() const = 0;
};

// The real wall clock.
std::shared_ptr<Clock> SystemClock();

// Wall clock plus an offset in seconds read from a file (re-read at most every 50 ms). Used by the
// black-box tests (SANDGATE_TEST_CLOCK_FILE) to move time forward without waiting.
std::shared_ptr<Clock> OffsetFileClock(std::string path);

// A clock tests set by hand.
class ManualClock : public Clock {
 public:
  explicit ManualClock(TimeMs t) : t_(t) {}
  TimeMs now() const override { return t_; }
  void set(TimeMs t) { t_ = t; }
  void advance(TimeMs d) { t_ += d; }

 private:
  TimeMs t_;
};

// "2026-11-29T09:00:00Z" (seconds precision; milliseconds are dropped).
std::string FormatIso8601(TimeMs t);
// Accepts "YYYY-MM-DDTHH:MM:SSZ", "YYYY-MM-DDTHH:MM:SS.sssZ" and "YYYY-MM-DD" (midnight UTC).
bool ParseIso8601(const std::string& s, TimeMs* out);

}  // namespace sandgate
