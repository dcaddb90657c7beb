#include "app/sd_notify.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

namespace sandgate::app {
namespace {

// A real AF_UNIX datagram socket standing in for systemd's notification socket.
class NotifyReceiver {
 public:
  explicit NotifyReceiver(bool abstract) {
    char dir[] = "/tmp/sg-notify-XXXXXX";
    dir_ = mkdtemp(dir);
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t len;
    if (abstract) {
      name_ = "@sandgate-test-" + std::to_string(getpid()) + "-" + dir_.substr(dir_.size() - 6);
      std::memcpy(addr.sun_path, name_.data(), name_.size());
      addr.sun_path[0] = '\0';
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    } else {
      name_ = dir_ + "/notify";
      std::memcpy(addr.sun_path, name_.data(), name_.size());
      len = sizeof addr;
    }
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0) << strerror(errno);
  }
  ~NotifyReceiver() {
    close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& name() const { return name_; }
  // The next datagram, or "" when none arrives within 10 s.
  std::string Receive() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 10000) != 1) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

 private:
  std::string dir_, name_;
  int fd_ = -1;
};

class EnvGuard {
 public:
  ~EnvGuard() {
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
};

TEST(SdNotify, SendsTheStateToAPathSocket) {
  NotifyReceiver r(false);
  ASSERT_TRUE(NotifySocket(r.name(), "READY=1\nSTATUS=listening").ok());
  EXPECT_EQ(r.Receive(), "READY=1\nSTATUS=listening");
}

TEST(SdNotify, SendsToAnAbstractSocket) {
  NotifyReceiver r(true);
  ASSERT_TRUE(NotifySocket(r.name(), "STOPPING=1").ok());
  EXPECT_EQ(r.Receive(), "STOPPING=1");
}

TEST(SdNotify, NotifyReadsTheEnvironment) {
  EnvGuard g;
  unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(Notify("READY=1"));  // not under systemd: nothing to do
  NotifyReceiver r(false);
  setenv("NOTIFY_SOCKET", r.name().c_str(), 1);
  EXPECT_TRUE(Notify("RELOADING=1"));
  EXPECT_EQ(r.Receive(), "RELOADING=1");
}

TEST(SdNotify, RefusesBadSocketNames) {
  EXPECT_FALSE(NotifySocket("relative/path", "READY=1").ok());
  EXPECT_FALSE(NotifySocket("", "READY=1").ok());
  EXPECT_FALSE(NotifySocket("/" + std::string(200, 'x'), "READY=1").ok());
  Status st = NotifySocket("/nonexistent-dir/notify", "READY=1");
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), "NOTIFY_FAILED");
}

TEST(SdNotify, WatchdogInterval) {
  EnvGuard g;
  unsetenv("WATCHDOG_USEC");
  EXPECT_FALSE(WatchdogInterval());
  setenv("WATCHDOG_USEC", "30000000", 1);
  ASSERT_TRUE(WatchdogInterval());
  EXPECT_EQ(WatchdogInterval()->count(), 30000000);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_TRUE(WatchdogInterval());
  setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);  // meant for another process
  EXPECT_FALSE(WatchdogInterval());
  unsetenv("WATCHDOG_PID");
  setenv("WATCHDOG_USEC", "12x", 1);
  EXPECT_FALSE(WatchdogInterval());
}

TEST(SdNotify, WatchdogPingerPingsUntilDestroyed) {
  EnvGuard g;
  NotifyReceiver r(false);
  setenv("NOTIFY_SOCKET", r.name().c_str(), 1);
  {
    WatchdogPinger p(std::chrono::milliseconds(20));
    for (int i = 0; i < 3; ++i) EXPECT_EQ(r.Receive(), "WATCHDOG=1");
  }
}

}  // namespace
}  // namespace sandgate::app
