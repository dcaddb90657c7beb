#include "http/request_filter.h"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>

namespace sandgate::http {
namespace {

// Parses `raw` with Beast's parser (as the server does) and runs CheckFraming. Returns the HTTP
// status the server answers: 0 when the request passes, 400 when the parser refuses it.
int Framing(const std::string& raw) {
  bhttp::request_parser<bhttp::empty_body> p;
  boost::beast::error_code ec;
  p.put(boost::asio::buffer(raw), ec);
  if (ec || !p.is_header_done()) return 400;
  Status st = CheckFraming(p.get());
  return st.ok() ? 0 : st.http_status();
}

TEST(RequestFilter, FindHeaderEnd) {
  EXPECT_EQ(FindHeaderEnd("GET / HTTP/1.1\r\nHost: a\r\n"), 0u);
  EXPECT_EQ(FindHeaderEnd("GET / HTTP/1.1\r\n\r\nbody"), 18u);
  EXPECT_EQ(FindHeaderEnd("GET / HTTP/1.1\r\n\r\n", 14), 18u);
}

TEST(RequestFilter, RawHeaderRefusesFoldingBareLineEndsAndControls) {
  EXPECT_TRUE(CheckRawHeader("GET / HTTP/1.1\r\nHost: a\r\nX: b\tc\r\n\r\n").ok());
  EXPECT_TRUE(CheckRawHeader("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").ok());
  EXPECT_EQ(CheckRawHeader("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n").http_status(), 400);
  EXPECT_EQ(CheckRawHeader("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n").http_status(), 400);
  EXPECT_EQ(CheckRawHeader("GET / HTTP/1.1\r\nX: a\nY: b\r\n\r\n").http_status(), 400);
  EXPECT_EQ(CheckRawHeader("GET / HTTP/1.1\r\nX: a\rY: b\r\n\r\n").http_status(), 400);
  const char with_nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
  EXPECT_EQ(CheckRawHeader(std::string(with_nul, sizeof with_nul - 1)).http_status(), 400);
}

// Every byte value at every offset of a long field value (runs are skipped eight bytes at a
// time): refused exactly when it is a control character (below 0x20 but TAB, or DEL).
TEST(RequestFilter, RawHeaderFindsAControlByteAnywhereInALongRun) {
  for (int c = 0; c < 256; ++c) {
    if (c == '\r' || c == '\n') continue;  // line ends: their own rules
    const bool control = (c < 0x20 && c != '\t') || c == 0x7f;
    for (size_t at = 0; at < 20; ++at) {
      std::string value(24, 'v');
      value[at] = static_cast<char>(c);
      const std::string raw = "GET /a HTTP/1.1\r\nHost: x\r\nX-Long: " + value + "\r\n\r\n";
      EXPECT_EQ(CheckRawHeader(raw).ok(), !control) << "byte " << c << " at " << at;
    }
  }
}

TEST(RequestFilter, FramingAcceptsOrdinaryRequests) {
  EXPECT_EQ(Framing("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
  EXPECT_EQ(Framing("GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"), 0);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"), 0);
  EXPECT_EQ(Framing("DELETE /x HTTP/1.1\r\nContent-Length: 2\r\n\r\n"), 0);
}

TEST(RequestFilter, FramingRefusesSmuggling) {
  // Content-Length and Transfer-Encoding together, in either order.
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"),
            400);
  // Two Content-Lengths, differing or not, and a list.
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"), 400);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"), 400);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"), 400);
  // Codings other than chunked: 501; chunked twice or empty: 400.
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 501);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"
                    "\r\n"),
            501);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n"), 501);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"), 400);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: ,\r\n\r\n"), 400);
  EXPECT_EQ(Framing("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  // A body on GET or HEAD.
  EXPECT_EQ(Framing("GET / HTTP/1.1\r\nContent-Length: 40\r\n\r\n"), 400);
  EXPECT_EQ(Framing("HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
}

// Issue 21 (survivor 3): Beast's parser refuses Content-Length with chunked before CheckFraming
// runs, so the filter's own check is tested on a header built by hand, and with another coding
// (which the parser lets through): 400, not the 501 the coding alone would get.
TEST(RequestFilter, FramingRefusesContentLengthWithTransferEncodingOnAHandBuiltHeader) {
  for (const char* coding : {"chunked", "gzip", "gzip, chunked"}) {
    RequestHeader h;
    h.method(bhttp::verb::post);
    h.target("/zscsb/submit");
    h.version(11);
    h.set(bhttp::field::content_length, "4");
    h.set(bhttp::field::transfer_encoding, coding);
    Status st = CheckFraming(h);
    EXPECT_EQ(st.http_status(), 400) << coding;
    EXPECT_EQ(st.code(), "BAD_REQUEST") << coding;
  }
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"),
            400);
  EXPECT_EQ(Framing("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: gzip\r\n\r\n"),
            400);
}

}  // namespace
}  // namespace sandgate::http
