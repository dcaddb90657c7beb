#include "analysis/severity.h"

#include <algorithm>
#include <cctype>

#include "common/ascii.h"

namespace sandgate::analysis {
namespace {

constexpr int64_t kModerateFrom = 40;
constexpr int64_t kHighFrom = 80;

std::string LowerTrimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return AsciiLower(s);
}

bool AllDigits(std::string_view s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

}  // namespace

bool ParseRiskName(std::string_view s, Risk* risk) {
  const std::string w = LowerTrimmed(s);
  if (w == "low") {
    *risk = Risk::kLow;
  } else if (w == "moderate") {
    *risk = Risk::kModerate;
  } else if (w == "high") {
    *risk = Risk::kHigh;
  } else {
    return false;
  }
  return true;
}

Risk RiskFromScore(int64_t score) {
  if (score >= kHighFrom) return Risk::kHigh;
  if (score >= kModerateFrom) return Risk::kModerate;
  return Risk::kLow;
}

RuleSeverity SeverityOf(const std::optional<MetaValue>& severity,
                        const std::optional<MetaValue>& score, Risk fallback) {
  RuleSeverity r;
  if (severity) {
    if (severity->is_int) {
      r.risk = RiskFromScore(severity->number);
      r.source = SeveritySource::kSeverityNumber;
      return r;
    }
    const std::string w = LowerTrimmed(severity->text);
    if (AllDigits(w)) {
      r.risk = RiskFromScore(std::stoll(w));
      r.source = SeveritySource::kSeverityNumber;
      return r;
    }
    r.source = SeveritySource::kSeverityWord;
    if (w == "low" || w == "info" || w == "informational" || w == "informative") {
      r.risk = Risk::kLow;
      return r;
    }
    if (w == "moderate" || w == "medium") {
      r.risk = Risk::kModerate;
      return r;
    }
    if (w == "high" || w == "critical") {
      r.risk = Risk::kHigh;
      return r;
    }
    r.problem =
        "severity \"" + std::string(severity->text) + "\" is not one of LOW, MODERATE, HIGH";
  }
  if (score) {
    int64_t n = score->number;
    bool ok = score->is_int;
    if (!ok) {
      const std::string w = LowerTrimmed(score->text);
      if (AllDigits(w)) {
        n = std::stoll(w);
        ok = true;
      }
    }
    if (ok) {
      r.risk = RiskFromScore(n);
      r.source = SeveritySource::kScore;
      return r;
    }
  }
  r.risk = fallback;
  r.source = SeveritySource::kDefault;
  return r;
}

}  // namespace sandgate::analysis
