#include "common/log_format.h"

#include <spdlog/details/log_msg.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace sandgate {

namespace {

std::atomic<LogFormat> g_format{LogFormat::kText};

// Length of the well-formed UTF-8 sequence at s[i] (no overlongs, no surrogates), or 0.
size_t Utf8Len(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  }
  if (n == 0 || i + n > s.size()) return 0;
  const auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c1 < lo || c1 > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  return n;
}

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line;
    line.reserve(160 + msg.payload.size());
    line += "{\"time\":\"";
    const auto t = msg.time;
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[40];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    line += buf;
    std::snprintf(buf, sizeof buf, ".%03dZ", static_cast<int>(ms.count()));
    line += buf;
    line += "\",\"level\":";
    const auto lv = spdlog::level::to_string_view(msg.level);
    AppendJsonString(line, std::string_view(lv.data(), lv.size()));
    line += ",\"logger\":";
    const std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
    AppendJsonString(line, logger);
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (logger == "access" && payload.size() >= 2 && payload.front() == '{' &&
        payload.back() == '}') {
      // A request line: its fields (AccessJson) join the object.
      line += ",\"message\":\"request\",";
      line.append(payload.substr(1));
    } else {
      line += ",\"message\":";
      AppendJsonString(line, payload);
      line += '}';
    }
    line += '\n';
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// "TIME LEVEL MESSAGE" (see MakeTextFormatter) written directly: the date and
// time up to the second are formatted once per second and kept.
class TextFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since = msg.time.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
    if (secs.count() != cached_second_) {
      const std::time_t t = static_cast<std::time_t>(secs.count());
      std::tm tm{};
      gmtime_r(&t, &tm);
      std::strftime(prefix_, sizeof prefix_, "%Y-%m-%dT%H:%M:%S.", &tm);
      prefix_len_ = std::strlen(prefix_);
      cached_second_ = secs.count();
    }
    dest.append(prefix_, prefix_ + prefix_len_);
    const auto ms = static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count());
    const char tail[] = {static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                         static_cast<char>('0' + ms % 10), 'Z', ' '};
    dest.append(tail, tail + sizeof tail);
    const auto lv = spdlog::level::to_string_view(msg.level);
    dest.append(lv.data(), lv.data() + lv.size());
    dest.push_back(' ');
    dest.append(msg.payload.data(), msg.payload.data() + msg.payload.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }

 private:
  int64_t cached_second_ = INT64_MIN;
  char prefix_[40] = {};
  size_t prefix_len_ = 0;
};

}  // namespace

std::unique_ptr<spdlog::formatter> MakeTextFormatter() { return std::make_unique<TextFormatter>(); }

bool ParseLogFormat(std::string_view s, LogFormat* out) {
  if (s == "text") {
    *out = LogFormat::kText;
    return true;
  }
  if (s == "json") {
    *out = LogFormat::kJson;
    return true;
  }
  return false;
}

LogFormat CurrentLogFormat() { return g_format.load(std::memory_order_relaxed); }
void SetLogFormat(LogFormat f) { g_format.store(f, std::memory_order_relaxed); }

namespace {

// Printable ASCII that a JSON string holds as it is.
inline bool PlainJsonChar(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

// The length of the run of plain characters at the start of `s`, eight bytes at a time: a byte
// is flagged when it is below 0x20, has its high bit set, or equals '"', '\\' or 0x7f (the
// "has zero byte" and "has byte less than" tricks; flags may spill only past a flagged byte).
size_t PlainJsonPrefix(std::string_view s) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t x;
    std::memcpy(&x, s.data() + i, 8);
    const uint64_t flagged = ((x - kOnes * 0x20) & ~x & kHigh) | (x & kHigh) |
                             zero_byte(x ^ (kOnes * '"')) | zero_byte(x ^ (kOnes * '\\')) |
                             zero_byte(x ^ (kOnes * 0x7f));
    if (flagged) break;
  }
  while (i < s.size() && PlainJsonChar(static_cast<unsigned char>(s[i]))) ++i;
  return i;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t plain = PlainJsonPrefix(s);
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  if (plain == s.size()) {  // the common case: nothing to escape
    out.append(s);
    out += '"';
    return;
  }
  out.append(s.data(), plain);
  for (size_t i = plain; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      ++i;
    } else if (c < 0x80) {
      // A run of plain ASCII goes in whole.
      size_t end = i + 1;
      while (end < s.size()) {
        const auto d = static_cast<unsigned char>(s[end]);
        if (d < 0x20 || d >= 0x7f || d == '"' || d == '\\') break;
        ++end;
      }
      out.append(s.data() + i, end - i);
      i = end;
    } else if (size_t n = Utf8Len(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";  // not UTF-8: replaced, so every line stays valid JSON
      ++i;
    }
  }
  out += '"';
}

std::string AccessJson(const AccessFields& f) {
  std::string o;
  o.reserve(160 + f.path.size());
  o += "{\"requestId\":";
  AppendJsonString(o, f.request_id);
  o += ",\"method\":";
  AppendJsonString(o, f.method);
  o += ",\"route\":";
  AppendJsonString(o, f.route);
  o += ",\"path\":";
  AppendJsonString(o, f.path);
  o += ",\"status\":";
  o += std::to_string(f.status);
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.1f", f.ms);
  o += ",\"durationMs\":";
  o += ms;
  o += ",\"client\":";
  AppendJsonString(o, f.client);
  if (f.org_id > 0) {
    o += ",\"orgId\":";
    o += std::to_string(f.org_id);
  }
  o += '}';
  return o;
}

std::unique_ptr<spdlog::formatter> MakeJsonFormatter() { return std::make_unique<JsonFormatter>(); }

}  // namespace sandgate
