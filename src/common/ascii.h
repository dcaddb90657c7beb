// ASCII case folding for names that are ASCII by contract (usernames as compared, libmagic's and
// ClamAV's names, file extensions). Bytes outside A-Z are unchanged. Header-only; pure.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace sandgate {

// s with ASCII letters lowered (the program never sets a locale, so std::tolower is ASCII's).
inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace sandgate
