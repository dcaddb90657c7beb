// systemd's readiness protocol without libsystemd: a datagram to the AF_UNIX socket named by
// $NOTIFY_SOCKET ("/path" or "@abstract"), as sd_notify(3) describes. Used by `serve` under
// sandgate.service (Type=notify): READY=1 once listening, RELOADING=1 + READY=1 around a SIGHUP
// reload, STOPPING=1 when the drain starts, WATCHDOG=1 every half of $WATCHDOG_USEC.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/status.h"

namespace sandgate::app {

// Sends `state` (e.g. "READY=1\nSTATUS=listening") to `socket_path`. OK when sent; an error names
// the path, never the state.
Status NotifySocket(const std::string& socket_path, const std::string& state);

// Sends `state` to $NOTIFY_SOCKET. Without the variable (not run by systemd) it does nothing and
// returns false; true when sent. A failure is logged once as a warning.
bool Notify(const std::string& state);

// The watchdog interval systemd asks for ($WATCHDOG_USEC, honouring $WATCHDOG_PID), if any.
std::optional<std::chrono::microseconds> WatchdogInterval();

// Sends WATCHDOG=1 every half `interval` on a thread of its own until destroyed.
class WatchdogPinger {
 public:
  explicit WatchdogPinger(std::chrono::microseconds interval);
  ~WatchdogPinger();
  WatchdogPinger(const WatchdogPinger&) = delete;
  WatchdogPinger& operator=(const WatchdogPinger&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sandgate::app
