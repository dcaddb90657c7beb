#include "http/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>
#include <vector>

#include "common/log_format.h"
#include "common/log_text.h"
#include "common/no_wait.h"
#include "common/secret.h"
#include "http/connection_deadlines.h"
#include "http/connection_limits.h"
#include "http/deadlines.h"
#include "http/http_metrics.h"
#include "http/request_filter.h"
#include "metrics/sandgate_metrics.h"
#include "token/token_format.h"

namespace sandgate::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
// The socket itself, not beast::tcp_stream: deadlines are the sweep's (ConnectionDeadline), so
// tcp_stream's per-operation timer bookkeeping would be cost without use on every read and write.
using PlainStream = tcp::socket;
using TlsStream = beast::ssl_stream<tcp::socket>;
using Clock = std::chrono::steady_clock;

void AddCommonHeaders(Response& res) {
  res.set(bhttp::field::server, "sandgate");
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "no-referrer");
  res.set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'");
  if (res.find(bhttp::field::cache_control) == res.end())
    res.set(bhttp::field::cache_control, "no-store");
}

std::string CommonHeaderLines(bool tls, bool cache_control) {
  std::string out =
      "Server: sandgate\r\n"
      "X-Content-Type-Options: nosniff\r\n"
      "X-Frame-Options: DENY\r\n"
      "Referrer-Policy: no-referrer\r\n"
      "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n";
  if (cache_control) out += "Cache-Control: no-store\r\n";
  if (tls) out += "Strict-Transport-Security: max-age=31536000\r\n";
  return out;
}

namespace {

// The first field named `name` (a known field), found by walking the fields: a message has a
// handful, and the walk costs less than Beast's lookup in its field set, which compares names as
// text. The same field as basic_fields::find, whose equal names keep their insertion order.
template <class Fields>
typename Fields::const_iterator FindField(const Fields& fields, bhttp::field name) {
  auto it = fields.begin();
  while (it != fields.end() && it->name() != name) ++it;
  return it;
}

}  // namespace

Response JsonError(unsigned version, int status, const std::string& code,
                   const std::string& message) {
  Response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::content_type, "application/json");
  std::string& body = res.body();
  body.reserve(32 + code.size() + message.size());
  body = "{\"code\":";
  AppendJsonString(body, code);
  body += ",\"message\":";
  AppendJsonString(body, message);
  body += '}';
  return res;
}

void AddRequestIdToError(Response& res, const std::string& request_id) {
  std::string& body = res.body();
  if (res.result_int() < 400 || body.size() < 2 || body.front() != '{' || body.back() != '}')
    return;
  auto ct = FindField(res.base(), bhttp::field::content_type);
  if (ct == res.end() || !ct->value().starts_with("application/json")) return;
  body.pop_back();
  if (body.size() > 1) body += ',';
  body += "\"requestId\":";
  AppendJsonString(body, request_id);
  body += '}';
}

void SerializeResponse(const Response& res, std::string& out, std::string_view more_lines) {
  out.clear();
  const std::string_view reason = res.reason();
  size_t size = 16 + reason.size() + more_lines.size() + res.body().size();
  for (const auto& f : res) size += f.name_string().size() + f.value().size() + 4;
  out.reserve(size);
  out += res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  char code[4] = {static_cast<char>('0' + res.result_int() / 100 % 10),
                  static_cast<char>('0' + res.result_int() / 10 % 10),
                  static_cast<char>('0' + res.result_int() % 10), ' '};
  out.append(code, sizeof code);
  out += reason;
  out += "\r\n";
  for (const auto& f : res) {
    out += f.name_string();
    out += ": ";
    out += f.value();
    out += "\r\n";
  }
  out += more_lines;
  out += "\r\n";
  out += res.body();
}

namespace {

bool ExpectsContinue(const RequestHeader& h) {
  auto it = FindField(h, bhttp::field::expect);
  return it != h.end() && beast::iequals(it->value(), "100-continue");
}

// A body the client sent but that breaks HTTP's framing (a bad chunk size or extension, a chunk
// without its CRLF, ...), as opposed to a connection that ended or timed out: it gets a 400.
bool IsBodySyntaxError(const beast::error_code& ec) {
  return ec == bhttp::error::bad_chunk || ec == bhttp::error::bad_chunk_extension ||
         ec == bhttp::error::bad_line_ending || ec == bhttp::error::bad_field ||
         ec == bhttp::error::bad_value || ec == bhttp::error::bad_obs_fold;
}

template <class Stream>
asio::awaitable<beast::error_code> SendContinue(Stream& stream) {
  static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
  auto [ec, n] = co_await asio::async_write(stream, asio::buffer(kContinue, sizeof kContinue - 1),
                                            asio::as_tuple(asio::use_awaitable));
  co_return ec;
}

// Reads a body in the caller's buffers through a buffer_body parser: constant memory whatever the
// body's size.
// Deadlines: no pause longer than `timeout`, and the whole body within `timeout` plus one second
// per `min_rate` bytes received (a client dripping bytes cannot hold the connection open).
template <class Stream>
class StreamBodyReader : public BodyReader {
 public:
  StreamBodyReader(Stream& stream, ConnectionDeadline& deadline, beast::flat_buffer& buffer,
                   bhttp::request_parser<bhttp::buffer_body>& parser, std::chrono::seconds timeout,
                   uint64_t min_rate)
      : stream_(stream),
        deadline_(deadline),
        buffer_(buffer),
        parser_(parser),
        timeout_(timeout),
        min_rate_(min_rate),
        started_(Clock::now()) {
    expect_continue_ = ExpectsContinue(parser_.get());
  }

  asio::awaitable<Result<size_t>> Read(char* buf, size_t n) override {
    if (gone_) co_return Status(499, "CLIENT_GONE", "The client went away.");
    if (parser_.is_done()) co_return size_t{0};
    if (expect_continue_) {
      expect_continue_ = false;
      deadline_.Set(BodyDeadline(started_, Clock::now(), timeout_, received_, min_rate_));
      auto ec = co_await SendContinue(stream_);
      deadline_.Clear();
      if (ec) {
        gone_ = true;
        co_return Status(499, "CLIENT_GONE", "The client went away.");
      }
    }
    for (;;) {
      parser_.get().body().data = buf;
      parser_.get().body().size = n;
      parser_.get().body().more = true;
      const auto now = Clock::now();
      const auto deadline = BodyDeadline(started_, now, timeout_, received_, min_rate_);
      if (deadline <= now) {
        gone_ = true;
        co_return Status(499, "CLIENT_GONE", "The client is too slow.");
      }
      beast::error_code ec;
      bool parsed = false;
      if (buffer_.size() > 0) {
        // Bytes already received (with the header: a small body is often all there): parsed
        // here, as async_read_some would first do, without its round trip through the scheduler.
        buffer_.consume(parser_.put(buffer_.data(), ec));
        parsed = ec != bhttp::error::need_more;
      }
      if (!parsed) {
        deadline_.Set(deadline);
        std::tie(ec, std::ignore) = co_await bhttp::async_read_some(
            stream_, buffer_, parser_, asio::as_tuple(asio::use_awaitable));
        deadline_.Clear();
      }
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec == bhttp::error::body_limit) {
        co_return Status(413, "PAYLOAD_TOO_LARGE", "The request body is too large.");
      }
      if (IsBodySyntaxError(ec)) {
        broken_ = true;  // answered 400; the connection cannot be followed
        co_return Status(400, "BAD_REQUEST", "The request body's chunked framing is not valid.");
      }
      if (ec) {
        gone_ = true;
        co_return Status(499, "CLIENT_GONE", "The client went away.");
      }
      size_t got = n - parser_.get().body().size;
      received_ += got;
      if (got > 0 || parser_.is_done()) co_return got;
    }
  }
  std::optional<uint64_t> content_length() const override {
    auto n = parser_.content_length();
    return n ? std::optional<uint64_t>(*n) : std::nullopt;
  }
  bool done() const override { return parser_.is_done(); }
  bool gone() const { return gone_; }
  bool broken() const { return broken_; }
  // The client asked for `100 Continue` and has not been sent it: nothing of the body was asked
  // for, so a final answer may go out without it (and the connection then closes).
  bool continue_pending() const { return expect_continue_; }

 private:
  Stream& stream_;
  ConnectionDeadline& deadline_;
  beast::flat_buffer& buffer_;
  bhttp::request_parser<bhttp::buffer_body>& parser_;
  std::chrono::seconds timeout_;
  uint64_t min_rate_;
  Clock::time_point started_;
  uint64_t received_ = 0;
  bool expect_continue_ = false;
  bool gone_ = false;
  bool broken_ = false;
};

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  std::shared_ptr<const Router> router;
  // The acceptor, signals and shutdown run on `ioc` (the thread that calls Run). Connections run
  // on `workers`: one io_context per I/O thread, each run by that thread alone, and a connection
  // stays on the context that accepted it. So a connection's operations and timers never run
  // concurrently (no strand needed) and the threads share no scheduler (the nginx model).
  asio::io_context ioc{1};
  // One per worker (same index): the deadlines of the connections it serves. Declared before
  // `workers` so that connections, which go with their context, unregister from a live sweep.
  std::vector<std::unique_ptr<DeadlineSweep>> sweeps;
  std::vector<std::unique_ptr<asio::io_context>> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> worker_guards;
  size_t next_worker = 0;  // used by Accept only
  asio::thread_pool blocking;
  tcp::acceptor acceptor{ioc};
  asio::signal_set signals{ioc};
  std::atomic<int> in_flight{0};
  std::atomic<bool> stopping{false};
  ConnectionLimits limits;
  std::unique_ptr<ssl::context> tls;
  // CommonHeaderLines for this server (HSTS with TLS), without and with Cache-Control; set by
  // Bind (after LoadTls), read-only while serving.
  std::string common_lines, common_lines_cache;
  // Refused connections are logged at most once a second, with a count.
  std::atomic<uint64_t> refused{0};
  std::atomic<int64_t> last_refusal_log{0};
  // One line per request: the "access" logger when the program registered one (buffered, see
  // cli/main.cc), else the default logger.
  std::shared_ptr<spdlog::logger> access_log =
      spdlog::get("access") ? spdlog::get("access") : spdlog::default_logger();
  // Request counters by route (null when metrics are off).
  std::unique_ptr<HttpMetrics> http_metrics;

  struct Peer {
    std::string addr;  // for logs and audit records
    std::string key;   // for per-address limits (AddressKey)
  };

  Impl(ServerOptions o, std::shared_ptr<const Router> r)
      : opt(std::move(o)),
        router(std::move(r)),
        blocking(
            opt.blocking_threads > 0
                ? static_cast<size_t>(opt.blocking_threads)
                : std::min<size_t>(256, 8 * std::max(1u, std::thread::hardware_concurrency()))),
        limits(opt.max_connections, opt.max_connections_per_address) {
    if (opt.metrics && metrics::Enabled()) http_metrics = std::make_unique<HttpMetrics>(*router);
    for (int i = 0; i < Threads(); ++i) {
      sweeps.push_back(std::make_unique<DeadlineSweep>());
      workers.push_back(std::make_unique<asio::io_context>(1));
      worker_guards.push_back(asio::make_work_guard(*workers.back()));
    }
  }

  int Threads() const {
    if (opt.threads > 0) return opt.threads;
    return std::max(1u, std::thread::hardware_concurrency());
  }

  Status LoadTls() {
    if (opt.tls_cert.empty() && opt.tls_key.empty()) return Status::Ok();
    if (opt.tls_cert.empty() || opt.tls_key.empty())
      return Status::Invalid("TLS_INVALID", "TLS needs both --tls-cert and --tls-key.");
    for (const auto* f : {&opt.tls_cert, &opt.tls_key}) {
      if (access(f->c_str(), R_OK) != 0)
        return Status::Invalid(
            "TLS_INVALID", "Cannot read the TLS " +
                               std::string(f == &opt.tls_cert ? "certificate" : "key") + " file " +
                               *f + ": " + std::strerror(errno) + ".");
    }
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                     ssl::context::single_dh_use);
    SSL_CTX* native = ctx->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_options(
        native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    // TLS 1.2: forward-secret AEAD suites only (TLS 1.3 suites are all fine).
    SSL_CTX_set_cipher_list(native,
                            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                            "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                            "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
    beast::error_code ec;
    ctx->use_certificate_chain_file(opt.tls_cert, ec);
    if (ec)
      return Status::Invalid("TLS_INVALID", "The TLS certificate file " + opt.tls_cert +
                                                " is not a PEM certificate chain (" + ec.message() +
                                                ").");
    ctx->use_private_key_file(opt.tls_key, ssl::context::pem, ec);
    if (ec && ec.message().find("mismatch") != std::string::npos)
      return Status::Invalid(
          "TLS_INVALID",
          "The TLS key " + opt.tls_key + " does not match the certificate " + opt.tls_cert + ".");
    if (ec)
      return Status::Invalid(
          "TLS_INVALID",
          "The TLS key file " + opt.tls_key + " is not a PEM private key (" + ec.message() + ").");
    if (SSL_CTX_check_private_key(native) != 1)
      return Status::Invalid(
          "TLS_INVALID",
          "The TLS key " + opt.tls_key + " does not match the certificate " + opt.tls_cert + ".");
    tls = std::move(ctx);
    return Status::Ok();
  }

  void NoteRefusal(const std::string& key, ConnectionLimits::Refusal why) {
    uint64_t n = ++refused;
    if (http_metrics)
      metrics::M()
          .http_connections_refused[static_cast<int>(why == ConnectionLimits::Refusal::kTotal
                                                         ? metrics::Cap::kTotal
                                                         : metrics::Cap::kPerAddress)]
          ->Inc();
    int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    int64_t last = last_refusal_log.load();
    if (now > last && last_refusal_log.compare_exchange_strong(last, now)) {
      spdlog::warn("connection from {} refused: over the {} connection cap ({} refused so far)",
                   key, why == ConnectionLimits::Refusal::kTotal ? "total" : "per-address", n);
    }
  }

  asio::awaitable<void> Accept() {
    asio::steady_timer backoff(ioc);
    for (;;) {
      auto [ec, sock] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (stopping || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        // E.g. out of file descriptors: do not spin; connections wait in the backlog meanwhile.
        backoff.expires_after(std::chrono::milliseconds(50));
        co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      beast::error_code aec;
      auto ep = sock.remote_endpoint(aec);
      if (aec) continue;
      std::string key = AddressKey(ep.address());
      ConnectionLimits::Refusal why;
      auto ticket = limits.Admit(key, &why);
      if (!ticket) {
        NoteRefusal(key, why);
        if (!tls) {
          // Best effort, never waiting: the client learns why if it reads at all.
          static constexpr char k503[] =
              "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
          sock.non_blocking(true, aec);
          sock.write_some(asio::buffer(k503, sizeof k503 - 1), aec);
        }
        sock.shutdown(tcp::socket::shutdown_both, aec);
        sock.close(aec);
        continue;
      }
      std::string client = key;
      if (ep.address().is_v6() && !ep.address().to_v6().is_v4_mapped())
        client = ep.address().to_string();
      // The connection moves to the next I/O thread's context. Nothing pending on `ioc` (this
      // accept loop) ever refers to a worker context, so their lifetimes stay independent.
      const size_t w = next_worker++ % workers.size();
      asio::io_context& worker = *workers[w];
      const auto fd = sock.release(aec);
      if (aec) continue;
      tcp::socket conn(worker);
      conn.assign(ep.protocol(), fd, aec);
      if (aec) {
        ::close(fd);
        continue;
      }
      asio::co_spawn(
          worker,
          Start(std::move(conn), *sweeps[w], std::move(ticket), Peer{std::move(client), key}),
          asio::detached);
    }
  }

  // `ticket` holds the connection's place under the caps until the coroutine ends.
  // `sweep` is the deadline sweep of the worker that runs this connection.
  asio::awaitable<void> Start(tcp::socket sock, DeadlineSweep& sweep,
                              [[maybe_unused]] ConnectionLimits::Ticket ticket, Peer client) {
    // Counts this connection as open until the coroutine ends.
    struct OpenConnection {
      metrics::Gauge* g;
      explicit OpenConnection(bool on) : g(on ? metrics::M().http_connections_open : nullptr) {
        if (g) g->Add(1);
      }
      ~OpenConnection() {
        if (g) g->Add(-1);
      }
    } open_connection(http_metrics != nullptr);
    if (!tls) {
      PlainStream& stream = sock;
      ConnectionDeadline deadline(sweep, stream);
      co_await Connection(stream, deadline, client);
      // Lingering close: after our FIN, read and drop what the client still sends (briefly), so
      // a final answer such as a 400 is not destroyed by a reset over unread bytes.
      beast::error_code ec;
      stream.shutdown(tcp::socket::shutdown_send, ec);
      if (ec) co_return;
      deadline.SetAfter(std::chrono::seconds(1));
      char scratch[4096];
      for (size_t drained = 0; drained < 64 * 1024;) {
        auto [rec, n] = co_await stream.async_read_some(asio::buffer(scratch),
                                                        asio::as_tuple(asio::use_awaitable));
        if (rec) break;
        drained += n;
      }
      co_return;
    }
    TlsStream stream(std::move(sock), *tls);
    ConnectionDeadline deadline(sweep, beast::get_lowest_layer(stream));
    deadline.SetAfter(opt.header_timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::server,
                                                 asio::as_tuple(asio::use_awaitable));
    deadline.Clear();
    if (hec) {  // not TLS, an old protocol version, or too slow
      if (http_metrics) metrics::M().http_tls_handshake_failures->Inc();
      co_return;
    }
    co_await Connection(stream, deadline, client);
    deadline.SetAfter(std::chrono::seconds(1));
    co_await stream.async_shutdown(asio::as_tuple(asio::use_awaitable));
  }

  asio::awaitable<Response> RunHandler(const Route& route, Request& req, RequestContext& ctx) {
    if (!route.options.blocking) {
      // Answered here when it needs nothing remote; else again on the blocking pool (issue 19:
      // nothing on an I/O thread waits for PostgreSQL; common/no_wait.h).
      bool again = false;
      {
        no_wait::Scope no_wait;
        Response res = route.handler(req, ctx);
        again = no_wait::TakeWouldBlock();
        if (!again) co_return res;
      }
    }
    co_return co_await asio::co_spawn(
        blocking, [&]() -> asio::awaitable<Response> { co_return route.handler(req, ctx); },
        asio::use_awaitable);
  }

  // Reads one request header into `head`. The deadline is set once: from the connection's start
  // (first request) or from the header's first byte (later requests, which may first idle for
  // `idle_timeout`); it is never re-armed per read. Returns OK, a status to answer (400, 431), or
  // 499 when the connection just ends (closed, timed out).
  template <class Stream>
  asio::awaitable<Status> ReadHeader(Stream& stream, ConnectionDeadline& deadline,
                                     beast::flat_buffer& buffer,
                                     bhttp::request_parser<bhttp::empty_body>& head, bool first) {
    bool armed = first || buffer.size() > 0;
    // Until the header's first byte a kept-alive connection may idle; from it (from now for the
    // first request: the connection just started) the header has header_timeout.
    auto until = CoarseNow() + (armed ? opt.header_timeout : opt.idle_timeout);
    size_t scanned = 0, checked = 0;
    for (;;) {
      std::string_view data(static_cast<const char*>(buffer.data().data()), buffer.size());
      size_t end = FindHeaderEnd(data, scanned);
      if (end > opt.max_header_bytes || (end == 0 && data.size() >= opt.max_header_bytes))
        co_return Status(431, "HEADERS_TOO_LARGE", "Request headers are too large.");
      if (end == 0) {
        // Binary garbage (e.g. a TLS ClientHello on the plain port) is refused at once rather
        // than after waiting for a blank line that never comes; each byte is looked at once.
        // A bare LF (a header block ending "\n\n") is refused as soon as it arrives rather than
        // when the header timeout strikes: CheckRawHeader would refuse it anyway.
        for (; checked < data.size(); ++checked) {
          const auto u = static_cast<unsigned char>(data[checked]);
          if ((u < 0x20 && u != '\r' && u != '\n' && u != '\t') || u == 0x7f ||
              (u == '\n' && (checked == 0 || data[checked - 1] != '\r')))
            co_return Status(400, "BAD_REQUEST", "The request is not valid HTTP/1.1.");
        }
      } else {
        std::string_view raw = data.substr(0, end);
        if (Status st = CheckRawHeader(raw); !st.ok()) co_return st;
        beast::error_code ec;
        size_t used = head.put(asio::buffer(raw.data(), raw.size()), ec);
        if (ec == bhttp::error::header_limit)
          co_return Status(431, "HEADERS_TOO_LARGE", "Request headers are too large.");
        if (ec || !head.is_header_done())
          co_return Status(400, "BAD_REQUEST", "The request is not valid HTTP/1.1.");
        buffer.consume(used);
        co_return Status::Ok();
      }
      scanned = data.size() >= 3 ? data.size() - 3 : 0;
      deadline.Set(until);
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(8192),
                                                     asio::as_tuple(asio::use_awaitable));
      deadline.Clear();
      if (ec) co_return Status(499, "CLIENT_GONE", "The connection ended.");
      buffer.commit(n);
      if (!armed && n > 0) {
        armed = true;
        until = CoarseNow() + opt.header_timeout;
      }
    }
  }

  template <class Stream>
  asio::awaitable<void> Connection(Stream& stream, ConnectionDeadline& deadline,
                                   const Peer& client) {
    beast::flat_buffer buffer;
    std::string wire;  // answers are serialized here, one at a time (Serve)
    bool first = true;
    for (;;) {
      bhttp::request_parser<bhttp::empty_body> head;
      head.header_limit(static_cast<std::uint32_t>(opt.max_header_bytes));
      head.body_limit(boost::none);
      Status st = co_await ReadHeader(stream, deadline, buffer, head, first);
      first = false;
      if (st.ok()) st = CheckFraming(head.get());
      if (!st.ok()) {
        if (!st.IsClientGone()) {
          co_await WriteError(stream, deadline, 11, st.http_status(), st.code(), st.message());
          spdlog::info("{} - - {} refused: {}", client.addr, st.http_status(), st.message());
        }
        break;
      }
      in_flight++;
      if (http_metrics) metrics::M().http_in_flight->Add(1);
      bool keep = co_await Serve(stream, deadline, buffer, head, client, wire);
      if (http_metrics) metrics::M().http_in_flight->Add(-1);
      in_flight--;
      if (!keep || stopping) break;
    }
  }

  // The common header lines for `res` (Cache-Control: no-store unless it has its own).
  std::string_view CommonLines(const Response& res) const {
    return FindField(res.base(), bhttp::field::cache_control) == res.end() ? common_lines_cache
                                                                           : common_lines;
  }

  template <class Stream>
  asio::awaitable<void> WriteError(Stream& stream, ConnectionDeadline& deadline, unsigned version,
                                   int status, const std::string& code, const std::string& msg) {
    Response res = JsonError(version, status, code, msg);
    const std::string request_id = NewRequestId();
    AddRequestIdToError(res, request_id);
    res.set("X-Request-Id", request_id);
    res.keep_alive(false);
    res.prepare_payload();
    std::string wire;
    SerializeResponse(res, wire, CommonLines(res));
    deadline.SetAfter(std::chrono::seconds(5));
    co_await asio::async_write(stream, asio::buffer(wire), asio::as_tuple(asio::use_awaitable));
    deadline.Clear();
  }

  // The request id (the trusted proxy's, or a new one) and, behind a trusted proxy, the client's
  // address from X-Forwarded-For.
  void IdentifyRequest(const RequestHeader& h, const Peer& client, RequestContext& ctx) const {
    if (!opt.trusted_proxies.empty()) {
      beast::error_code ec;
      auto peer = asio::ip::make_address(client.addr, ec);
      if (!ec && AnyContains(opt.trusted_proxies, peer)) {
        if (auto it = h.find("X-Request-Id"); it != h.end() && ValidRequestId(it->value()))
          ctx.request_id = std::string(it->value());
        std::string xff;  // several X-Forwarded-For lines are one list
        for (auto [it, end] = h.equal_range("X-Forwarded-For"); it != end; ++it) {
          if (!xff.empty()) xff += ',';
          xff += it->value();
        }
        if (!xff.empty()) {
          if (auto fwd = ForwardedClient(xff, opt.trusted_proxies)) {
            ctx.client_key = AddressKey(*fwd);
            ctx.client_addr = fwd->is_v4() ? fwd->to_string() : fwd->to_v6().to_string();
          }
        }
      }
    }
    if (ctx.request_id.empty()) ctx.request_id = NewRequestId();
  }

  // The largest answer buffer a connection keeps between requests.
  static constexpr size_t kKeptWireBytes = 16 * 1024;

  // Serves one request whose header has been read. Returns whether to keep the connection.
  // `wire` is the connection's answer buffer: empty on entry and on return.
  template <class Stream>
  asio::awaitable<bool> Serve(Stream& stream, ConnectionDeadline& deadline,
                              beast::flat_buffer& buffer,
                              bhttp::request_parser<bhttp::empty_body>& head, const Peer& client,
                              std::string& wire) {
    auto started = std::chrono::steady_clock::now();
    const auto& h = head.get();
    const bool has_body = head.content_length().value_or(0) > 0 || head.chunked();
    const std::string method(h.method_string());
    const unsigned version = h.version();
    RequestContext ctx;
    ctx.client_addr = client.addr;
    ctx.client_key = client.key;
    ctx.tls = tls != nullptr;
    IdentifyRequest(h, client, ctx);
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
        StreamBodyReader<Stream> reader(stream, deadline, buffer, sp, opt.body_timeout,
                                        opt.min_body_rate);
        ctx.params = std::move(match.params);
        ctx.blocking = &blocking;
        res = co_await match.route->stream_handler(sp.get(), ctx, reader);
        if (reader.gone()) co_return false;  // nobody to answer
        // An early answer (401, 429, ...) to a small body: read and drop the rest, so the
        // connection can be kept instead of costing the client a new one.
        constexpr uint64_t kDrainLimit = 64 * 1024;
        // A client waiting for `100 Continue` gets the final answer instead (RFC 9110 10.1.1),
        // never a 100 for a request already refused.
        if (!reader.done() && !reader.broken() && !reader.continue_pending() &&
            reader.content_length() && *reader.content_length() <= kDrainLimit) {
          // Not in the coroutine frame, which is allocated per request: one per I/O thread. The
          // bytes are thrown away, so requests of one thread may share it between their reads.
          thread_local char scratch[8192];
          for (;;) {
            auto got = co_await reader.Read(scratch, sizeof scratch);
            if (!got.ok() || *got == 0) break;
          }
          if (reader.gone()) co_return false;
        }
        body_read = reader.done();
      } else if (std::optional<Response> early =
                     ExpectsContinue(h) && has_body && router->before_continue()
                         ? router->before_continue()(h, ctx)
                         : std::nullopt) {
        res = std::move(*early);  // refused before the body: no 100, the body is not read
      } else {
        if (ExpectsContinue(h) && has_body) {
          deadline.SetAfter(opt.body_timeout);
          auto ec = co_await SendContinue(stream);
          deadline.Clear();
          if (ec) co_return false;
        }
        bhttp::request_parser<bhttp::string_body> full(std::move(head));
        full.body_limit(match.route->options.body_limit);
        beast::error_code ec;
        if (!full.is_done()) {  // a request without a body (most GETs) is complete already
          deadline.SetAfter(opt.body_timeout);
          std::tie(ec, std::ignore) =
              co_await bhttp::async_read(stream, buffer, full, asio::as_tuple(asio::use_awaitable));
          deadline.Clear();
        }
        if (ec == bhttp::error::body_limit) {
          res = JsonError(11, 413, "PAYLOAD_TOO_LARGE", "The request body is too large.");
        } else if (IsBodySyntaxError(ec)) {
          res =
              JsonError(11, 400, "BAD_REQUEST", "The request body's chunked framing is not valid.");
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
    AddRequestIdToError(res, ctx.request_id);
    res.set("X-Request-Id", ctx.request_id);
    res.keep_alive(keep);
    res.prepare_payload();
    SerializeResponse(res, wire, CommonLines(res));
    deadline.SetAfter(opt.body_timeout);
    auto [wec, wn] =
        co_await asio::async_write(stream, asio::buffer(wire), asio::as_tuple(asio::use_awaitable));
    deadline.Clear();
    Wipe(wire);  // holds the body: possibly a revealed token
    // The connection keeps the buffer for its next answer, unless it grew past what small answers
    // need (a report, a rule file).
    if (wire.capacity() > kKeptWireBytes) std::string().swap(wire);
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count();
    if (http_metrics) http_metrics->Observe(match.route, res.result_int(), ms / 1000);
    if (CurrentLogFormat() == LogFormat::kJson) {
      const std::string route = match.route ? RouteTemplate(*match.route) : std::string();
      const std::string path = token::RedactTokens(ctx.path);
      access_log->info(AccessJson({ctx.request_id, method, route, path, ctx.client_addr,
                                   static_cast<int>(res.result_int()), ms, ctx.org_id}));
    } else {
      // "ADDR METHOD PATH STATUS 1.2ms". The method and path are the client's text: escaped
      // where they enter the log (AppendLogText), so a CR/LF or an escape sequence in them cannot
      // forge a line or drive a terminal. Written by hand: fmt's parsing of the format string was
      // a tenth of a rejected request's cost.
      std::string line;
      line.reserve(64 + client.addr.size() + ctx.path.size());
      line += client.addr;
      line += ' ';
      AppendLogText(line, method);
      line += ' ';
      AppendLogText(line, token::RedactTokens(ctx.path));
      char num[32];
      num[0] = ' ';
      auto end = std::to_chars(num + 1, num + sizeof num, res.result_int()).ptr;
      *end++ = ' ';
      end = std::to_chars(end, num + sizeof num - 2, ms, std::chars_format::fixed, 1).ptr;
      *end++ = 'm';
      *end++ = 's';
      line.append(num, static_cast<size_t>(end - num));
      access_log->info(std::string_view(line));
    }
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
  if (Status st = impl_->LoadTls(); !st.ok()) return st;
  impl_->common_lines = CommonHeaderLines(impl_->tls != nullptr, false);
  impl_->common_lines_cache = CommonHeaderLines(impl_->tls != nullptr, true);
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
  // Catch the signals from the moment the socket listens, not from Run(): whoever learns that we
  // listen (systemd's READY=1, a test reading the log) may signal before Run() starts, and a
  // SIGHUP or SIGTERM must then reload or drain, not kill the process. Asio queues a signal that
  // arrives before Run()'s wait.
  if (impl_->opt.handle_signals) {
    impl_->signals.add(SIGTERM);
    impl_->signals.add(SIGINT);
    if (impl_->opt.on_reload) impl_->signals.add(SIGHUP);
  }
  return Status::Ok();
}

bool Server::tls() const { return impl_->tls != nullptr; }

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
    if (impl_->opt.on_stop) impl_->opt.on_stop();
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
          for (auto& g : impl_->worker_guards) g.reset();
          for (auto& w : impl_->workers) w->stop();
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
  if (im.opt.handle_signals) WaitForSignal();  // the signals were added by Bind()
  asio::co_spawn(im.ioc, im.Accept(), asio::detached);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < im.workers.size(); ++i) {
    asio::co_spawn(*im.workers[i], im.sweeps[i]->Run(), asio::detached);
    threads.emplace_back([&w = im.workers[i]] { w->run(); });
  }
  im.ioc.run();
  for (auto& t : threads) t.join();
  // A coroutine on the blocking pool (RunHandler, the Submission API's scans) ends by handing its
  // result to its connection's io_context and then, on the pool thread, dropping its hold on that
  // context (co_spawn's work guard): the context must outlive it. So let the pool finish before
  // the workers' contexts go. (Issue 21: a login's tail ran after workers.clear() below, a
  // heap-use-after-free that crashed the server on SIGTERM about once in 200 stops.) A completion
  // it hands to a stopped worker stays queued there and is destroyed with the context.
  im.blocking.join();
  // Connections still open (idle keep-alive) end here, while everything they use is alive.
  im.worker_guards.clear();
  im.workers.clear();
  spdlog::info("stopped");
}

}  // namespace sandgate::http
