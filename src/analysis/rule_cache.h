// On-disk cache of compiled YARA rules (yr_rules_save / yr_rules_load), so that a restart with
// unchanged rules loads in milliseconds instead of compiling thousands of rules again.
//
// Key: BLAKE2b-256 over a format tag, the YARA version, the external variable names, the strict
// and gating flags and every rule file's name and content (in name order). Any change to a rule
// file, the file list, libyara or the externals gives a new key, hence a compile and a new entry.
// Layout: <cache_dir>/<key hex>/{manifest,group-N.yarc}; written to a temporary directory and
// renamed into place (a crash leaves the old entry or the new one); older entries are removed
// after a write. The directory is created 0700: compiled rules are code for YARA's VM, so the
// cache must not be writable by anyone who could not also change the rules.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "analysis/yara_rules.h"

namespace sandgate::analysis {

// files: (name within the rules directory, content), in name order.
std::string RulesCacheKey(const std::vector<std::pair<std::string, std::string>>& files,
                          bool strict, bool gate_by_import);

// Fills *out (groups owned by the caller from then on) and returns true when an entry for `key`
// exists and loads; otherwise false with *note saying why ("" when there simply is none).
bool LoadRulesCache(const std::string& cache_dir, const std::string& key, RulesData* out,
                    std::string* note);

// Writes the entry for `key`; false with *note on failure (the rules still serve).
bool SaveRulesCache(const std::string& cache_dir, const std::string& key, const RulesData& data,
                    std::string* note);

}  // namespace sandgate::analysis
