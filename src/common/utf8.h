// UTF-8 validation shared by the checks of text people see (organization names, the support
// contact). Pure, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sandgate {

// True when `s` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) and no
// code point in it satisfies `forbidden(uint32_t)`.
template <class Forbidden>
bool ValidUtf8Without(std::string_view s, Forbidden forbidden) {
  for (size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    const size_t n = b0 < 0x80             ? 1
                     : (b0 & 0xe0) == 0xc0 ? 2
                     : (b0 & 0xf0) == 0xe0 ? 3
                     : (b0 & 0xf8) == 0xf0 ? 4
                                           : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? b0 : b0 & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || forbidden(cp))
      return false;
    i += n;
  }
  return true;
}

}  // namespace sandgate
