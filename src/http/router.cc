#include "http/router.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>

namespace sandgate::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  out.reserve(8);  // one allocation for any path of ours
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The index of the first byte of `in` that decoding changes ('%', and '+' when it means a space),
// or in.size(). Eight bytes at a time while none of them is one: (x - 1 per byte) & ~x sets a
// byte's top bit only if some byte of x is zero ("haszero", Bit Twiddling Hacks), x being the
// bytes XORed with the sought value; the exact byte is then found one by one.
size_t FirstEncoded(std::string_view in, bool plus_is_space) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= in.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, in.data() + i, 8);
    const uint64_t pct = w ^ (kOnes * '%');
    uint64_t hit = (pct - kOnes) & ~pct & kHighs;
    if (plus_is_space) {
      const uint64_t plus = w ^ (kOnes * '+');
      hit |= (plus - kOnes) & ~plus & kHighs;
    }
    if (hit) break;
  }
  for (; i < in.size(); ++i)
    if (in[i] == '%' || (plus_is_space && in[i] == '+')) return i;
  return in.size();
}

bool PercentDecode(std::string_view in, std::string* out, bool plus_is_space) {
  // Most text has nothing to decode: copied whole up to the first '%' (or '+').
  const size_t first = FirstEncoded(in, plus_is_space);
  if (first == in.size()) {
    out->assign(in);
    return true;
  }
  out->reserve(in.size());
  out->assign(in.substr(0, first));
  for (size_t i = first; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

// Whether a query parameter's key, percent-decoded (+ is a space), is `name`: compared in place
// when it has nothing to decode.
bool KeyIs(std::string_view raw_key, std::string_view name) {
  if (FirstEncoded(raw_key, true) == raw_key.size()) return raw_key == name;
  std::string decoded;
  return PercentDecode(raw_key, &decoded, true) && decoded == name;
}

bool IsParam(const std::string& seg) {
  return seg.size() > 2 && seg.front() == '{' && seg.back() == '}';
}

using Params = std::vector<std::pair<std::string, std::string>>;

// Whether a route's `pattern` matches the path's `parts`; its captures are added to `params`.
bool MatchSegments(const std::vector<std::string>& pattern,
                   const std::vector<std::string_view>& parts, Params* params) {
  if (pattern.size() != parts.size()) return false;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = pattern[i];
    if (IsParam(seg))
      params->emplace_back(seg.substr(1, seg.size() - 2), std::string(parts[i]));
    else if (seg != parts[i])
      return false;
  }
  return true;
}

// For a route that matches the path: true when it answers `method` (`m` then holds it); else its
// method joins 405's Allow.
bool Answer(const Route& r, bhttp::verb method, Router::Match& m) {
  if (r.method == method) {
    m.route = &r;
    m.status = 0;
    return true;
  }
  m.status = 405;
  std::string name(bhttp::to_string(r.method));
  if (m.allow.find(name) == std::string::npos) m.allow += (m.allow.empty() ? "" : ", ") + name;
  return false;
}

}  // namespace

void Router::Add(bhttp::verb method, std::string_view pattern, Handler h, RouteOptions o) {
  Route r{method, {}, std::move(h), o, nullptr};
  for (auto s : SplitPath(pattern)) r.segments.emplace_back(s);
  routes_.push_back(std::move(r));
  IndexExactPaths();
}

void Router::AddStream(bhttp::verb method, std::string_view pattern, StreamHandler h,
                       RouteOptions o) {
  Route r{method, {}, nullptr, o, std::move(h)};
  for (auto s : SplitPath(pattern)) r.segments.emplace_back(s);
  routes_.push_back(std::move(r));
  IndexExactPaths();
}

// For each route without parameters, its canonical path ("/a/b"), mapped to every route that
// matches that path, in registration order, when they are all parameter-free; a path that a
// route with parameters also matches is left out (Find then scans, as for any other path).
void Router::IndexExactPaths() {
  exact_.clear();
  for (const Route& r : routes_) {
    if (std::any_of(r.segments.begin(), r.segments.end(), IsParam)) continue;
    std::string key;
    for (const auto& seg : r.segments) key += "/" + seg;
    if (key.empty()) key = "/";
    if (exact_.count(key)) continue;
    const std::vector<std::string_view> parts(r.segments.begin(), r.segments.end());
    std::vector<size_t> matching;
    bool all_exact = true;
    for (size_t i = 0; i < routes_.size() && all_exact; ++i) {
      Params params;
      if (!MatchSegments(routes_[i].segments, parts, &params)) continue;
      all_exact = params.empty();
      matching.push_back(i);
    }
    if (all_exact) exact_.emplace(std::move(key), std::move(matching));
  }
}

Router::Match Router::Find(bhttp::verb method, std::string_view path) const {
  Match m;
  m.status = 404;
  if (auto it = exact_.find(path); it != exact_.end()) {
    for (size_t i : it->second)
      if (Answer(routes_[i], method, m)) break;
    return m;
  }
  const auto parts = SplitPath(path);
  for (const Route& r : routes_) {
    Params params;
    if (!MatchSegments(r.segments, parts, &params)) continue;
    if (Answer(r, method, m)) {
      m.params = std::move(params);
      break;
    }
  }
  return m;
}

bool SplitTarget(std::string_view target, std::string* path, std::string* query) {
  if (target.empty() || target.front() != '/') return false;
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  *query = q == std::string_view::npos ? "" : std::string(target.substr(q + 1));
  if (!PercentDecode(raw_path, path, false)) return false;
  for (char c : *path)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  return true;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  size_t i = 0;
  while (i <= query.size()) {
    size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(i, amp - i);
    size_t eq = pair.find('=');
    if (KeyIs(pair.substr(0, eq), name)) {
      std::string value;
      if (eq == std::string_view::npos) return std::string();
      if (!PercentDecode(pair.substr(eq + 1), &value, true)) return std::nullopt;
      return value;
    }
    i = amp + 1;
  }
  return std::nullopt;
}

size_t QueryParamCount(std::string_view query, std::string_view name) {
  size_t count = 0;
  size_t i = 0;
  while (i <= query.size()) {
    size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(i, amp - i);
    if (KeyIs(pair.substr(0, pair.find('=')), name)) ++count;
    i = amp + 1;
  }
  return count;
}

}  // namespace sandgate::http
