#include "http/connection_deadlines.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sandgate::http {

namespace asio = boost::asio;

ConnectionDeadline::ConnectionDeadline(DeadlineSweep& sweep, asio::ip::tcp::socket& socket)
    : sweep_(sweep), socket_(socket) {
  next_ = sweep_.head_;
  if (next_) next_->prev_ = this;
  sweep_.head_ = this;
  ++sweep_.size_;
}

ConnectionDeadline::~ConnectionDeadline() {
  if (prev_)
    prev_->next_ = next_;
  else
    sweep_.head_ = next_;
  if (next_) next_->prev_ = prev_;
  --sweep_.size_;
}

size_t DeadlineSweep::SweepOnce(Clock::time_point now) {
  size_t closed = 0;
  // Closing a socket only queues its pending operation's completion: nothing here runs a
  // connection's code, so the list does not change under the loop.
  for (ConnectionDeadline* c = head_; c; c = c->next_) {
    if (c->at_ > now || c->expired_) continue;
    c->expired_ = true;
    boost::system::error_code ec;
    c->socket_.close(ec);
    ++closed;
  }
  return closed;
}

asio::awaitable<void> DeadlineSweep::Run() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    timer.expires_after(kPeriod);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    SweepOnce(Clock::now());
  }
}

}  // namespace sandgate::http
