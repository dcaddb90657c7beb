// The server's timeouts through real sockets, with short settings (1 s), on one I/O thread: they
// are enforced by the thread's DeadlineSweep (connection_deadlines.h), which must close what is
// late and nothing else. The blackbox suites cover the defaults (test_slowloris: header timeout).
#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "http/server.h"

namespace sandgate::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

class ServerDeadlinesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = std::make_shared<Router>();
    router->Add(bhttp::verb::get, "/fast", [](const Request&, RequestContext&) {
      Response res{bhttp::status::ok, 11};
      res.body() = "fast";
      return res;
    });
    // Longer than every timeout, on the blocking pool: no deadline runs while a handler does.
    RouteOptions slow;
    slow.blocking = true;
    router->Add(
        bhttp::verb::get, "/slow",
        [](const Request&, RequestContext&) {
          std::this_thread::sleep_for(milliseconds(2500));
          Response res{bhttp::status::ok, 11};
          res.body() = "slow";
          return res;
        },
        slow);
    router->Add(bhttp::verb::post, "/echo", [](const Request& req, RequestContext&) {
      Response res{bhttp::status::ok, 11};
      res.body() = req.body();
      return res;
    });
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.threads = 1;
    o.blocking_threads = 2;
    o.header_timeout = seconds(1);
    o.body_timeout = seconds(1);
    o.idle_timeout = seconds(1);
    o.handle_signals = false;
    o.metrics = false;
    server_ = std::make_unique<Server>(o, router);
    ASSERT_TRUE(server_->Bind().ok());
    thread_ = std::thread([this] { server_->Run(); });
  }
  void TearDown() override {
    server_->Stop();
    thread_.join();
  }

  tcp::socket Connect() {
    tcp::socket s(ioc_);
    s.connect(tcp::endpoint(asio::ip::address_v4::loopback(), server_->port()));
    return s;
  }
  // Reads until the peer closes or `limit` passes; returns what was read and when it closed.
  struct Read {
    std::string data;
    std::optional<Clock::duration> closed_after;
  };
  static Read ReadUntilClosed(tcp::socket& s, Clock::duration limit) {
    Read r;
    const auto t0 = Clock::now();
    s.non_blocking(true);
    char buf[4096];
    while (Clock::now() - t0 < limit) {
      boost::system::error_code ec;
      size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      if (ec) {
        r.closed_after = Clock::now() - t0;
        break;
      }
      r.data.append(buf, n);
    }
    return r;
  }
  static void Send(tcp::socket& s, std::string_view data) {
    asio::write(s, asio::buffer(data.data(), data.size()));
  }

  asio::io_context ioc_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerDeadlinesTest, AnIdleKeptAliveConnectionIsClosedAfterTheIdleTimeout) {
  auto s = Connect();
  Send(s, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  Read r = ReadUntilClosed(s, seconds(5));
  EXPECT_EQ(r.data.substr(0, 12), "HTTP/1.1 200");
  ASSERT_TRUE(r.closed_after.has_value()) << "an idle connection was kept past the idle timeout";
  EXPECT_GE(*r.closed_after, milliseconds(900));
  EXPECT_LT(*r.closed_after, seconds(3));
}

TEST_F(ServerDeadlinesTest, AHandlerLongerThanEveryTimeoutStillAnswers) {
  auto s = Connect();
  Send(s, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  Read r = ReadUntilClosed(s, seconds(6));
  EXPECT_EQ(r.data.substr(0, 12), "HTTP/1.1 200") << r.data;
  EXPECT_NE(r.data.find("slow"), std::string::npos);
}

TEST_F(ServerDeadlinesTest, ADrippedBodyIsCutOffAfterTheBodyTimeout) {
  auto s = Connect();
  Send(s, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  const auto t0 = Clock::now();
  std::optional<Clock::duration> cut;
  for (int i = 0; i < 100 && !cut; ++i) {  // a byte every 200 ms: the whole body would take 20 s
    boost::system::error_code ec;
    asio::write(s, asio::buffer("a", 1), ec);
    Read r = ReadUntilClosed(s, milliseconds(200));
    if (ec || r.closed_after) cut = Clock::now() - t0;
  }
  ASSERT_TRUE(cut.has_value()) << "a dripped body held the connection";
  EXPECT_GE(*cut, milliseconds(900));
  EXPECT_LT(*cut, seconds(3));
}

TEST_F(ServerDeadlinesTest, PromptRequestsOnOneConnectionAreNeverCut) {
  auto s = Connect();
  const auto t0 = Clock::now();
  int answered = 0;
  // 3 s of requests, 300 ms apart: longer than every timeout in all, shorter between requests.
  while (Clock::now() - t0 < seconds(3)) {
    Send(s, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    char buf[4096];
    while (got.find("fast") == std::string::npos) got.append(buf, s.read_some(asio::buffer(buf)));
    ++answered;
    std::this_thread::sleep_for(milliseconds(300));
  }
  EXPECT_GE(answered, 8);
}

}  // namespace
}  // namespace sandgate::http
