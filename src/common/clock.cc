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
  int64_t secs = t / 1000;
  if (t < 0 && t % 1000 != 0) secs -= 1;
  int64_t days = secs / 86400, rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  if (y < 1000 || y > 9999) {  // not four digits: as strftime writes it (unpadded)
    std::time_t ts = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&ts, &tm);
    char buf[48];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }
  char buf[20] = {'0', '0', '0', '0', '-', '0', '0', '-', '0', '0',
                  'T', '0', '0', ':', '0', '0', ':', '0', '0', 'Z'};
  auto put = [&buf](int at, int64_t v, int width) {
    for (int i = width - 1; i >= 0; --i, v /= 10) buf[at + i] = static_cast<char>('0' + v % 10);
  };
  put(0, y, 4);
  put(5, m, 2);
  put(8, d, 2);
  put(11, rem / 3600, 2);
  put(14, rem / 60 % 60, 2);
  put(17, rem % 60, 2);
  return std::string(buf, sizeof buf);
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
