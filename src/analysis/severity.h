// Severity of a YARA rule from what public rule sets carry (pure functions, thread-safe).
//
// Sandgate reports each matching rule as LOW, MODERATE or HIGH. The risk is taken from the rule's
// meta, first that applies:
//  1. severity = "<word>" (case-insensitive): LOW / INFO / INFORMATIONAL / INFORMATIVE -> LOW,
//     MODERATE / MEDIUM -> MODERATE, HIGH / CRITICAL -> HIGH; a string of digits is read as 2.
//  2. severity = <number> (0..100, as some public collections give it)     -> RiskFromScore
//  3. score = <number>    (THOR / LOKI, signature-base: 0..100, a few > 100) -> RiskFromScore
//  4. the default configured for the rules directory (--rules-default-severity, MODERATE unless
//     set).
// RiskFromScore: below 40 LOW, 40..79 MODERATE, 80 and above HIGH (values below 0 count as 0,
// above 100 as 100), after THOR's bands (40 notice, 60 warning, 80 alert).
// A severity string that is none of the words (e.g. "banana") does not decide: the rule falls
// through to score/default, and the loader reports it (with --rules-strict it is refused).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sandgate::analysis {

enum class Risk { kLow, kModerate, kHigh };

// A rule meta's value: an integer, or a string (YARA's boolean metas are read as integers 0/1).
struct MetaValue {
  bool is_int = false;
  int64_t number = 0;
  std::string_view text;
};

enum class SeveritySource { kSeverityWord, kSeverityNumber, kScore, kDefault };

struct RuleSeverity {
  Risk risk = Risk::kModerate;
  SeveritySource source = SeveritySource::kDefault;
  // Set when the severity meta was present but not understood (it fell through to score/default).
  std::string problem;
};

// "LOW" / "MODERATE" / "HIGH" (case-insensitive) -> risk; false for anything else.
bool ParseRiskName(std::string_view s, Risk* risk);
Risk RiskFromScore(int64_t score);
RuleSeverity SeverityOf(const std::optional<MetaValue>& severity,
                        const std::optional<MetaValue>& score, Risk fallback);

}  // namespace sandgate::analysis
