#include "http/connection_deadlines.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <memory>
#include <optional>

namespace sandgate::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// A connected pair of loopback sockets on `ioc`: `server` is the one the deadline watches.
struct Pair {
  explicit Pair(asio::io_context& ioc) : server(ioc), client(ioc) {
    tcp::acceptor acc(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acc.local_endpoint());
    acc.accept(server);
  }
  tcp::socket server, client;
};

// Starts a read on `s`; `*done` gets its error code when it completes.
void StartRead(tcp::socket& s, std::optional<boost::system::error_code>* done) {
  static char buf[16];
  s.async_read_some(asio::buffer(buf),
                    [done](boost::system::error_code ec, size_t) { *done = ec; });
}

TEST(DeadlineSweep, ClosesAConnectionWhoseDeadlinePassedAndNoOther) {
  asio::io_context ioc;
  DeadlineSweep sweep;
  Pair late(ioc), early(ioc), idle(ioc);
  ConnectionDeadline dl_late(sweep, late.server), dl_early(sweep, early.server),
      dl_idle(sweep, idle.server);
  EXPECT_EQ(sweep.size(), 3u);
  std::optional<boost::system::error_code> r_late, r_early, r_idle;
  StartRead(late.server, &r_late);
  StartRead(early.server, &r_early);
  StartRead(idle.server, &r_idle);
  const auto t0 = Clock::now();
  dl_late.Set(t0 + seconds(10));
  dl_early.Set(t0 + seconds(1));
  dl_idle.Clear();  // no operation pending as far as the deadline knows: never closed
  EXPECT_EQ(sweep.SweepOnce(t0), 0u);
  EXPECT_EQ(sweep.SweepOnce(t0 + seconds(1)), 1u);  // at the instant itself
  EXPECT_TRUE(dl_early.expired());
  EXPECT_FALSE(dl_late.expired());
  ioc.poll();
  ASSERT_TRUE(r_early.has_value());
  EXPECT_TRUE(*r_early);  // the pending read ended with an error
  EXPECT_FALSE(r_late.has_value());
  EXPECT_FALSE(r_idle.has_value());
  // Swept once: not counted again.
  EXPECT_EQ(sweep.SweepOnce(t0 + seconds(5)), 0u);
  EXPECT_EQ(sweep.SweepOnce(t0 + seconds(100)), 1u);
  EXPECT_FALSE(dl_idle.expired());
  ioc.poll();
  EXPECT_TRUE(r_late.has_value());
  EXPECT_FALSE(r_idle.has_value());
  idle.server.cancel();
  ioc.poll();
}

TEST(DeadlineSweep, ConnectionsLeaveTheSweepInAnyOrder) {
  asio::io_context ioc;
  DeadlineSweep sweep;
  Pair a(ioc), b(ioc), c(ioc);
  auto da = std::make_unique<ConnectionDeadline>(sweep, a.server);
  auto db = std::make_unique<ConnectionDeadline>(sweep, b.server);
  auto dc = std::make_unique<ConnectionDeadline>(sweep, c.server);
  db.reset();  // the middle one
  EXPECT_EQ(sweep.size(), 2u);
  const auto t0 = Clock::now();
  da->Set(t0);
  dc->Set(t0);
  EXPECT_EQ(sweep.SweepOnce(t0), 2u);
  EXPECT_TRUE(b.server.is_open());  // gone from the sweep before its deadline could be seen
  dc.reset();                       // the head
  da.reset();                       // the last
  EXPECT_EQ(sweep.size(), 0u);
  EXPECT_EQ(sweep.SweepOnce(t0 + seconds(100)), 0u);
}

TEST(DeadlineSweep, RunEnforcesADeadlineWithinAPeriod) {
  asio::io_context ioc;
  DeadlineSweep sweep;
  Pair p(ioc);
  ConnectionDeadline dl(sweep, p.server);
  std::optional<boost::system::error_code> r;
  std::optional<Clock::time_point> ended;
  static char buf[16];
  p.server.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, size_t) {
    r = ec;
    ended = Clock::now();
    ioc.stop();
  });
  const auto t0 = Clock::now();
  dl.SetAfter(milliseconds(100));
  asio::co_spawn(ioc, sweep.Run(), asio::detached);
  ioc.run_for(seconds(3));
  ASSERT_TRUE(r.has_value()) << "the sweep never closed the connection";
  EXPECT_TRUE(*r);
  EXPECT_GE(*ended - t0, milliseconds(90));  // CoarseNow is a few milliseconds behind
  EXPECT_LT(*ended - t0, milliseconds(100) + 2 * DeadlineSweep::kPeriod + milliseconds(500));
}

TEST(CoarseNow, IsOnSteadyClocksTimeBase) {
  const auto a = Clock::now();
  const auto c = CoarseNow();
  const auto b = Clock::now();
  EXPECT_GE(c, a - milliseconds(50));
  EXPECT_LE(c, b);
}

}  // namespace
}  // namespace sandgate::http
