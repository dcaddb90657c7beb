#include "common/clock.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>

namespace sandgate {
namespace {

TimeMs WallNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class SystemClockImpl : public Clock {
 public:
  TimeMs now() const override { return WallNow(); }
};

class OffsetFileClockImpl : public Clock {
 public:
  explicit OffsetFileClockImpl(std::string path) : path_(std::move(path)) {}
  TimeMs now() const override {
    TimeMs wall = WallNow();
    std::lock_guard<std::mutex> lock(mu_);
    if (wall - last_read_ > 50) {
      last_read_ = wall;
      std::ifstream in(path_);
      double seconds = 0;
      if (in >> seconds) offset_ms_ = static_cast<TimeMs>(seconds * 1000);
    }
    return wall + offset_ms_;
  }

 private:
  std::string path_;
  mutable std::mutex mu_;
  mutable TimeMs last_read_ = 0;
  mutable TimeMs offset_ms_ = 0;
};

}  // namespace

std::shared_ptr<Clock> SystemClock() {
  static auto clock = std::make_shared<SystemClockImpl>();
  return clock;
}

std::shared_ptr<Clock> OffsetFileClock(std::string path) {
  return std::make_shared<OffsetFileClockImpl>(std::move(path));
}

std::string FormatIso8601(TimeMs t) {
  std::time_t secs = static_cast<std::time_t>(t / 1000);
  if (t < 0 && t % 1000 != 0) secs -= 1;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool ParseIso8601(const std::string& s, TimeMs* out) {
  int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
  int n = 0;
  std::tm tm{};
  if (s.size() == 10) {
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) return false;
  } else if (s.size() == 20) {
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 20)
      return false;
  } else if (s.size() == 24) {
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &y, &mo, &d, &h, &mi, &sec, &ms,
                    &n) != 7 ||
        n != 24)
      return false;
  } else {
    return false;
  }
  if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      sec > 60 || h < 0 || mi < 0 || sec < 0 || ms < 0)
    return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  std::time_t secs = timegm(&tm);
  // Reject dates that timegm normalised (Feb 30 and the like).
  std::tm back{};
  gmtime_r(&secs, &back);
  if (back.tm_mday != d || back.tm_mon != mo - 1) return false;
  *out = static_cast<TimeMs>(secs) * 1000 + ms;
  return true;
}

}  // namespace sandgate
