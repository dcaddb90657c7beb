#include "domain/support_contact.h"

#include <cstdint>
#include <string_view>

#include "common/utf8.h"

namespace sandgate::domain {
namespace {

bool Forbidden(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
         (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

// Valid UTF-8 without Forbidden code points.
bool PrintableUtf8(std::string_view s) { return ValidUtf8Without(s, Forbidden); }

bool Alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool Digit(char c) { return c >= '0' && c <= '9'; }

// A DNS name of at least two labels: letters, digits and inner hyphens, the last label letters.
bool HostName(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  size_t labels = 0, start = 0;
  while (start <= h.size()) {
    size_t end = h.find('.', start);
    if (end == std::string_view::npos) end = h.size();
    std::string_view l = h.substr(start, end - start);
    if (l.empty() || l.size() > 63 || l.front() == '-' || l.back() == '-') return false;
    for (char c : l)
      if (!Alpha(c) && !Digit(c) && c != '-') return false;
    ++labels;
    if (end == h.size()) {
      if (l.size() < 2) return false;
      for (char c : l)
        if (!Alpha(c)) return false;
      break;
    }
    start = end + 1;
  }
  return labels >= 2;
}

bool Email(std::string_view e) {
  const size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || e.find('@', at + 1) != e.npos)
    return false;
  std::string_view local = e.substr(0, at);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != local.npos) return false;
  static constexpr std::string_view kLocalPunct = ".!#$%&'*+/=?^_`{|}~-";
  for (char c : local)
    if (!Alpha(c) && !Digit(c) && kLocalPunct.find(c) == kLocalPunct.npos) return false;
  return HostName(e.substr(at + 1));
}

bool Url(std::string_view u) {
  auto starts = [&](std::string_view p) {
    if (u.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i)
      if ((u[i] | 0x20) != p[i] && u[i] != p[i]) return false;
    return true;
  };
  size_t rest;
  if (starts("https://"))
    rest = 8;
  else if (starts("http://"))
    rest = 7;
  else
    return false;
  static constexpr std::string_view kBad = "\"<>\\^`{|}";
  for (char c : u)
    if (c <= 0x20 || c >= 0x7f || kBad.find(c) != kBad.npos) return false;
  std::string_view authority = u.substr(rest);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != authority.npos) return false;
  // host[:port]; an IPv6 literal in brackets is allowed as it is.
  std::string_view host = authority;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == host.npos || close < 3) return false;
    std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return false;
    host = host.substr(0, close + 1);
    authority = after;
  } else {
    const size_t colon = host.find(':');
    if (colon != host.npos) {
      authority = host.substr(colon);
      host = host.substr(0, colon);
    } else {
      authority = {};
    }
    if (host.empty()) return false;
    for (char c : host)
      if (!Alpha(c) && !Digit(c) && c != '-' && c != '.') return false;
  }
  if (!authority.empty()) {  // ":port"
    std::string_view port = authority.substr(1);
    if (port.empty() || port.size() > 5) return false;
    int value = 0;
    for (char c : port) {
      if (!Digit(c)) return false;
      value = value * 10 + (c - '0');
    }
    if (value < 1 || value > 65535) return false;
  }
  return true;
}

bool Phone(std::string_view p) {
  int digits = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (Digit(c))
      ++digits;
    else if (c == '+') {
      if (i != 0) return false;
    } else if (c != ' ' && c != '(' && c != ')' && c != '-' && c != '.' && c != '/') {
      return false;
    }
  }
  return digits >= 3 && p.front() != ' ' && p.back() != ' ';
}

}  // namespace

std::vector<FieldError> ValidateSupportContact(const SupportContactFields& c) {
  std::vector<FieldError> out;
  if (!c.name.empty() && (c.name.size() > kSupportNameMax || !PrintableUtf8(c.name) ||
                          c.name.front() == ' ' || c.name.back() == ' '))
    out.push_back({"name",
                   "The name is at most 100 characters of printable text, without leading or "
                   "trailing spaces."});
  if (!c.email.empty() && (c.email.size() > kSupportEmailMax || !Email(c.email)))
    out.push_back({"email",
                   "Enter an email address such as support@example.com (at most 254 "
                   "characters)."});
  if (!c.url.empty() && (c.url.size() > kSupportUrlMax || !Url(c.url)))
    out.push_back({"url",
                   "Enter a web address that starts with https:// or http:// (at most 500 "
                   "characters, no spaces)."});
  if (!c.phone.empty() && (c.phone.size() > kSupportPhoneMax || !Phone(c.phone)))
    out.push_back({"phone",
                   "Enter a phone number: digits, spaces and + ( ) - . / (at most 40 "
                   "characters)."});
  return out;
}

}  // namespace sandgate::domain
