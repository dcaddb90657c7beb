#include "app/sd_notify.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace sandgate::app {

Status NotifySocket(const std::string& socket_path, const std::string& state) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof addr.sun_path ||
      (socket_path[0] != '/' && socket_path[0] != '@'))
    return Status::Invalid("NOTIFY_SOCKET_INVALID",
                           "NOTIFY_SOCKET must be an absolute path or an abstract name (@...).");
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Status(500, "NOTIFY_FAILED", std::string("Cannot create a socket: ") + strerror(errno));
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(state.size()))
    return Status(500, "NOTIFY_FAILED",
                  "Cannot notify systemd at " + socket_path + ": " + strerror(err));
  return Status::Ok();
}

bool Notify(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return false;
  Status st = NotifySocket(path, state);
  if (!st.ok()) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) spdlog::warn("{}", st.message());
    return false;
  }
  return true;
}

std::optional<std::chrono::microseconds> WatchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec || !*usec) return std::nullopt;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && *pid) {
    char* end = nullptr;
    long p = std::strtol(pid, &end, 10);
    if (*end != '\0' || p != static_cast<long>(getpid())) return std::nullopt;
  }
  char* end = nullptr;
  unsigned long long v = std::strtoull(usec, &end, 10);
  if (*end != '\0' || v == 0 || v > 24ull * 3600 * 1000000) return std::nullopt;
  return std::chrono::microseconds(v);
}

WatchdogPinger::WatchdogPinger(std::chrono::microseconds interval) {
  const auto period = std::max(interval / 2, std::chrono::microseconds(1000));
  thread_ = std::thread([this, period] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      lock.unlock();
      Notify("WATCHDOG=1");
      lock.lock();
      cv_.wait_for(lock, period, [this] { return stop_; });
    }
  });
}

WatchdogPinger::~WatchdogPinger() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace sandgate::app
