// Loading a directory of YARA rule files the way public rule sets need it (used by Engine):
//  - The external variables LOKI and THOR define (filename, filepath, extension, filetype, md5,
//    owner) are declared on the compiler with harmless defaults ("") and set per scan.
//  - Files are grouped by the modules they import (see EngineConfig::rules_dir).
//  - A file that does not compile (syntax, unknown module, undefined identifier, a rule name
//    already defined by another file of its group) is skipped and reported with the first error,
//    unless strict: then the first such file fails the load (all or nothing).
//  - The compiled groups are cached on disk (yr_rules_save / yr_rules_load) under a key made of
//    the files' names and contents, the YARA version and the externals (rule_cache.h), so a
//    restart with unchanged rules does not compile again.
// Thread-safety: CompiledRules is immutable after Load; its YR_RULES are shared read-only by any
// number of scanners.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "analysis/severity.h"
#include "common/status.h"

struct YR_RULES;
struct YR_RULE;
struct YR_SCAN_CONTEXT;

namespace sandgate::analysis {

// The external variables rule sets expect, as the scanners that run them define them.
//  filename  the client's file name (submit/discan `filename` parameter; "" when none given)
//  filepath  the same, or "<archive name>/<member path>" for an archive member
//  extension lower-case extension of filename with its dot (".exe"), LOKI's way; "" when none
//  filetype  LOKI's header type: "EXE" (MZ), "ELF", "ZIP" (PK), "PDF", "RAR", "7Z", "GZIP",
//            "CAB", "MSI" (OLE2), "JPG", "PNG", "GIF"; "" otherwise
//  md5       "" (not computed for the rules)
//  owner     "" (an upload has no file owner)
struct ScanExternals {
  std::string filename;
  std::string filepath;
  std::string extension;
  std::string filetype;
  std::string md5;
  std::string owner;
};
// The names of the string externals defined on every compiler, in order.
const std::vector<std::string_view>& ExternalNames();
// Externals for one scanned buffer: `name` is the client's name or member path (may be empty).
ScanExternals ExternalsFor(std::string_view name, const uint8_t* data, size_t size);
// Sets them on a scanner; false on a YARA error.
bool DefineExternals(YR_SCAN_CONTEXT* scanner, const ScanExternals& ext);

// The modules named by the import statements at the top of a YARA source.
std::vector<std::string> LeadingImports(std::string_view src);

// The string or integer value of a rule's meta `name`, if any.
bool RuleMeta(const YR_RULE* rule, const char* name, MetaValue* out);
// The rule's severity (severity.h) with `fallback` for rules that carry none.
RuleSeverity RuleSeverityOf(const YR_RULE* rule, Risk fallback);

struct RulesOptions {
  std::string rules_dir;
  bool strict = false;                  // a file that does not compile fails the load
  Risk default_risk = Risk::kModerate;  // rules without severity/score
  std::string cache_dir;                // compiled-rules cache; empty = none
  // Files importing "pe" run only on MZ input, "elf" only on ELF (EngineConfig::gate_by_import);
  // false: one group, every rule on every file.
  bool gate_by_import = false;
};

struct RuleFileProblem {
  std::string file;    // file name within the rules directory
  std::string reason;  // the first compiler error ("line 12: undefined identifier \"x\"")
};

// What a load produced (also what the cache stores).
struct RulesData {
  struct Group {
    YR_RULES* rules = nullptr;  // owned by the CompiledRules holding this
    bool needs_pe = false;      // run only on files starting with MZ (or ELF if needs_elf too)
    bool needs_elf = false;     // run only on ELF files (or MZ if needs_pe too)
  };
  std::vector<Group> groups;
  size_t files_total = 0;   // *.yar / *.yara files found
  size_t files_loaded = 0;  // of which compiled in
  std::vector<RuleFileProblem> skipped;
  // Compiler warnings (slow strings, ...) and rule problems (unknown severity word, a rule name
  // in two groups); at most kMaxWarnings kept, warning_count counts them all.
  std::vector<std::string> warnings;
  size_t warning_count = 0;
  static constexpr size_t kMaxWarnings = 50;
  void Warn(std::string w) {
    if (warnings.size() < kMaxWarnings) warnings.push_back(std::move(w));
    ++warning_count;
  }
};

class CompiledRules {
 public:
  // Errors: 500 INTERNAL (missing/unreadable directory or file, YARA failure, strict-mode failure
  // naming the file and the compiler's message).
  static Result<std::unique_ptr<CompiledRules>> Load(const RulesOptions& options);
  ~CompiledRules();
  CompiledRules(const CompiledRules&) = delete;
  CompiledRules& operator=(const CompiledRules&) = delete;

  const RulesData& data() const { return data_; }
  size_t rule_count() const { return rule_count_; }
  double load_ms() const { return load_ms_; }  // compile or cache load, wall clock
  bool from_cache() const { return from_cache_; }
  const std::string& cache_note() const { return cache_note_; }  // why no cache was used/written
  uint64_t compiled_bytes() const { return compiled_bytes_; }    // size of the compiled rules

 private:
  CompiledRules() = default;
  RulesData data_;
  size_t rule_count_ = 0;
  double load_ms_ = 0;
  bool from_cache_ = false;
  std::string cache_note_;
  uint64_t compiled_bytes_ = 0;
};

}  // namespace sandgate::analysis
