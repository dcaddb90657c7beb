#include "notify/http_client.h"

#include <openssl/ssl.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>

namespace sandgate::notify {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

namespace {

constexpr size_t kMaxHeader = 16 * 1024;

template <typename Stream>
asio::awaitable<HttpAnswer> WriteAndRead(Stream& stream,
                                         const bhttp::request<bhttp::string_body>& req,
                                         size_t body_limit) {
  co_await bhttp::async_write(stream, req, asio::use_awaitable);
  beast::flat_buffer buffer(kMaxHeader + body_limit);
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kMaxHeader);
  parser.body_limit(body_limit);
  HttpAnswer out;
  co_await bhttp::async_read(stream, buffer, parser,
                             asio::redirect_error(asio::use_awaitable, out.read_error));
  if (!parser.is_header_done()) throw boost::system::system_error(out.read_error);
  out.status = static_cast<int>(parser.get().result_int());
  out.body = std::move(parser.get().body());
  co_return out;
}

}  // namespace

asio::awaitable<HttpAnswer> Exchange(const ParsedUrl& url,
                                     const std::vector<tcp::endpoint>& endpoints,
                                     bhttp::request<bhttp::string_body> req, size_t body_limit,
                                     TimeMs timeout_ms, const std::string& ca_file) {
  const bool default_port = url.port == (url.tls ? 443 : 80);
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (!default_port) host += ":" + std::to_string(url.port);
  req.set(bhttp::field::host, host);
  req.set(bhttp::field::connection, "close");
  req.prepare_payload();

  auto ex = co_await asio::this_coro::executor;
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  if (!url.tls) {
    beast::tcp_stream stream(ex);
    stream.expires_after(timeout);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    co_return co_await WriteAndRead(stream, req, body_limit);
  }
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_default_verify_paths();
  if (!ca_file.empty()) ctx.load_verify_file(ca_file);  // checked at start (CheckCaFile)
  ctx.set_verify_mode(asio::ssl::verify_peer);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  beast::ssl_stream<beast::tcp_stream> stream(ex, ctx);
  if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()))
    throw boost::system::system_error(asio::error::invalid_argument);
  stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
  beast::get_lowest_layer(stream).expires_after(timeout);
  co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
  co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
  co_return co_await WriteAndRead(stream, req, body_limit);
}

ExchangeOutcome RunExchange(asio::io_context& ioc, asio::awaitable<HttpAnswer> exchange,
                            TimeMs timeout_ms) {
  ExchangeOutcome out;
  asio::co_spawn(ioc, std::move(exchange), [&](std::exception_ptr e, HttpAnswer answer) {
    out.finished = true;
    if (!e) {
      out.answer = std::move(answer);
      return;
    }
    try {
      std::rethrow_exception(e);
    } catch (const boost::system::system_error& se) {
      out.error = se.code() == beast::error::timeout ? "timed out" : se.code().message();
    } catch (const std::exception& x) {
      out.error = x.what();
    }
  });
  ioc.run_for(std::chrono::milliseconds(timeout_ms + 1000));
  if (!out.finished) out.error = "timed out";
  if (out.error.empty() && (out.answer.status < 200 || out.answer.status > 299))
    out.error = "answered " + std::to_string(out.answer.status);
  return out;
}

}  // namespace sandgate::notify
