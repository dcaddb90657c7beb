#include "common/log_text.h"

namespace sandgate {

void AppendLogText(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < text.size();) {
    // A run of printable ASCII (no backslash) goes in whole.
    size_t end = i;
    while (end < text.size()) {
      const auto u = static_cast<unsigned char>(text[end]);
      if (u < 0x20 || u >= 0x7f || u == '\\') break;
      ++end;
    }
    out.append(text.data() + i, end - i);
    if (end == text.size()) break;
    const auto u = static_cast<unsigned char>(text[end]);
    out += "\\x";
    out += kHex[u >> 4];
    out += kHex[u & 15];
    i = end + 1;
  }
}

std::string LogText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendLogText(out, text);
  return out;
}

}  // namespace sandgate
