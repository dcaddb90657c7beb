#include "http/request_filter.h"

#include <boost/beast/core/string.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sandgate::http {

namespace {

Status Bad(const std::string& message) { return Status(400, "BAD_REQUEST", message); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether any of the 8 bytes at `p` is below 0x20 or is 0x7f. Exact: a byte below n (n <= 0x80)
// is the only way for (w - n per byte) & ~w to set a byte's top bit ("hasless", Bit Twiddling
// Hacks); 0x7f is the byte that XORs to zero.
bool HasControlByte(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  const uint64_t below = (w - kOnes * 0x20) & ~w & kHighs;
  const uint64_t x = w ^ (kOnes * 0x7f);
  const uint64_t del = (x - kOnes) & ~x & kHighs;
  return (below | del) != 0;
}

}  // namespace

size_t FindHeaderEnd(std::string_view data, size_t from) {
  size_t p = data.find("\r\n\r\n", from);
  return p == std::string_view::npos ? 0 : p + 4;
}

Status CheckRawHeader(std::string_view header) {
  bool line_start = true;
  bool first_line = true;
  for (size_t i = 0; i < header.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(header[i]);
    if (c > 0x20 && c != 0x7f) {
      // The common case: a run of visible characters (and spaces inside it), skipped in one go,
      // eight bytes at a time while none of them is a control character (below 0x20, or 0x7f).
      size_t end = i + 1;
      while (end + 8 <= header.size() && !HasControlByte(header.data() + end)) end += 8;
      while (end < header.size()) {
        const unsigned char d = static_cast<unsigned char>(header[end]);
        if (d < 0x20 || d == 0x7f) break;
        ++end;
      }
      line_start = false;
      i = end - 1;
      continue;
    }
    if (c == '\r') {
      if (i + 1 >= header.size() || header[i + 1] != '\n')
        return Bad("A bare CR is not a line ending.");
      ++i;
      // Empty lines before the request line are tolerated (RFC 9112 2.2); an empty line after it
      // ends the header.
      if (!line_start) first_line = false;
      line_start = true;
      continue;
    }
    if (c == '\n') return Bad("Header lines end in CRLF.");
    if (line_start && !first_line && (c == ' ' || c == '\t'))
      return Bad("Obsolete line folding is not accepted.");
    if (c == '\t') {
      line_start = false;
      continue;
    }
    if (c < 0x20 || c == 0x7f) return Bad("The header holds a control character.");
    line_start = false;
  }
  return Status::Ok();
}

Status CheckFraming(const RequestHeader& h) {
  // Content-Length: one field with one value (the parser already refuses differing values and a
  // Content-Length together with chunked; a list such as "5, 5" is refused here too).
  // One pass over the fields, comparing the parser's field codes: a request has a handful of
  // fields, and walking them costs less than two name lookups in the field set.
  size_t lengths = 0;
  std::string_view length;  // the first Content-Length's value
  std::vector<std::string_view> codings;
  bool has_te = false;
  for (const auto& f : h) {
    if (f.name() == bhttp::field::content_length) {
      if (lengths++ == 0) length = f.value();
      if (f.value().find(',') != std::string_view::npos)
        return Bad("Content-Length holds more than one value.");
    } else if (f.name() == bhttp::field::transfer_encoding) {
      has_te = true;
      std::string_view v = f.value();
      while (!v.empty()) {
        size_t comma = v.find(',');
        std::string_view item = Trim(v.substr(0, comma));
        if (!item.empty()) codings.push_back(item);
        v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      }
    }
  }
  if (lengths > 1) return Bad("More than one Content-Length.");
  if (has_te) {
    if (h.version() < 11) return Bad("Transfer-Encoding needs HTTP/1.1.");
    if (lengths > 0) return Bad("Content-Length and Transfer-Encoding together.");
    if (codings.empty()) return Bad("Transfer-Encoding is empty.");
    size_t chunked = 0;
    for (auto c : codings) {
      // Transfer parameters (";q=...") or any other coding: not something this server decodes.
      if (boost::beast::iequals(c, "chunked"))
        ++chunked;
      else
        return Status(501, "NOT_IMPLEMENTED", "Only the chunked transfer coding is supported.");
    }
    if (chunked != 1) return Bad("The chunked transfer coding is applied more than once.");
  }
  const bool has_body =
      has_te || (lengths > 0 && length.find_first_not_of('0') != std::string_view::npos);
  if (has_body && (h.method() == bhttp::verb::get || h.method() == bhttp::verb::head))
    return Bad("A GET or HEAD request carries no body.");
  return Status::Ok();
}

}  // namespace sandgate::http
