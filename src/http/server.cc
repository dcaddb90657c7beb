#include "http/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/json.hpp>
#include <thread>
#include <vector>

#include "common/secret.h"

namespace sandgate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

void AddCommonHeaders(Response& res) {
  res.set(bhttp::field::server, "sandgate");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
  if (res.find(bhttp::field::cache_control) == res.end())
    res.set(bhttp::field::cache_control, "no-store");
}

Response JsonError(unsigned version, int status, const std::string& code,
                   const std::string& message) {
  Response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::content_type, "application/json");
  boost::json::object o;
  o["code"] = code;
  o["message"] = message;
  res.body() = boost::json::serialize(o);
  return res;
}

namespace {

bool ExpectsContinue(const RequestHeader& h) {
  auto it = h.find(bhttp::field::expect);
  return it != h.end() && beast::iequals(it->value(), "100-continue");
}

asio::awaitable<beast::error_code> SendContinue(beast::tcp_stream& stream) {
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(kContinue, sizeof kContinue - 1),
                                            asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

// Reads a body in the caller's buffers through a buffer_body parser: constant memory whatever the
// body's size.
class StreamBodyReader : public BodyReader {
 public:
  StreamBodyReader(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                   bhttp::request_parser<bhttp::buffer_body>& parser, std::chrono::seconds timeout)
      : stream_(stream), buffer_(buffer), parser_(parser), timeout_(timeout) {
    expect_continue_ = ExpectsContinue(parser_.get());
  }

  asio::awaitable<Result<size_t>> Read(char* buf, size_t n) override {
    if (gone_) co_return Status(499, "CLIENT_GONE", "The client went away.");
    if (parser_.is_done()) co_return size_t{0};
    if (expect_continue_) {
      expect_continue_ = false;
      if (auto ec = co_await SendContinue(stream_)) {
        gone_ = true;
        co_return Status(499, "CLIENT_GONE", "The client went away.");
      }
    }
    for (;;) {
      parser_.get().body().data = buf;
      parser_.get().body().size = n;
      parser_.get().body().more = true;
      stream_.expires_after(timeout_);
      auto [ec, unused] = co_await bhttp::async_read_some(stream_, buffer_, parser_,
                                                          asio::as_tuple(asio::use_awaitable));
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == bhttp::error::body_limit) {
        co_return Status(413, "PAYLOAD_TOO_LARGE", "The request body is too large.");
      }
      if (ec) {
        gone_ = true;
        co_return Status(499, "CLIENT_GONE", "The client went away.");
      }
      size_t got = n - parser_.get().body().size;
      if (got > 0 || parser_.is_done()) co_return got;
    }
  }
  std::optional<uint64_t> content_length() const override {
    auto n = parser_.content_length();
    return n ? std::optional<uint64_t>(*n) : std::nullopt;
  }
  bool done() const override { return parser_.is_done(); }
  bool gone() const { return gone_; }

 private:
  beast::tcp_stream& stream_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  std::chrono::seconds timeout_;
  bool expect_continue_ = false;
  bool gone_ = false;
};

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  std::shared_ptr<const Router> router;
  asio::io_context ioc;
  asio::thread_pool blocking;
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc};
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};

  Impl(ServerOptions o, std::shared_ptr<const Router> r)
      : opt(std::move(o)), router(std::move(r)), ioc(Threads()), blocking(opt.blocking_threads) {}

  int Threads() const {
    if (opt.threads > 0) return opt.threads;
    return std::max(1u, std::thread::hardware_concurrency());
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::make_strand(ioc),
                                                       asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      auto ex = sock.get_executor();
      asio::co_spawn(ex, Connection(beast::tcp_stream(std::move(sock))), asio::detached);
    }
  }

  asio::awaitable<Response> RunHandler(const Route& route, Request& req, RequestContext& ctx) {
    if (!route.options.blocking) co_return route.handler(req, ctx);
    co_return co_await asio::co_spawn(
        blocking, [&]() -> asio::awaitable<Response> { co_return route.handler(req, ctx); },
        asio::use_awaitable);
  }

  asio::awaitable<void> Connection(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    beast::error_code ec;
    std::string client;
    {
      auto ep = stream.socket().remote_endpoint(ec);
      if (ec) co_return;
      client = ep.address().to_string();
    }
    bool first = true;
    for (;;) {
      bhttp::request_parser<bhttp::empty_body> head;
      head.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
      head.body_limit(boost::none);
      stream.expires_after(first ? opt.header_timeout : opt.idle_timeout);
      first = false;
      auto [rec, rn] = co_await bhttp::async_read_header(stream, buffer, head,
                                                         asio::as_tuple(asio::use_awaitable));
      if (rec) {
        if (rec == bhttp::error::header_limit) {
          co_await WriteError(stream, 11, 431, "HEADERS_TOO_LARGE",
                              "Request headers are too large.");
        } else if (rec != bhttp::error::end_of_stream && rec != beast::error::timeout &&
                   rec != asio::error::connection_reset && rec != asio::error::eof &&
                   rec != asio::error::operation_aborted && rn > 0) {
          co_await WriteError(stream, 11, 400, "BAD_REQUEST", "The request is not valid HTTP/1.1.");
        }
        break;
      }
      // Slow headers after the first byte are still bounded by the header timeout.
      in_flight++;
      bool keep = co_await Serve(stream, buffer, head, client);
      in_flight--;
      if (!keep || stopping) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  asio::awaitable<void> WriteError(beast::tcp_stream& stream, unsigned version, int status,
                                   const std::string& code, const std::string& msg) {
    Response res = JsonError(version, status, code, msg);
    AddCommonHeaders(res);
    res.keep_alive(false);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(5));
    co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
  }

  // Serves one request whose header has been read. Returns whether to keep the connection.
  asio::awaitable<bool> Serve(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                              bhttp::request_parser<bhttp::empty_body>& head,
                              const std::string& client) {
    auto started = std::chrono::steady_clock::now();
    const auto& h = head.get();
    const bool has_body = head.content_length().value_or(0) > 0 || head.chunked();
    const std::string method(h.method_string());
    const unsigned version = h.version();
    RequestContext ctx;
    ctx.client_addr = client;
    Response res;
    bool keep = h.keep_alive();
    bool body_read = false;
    Request req;
    Router::Match match;
    if (!SplitTarget(h.target(), &ctx.path, &ctx.query)) {
      res = JsonError(version, 400, "BAD_REQUEST", "The request target is not valid.");
    } else {
      match = router->Find(h.method(), ctx.path);
      if (!match.route) {
        res = match.status == 405 ? JsonError(version, 405, "METHOD_NOT_ALLOWED",
                                              "This method is not allowed here.")
                                  : JsonError(version, 404, "NOT_FOUND", "No such resource.");
        if (match.status == 405) res.set(bhttp::field::allow, match.allow);
      } else if (head.content_length() &&
                 *head.content_length() > match.route->options.body_limit) {
        if (match.route->options.numeric_error_codes) {
          res = Response{bhttp::status::payload_too_large, version};
          res.set(bhttp::field::content_type, "application/json");
          res.body() = R"({"code":413,"message":"File too large"})";
        } else {
          res = JsonError(version, 413, "PAYLOAD_TOO_LARGE", "The request body is too large.");
        }
      } else if (match.route->stream_handler) {
        bhttp::request_parser<bhttp::buffer_body> sp(std::move(head));
        sp.body_limit(match.route->options.body_limit);
        StreamBodyReader reader(stream, buffer, sp, opt.body_timeout);
        ctx.params = std::move(match.params);
        ctx.blocking = &blocking;
        res = co_await match.route->stream_handler(sp.get(), ctx, reader);
        if (reader.gone()) co_return false;  // nobody to answer
        // An early answer (401, 429, ...) to a small body: read and drop the rest, so the
        // connection can be kept instead of costing the client a new one.
        constexpr uint64_t kDrainLimit = 64 * 1024;
        if (!reader.done() && reader.content_length() && *reader.content_length() <= kDrainLimit) {
          char scratch[8192];
          for (;;) {
            auto got = co_await reader.Read(scratch, sizeof scratch);
            if (!got.ok() || *got == 0) break;
          }
          if (reader.gone()) co_return false;
        }
        body_read = reader.done();
      } else {
        if (ExpectsContinue(h) && has_body) {
          if (co_await SendContinue(stream)) co_return false;
        }
        bhttp::request_parser<bhttp::string_body> full(std::move(head));
        full.body_limit(match.route->options.body_limit);
        stream.expires_after(opt.body_timeout);
        auto [ec, n] =
            co_await bhttp::async_read(stream, buffer, full, asio::as_tuple(asio::use_awaitable));
        if (ec == bhttp::error::body_limit) {
          res = JsonError(11, 413, "PAYLOAD_TOO_LARGE", "The request body is too large.");
        } else if (ec) {
          co_return false;  // client went away or timed out mid-body
        } else {
          body_read = true;
          req = full.release();
          ctx.params = std::move(match.params);
          ctx.blocking = &blocking;
          res = co_await RunHandler(*match.route, req, ctx);
        }
      }
    }
    // A request whose body we did not read cannot be followed on this connection.
    if (!body_read && has_body) keep = false;
    if (stopping) keep = false;
    res.version(11);
    AddCommonHeaders(res);
    res.keep_alive(keep);
    res.prepare_payload();
    stream.expires_after(opt.body_timeout);
    auto [wec, wn] = co_await bhttp::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count();
    spdlog::info("{} {} {} {} {:.1f}ms", client, method, ctx.path, res.result_int(), ms);
    // Bodies and query strings may carry secrets (passwords, a revealed token, api_token): wipe
    // them before their memory is freed.
    Wipe(res.body());
    Wipe(req.body());
    Wipe(ctx.query);
    co_return keep && !wec;
  }
};

Server::Server(ServerOptions options, std::shared_ptr<const Router> router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

Server::~Server() { impl_->blocking.join(); }

Status Server::Bind() {
  std::string host = "127.0.0.1";
  std::string port_s;
  const std::string& l = impl_->opt.listen;
  size_t colon = l.rfind(':');
  if (colon == std::string::npos)
    return Status::Invalid("INVALID_LISTEN", "The listen address is HOST:PORT.");
  host = l.substr(0, colon);
  port_s = l.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  beast::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Status::Invalid("INVALID_LISTEN", "The listen host must be an IP address.");
  int port = 0;
  try {
    port = std::stoi(port_s);
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) return Status::Invalid("INVALID_LISTEN", "The port is 0 to 65535.");
  tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  auto& acc = impl_->acceptor;
  acc.open(ep.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(ep, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status(500, "LISTEN_FAILED", "Cannot listen on " + l + ": " + ec.message());
  return Status::Ok();
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string Server::address() const {
  auto ep = impl_->acceptor.local_endpoint();
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

void Server::Stop() {
  asio::post(impl_->ioc, [this] {
    if (impl_->stopping.exchange(true)) return;
    spdlog::info("stopping: no new connections, draining {} in-flight requests",
                 impl_->in_flight.load());
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->signals.cancel(ec);
    asio::co_spawn(
        impl_->ioc,
        [this]() -> asio::awaitable<void> {
          auto deadline = std::chrono::steady_clock::now() + impl_->opt.drain_timeout;
          asio::steady_timer t(impl_->ioc);
          while (impl_->in_flight > 0 && std::chrono::steady_clock::now() < deadline) {
            t.expires_after(std::chrono::milliseconds(20));
            co_await t.async_wait(asio::use_awaitable);
          }
          impl_->ioc.stop();
        },
        asio::detached);
  });
}

void Server::WaitForSignal() {
  impl_->signals.async_wait([this](const beast::error_code& ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      spdlog::info("received SIGHUP: reloading");
      asio::post(impl_->blocking, impl_->opt.on_reload);
      WaitForSignal();
      return;
    }
    spdlog::info("received signal {}", sig);
    Stop();
  });
}

void Server::Run() {
  auto& im = *impl_;
  if (im.opt.handle_signals) {
    im.signals.add(SIGTERM);
    im.signals.add(SIGINT);
    if (im.opt.on_reload) im.signals.add(SIGHUP);
    WaitForSignal();
  }
  asio::co_spawn(im.ioc, im.Accept(), asio::detached);
  std::vector<std::thread> threads;
  int n = im.Threads();
  for (int i = 1; i < n; ++i) threads.emplace_back([&] { im.ioc.run(); });
  im.ioc.run();
  for (auto& t : threads) t.join();
  spdlog::info("stopped");
}

}  // namespace sandgate::http
