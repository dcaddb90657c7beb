#include "analysis/yara_rules.h"

#include <errno.h>
#include <yara.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "analysis/rule_cache.h"
#include "common/ascii.h"

namespace sandgate::analysis {
namespace {

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char buf[16384];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out->append(buf, n);
  const bool ok = std::ferror(f) == 0;
  std::fclose(f);
  return ok;
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// One line of text, without tabs or line breaks (reasons go into logs, JSON and the cache).
std::string OneLine(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

struct CompileLog {
  // First error: the file as given to the compiler and "line N: message".
  std::string error_file;
  std::string error;
  bool collect_warnings = false;
  RulesData* data = nullptr;
};

void CompileCallback(int error_level, const char* file_name, int line_number,
                     const YR_RULE* /*rule*/, const char* message, void* user_data) {
  auto* log = static_cast<CompileLog*>(user_data);
  const std::string where = (file_name != nullptr ? BaseName(file_name) : std::string("?")) + ":" +
                            std::to_string(line_number);
  if (error_level == YARA_ERROR_LEVEL_ERROR) {
    if (log->error.empty()) {
      log->error_file = file_name != nullptr ? file_name : "";
      log->error = OneLine("line " + std::to_string(line_number) + ": " + message);
    }
  } else if (log->collect_warnings && log->data != nullptr) {
    log->data->Warn(OneLine(where + ": " + message));
  }
}

YR_COMPILER* NewCompiler(CompileLog* log) {
  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS) return nullptr;
  yr_compiler_set_callback(compiler, CompileCallback, log);
  for (std::string_view name : ExternalNames()) {
    if (yr_compiler_define_string_variable(compiler, std::string(name).c_str(), "") !=
        ERROR_SUCCESS) {
      yr_compiler_destroy(compiler);
      return nullptr;
    }
  }
  return compiler;
}

// Adds one file; returns false (log->error set) when it has errors.
bool AddFile(YR_COMPILER* compiler, const std::string& path, CompileLog* log) {
  std::FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) {
    log->error_file = path;
    log->error = std::string("cannot open: ") + std::strerror(errno);
    return false;
  }
  const int errors = yr_compiler_add_file(compiler, f, nullptr, path.c_str());
  std::fclose(f);
  if (errors > 0 && log->error.empty()) {
    log->error_file = path;
    log->error = "does not compile";
  }
  return errors == 0;
}

size_t CountingWrite(const void* /*ptr*/, size_t size, size_t count, void* user_data) {
  *static_cast<uint64_t*>(user_data) += size * count;
  return count;
}

uint64_t CompiledSize(YR_RULES* rules) {
  uint64_t n = 0;
  YR_STREAM stream = {};
  stream.user_data = &n;
  stream.write = CountingWrite;
  yr_rules_save_stream(rules, &stream);
  return n;
}

void DestroyGroups(RulesData* data) {
  for (RulesData::Group& g : data->groups) {
    if (g.rules != nullptr) yr_rules_destroy(g.rules);
  }
  data->groups.clear();
}

struct RuleFile {
  std::string path;
  std::string name;  // within the rules directory
  std::string text;
};

// Compiles one group's files into *rules, skipping (into data->skipped) the files that do not
// compile; strict: the first failing file fails the call.
Status CompileGroup(const std::vector<const RuleFile*>& files, bool strict, RulesData* data,
                    YR_RULES** rules) {
  // 1. Each file on its own: syntax errors, unknown modules, undefined identifiers. A file whose
  //    only fault is an undefined identifier may use a rule of another file: it is tried with the
  //    others below and skipped only if it still fails.
  std::vector<const RuleFile*> candidates;
  for (const RuleFile* f : files) {
    CompileLog log;
    YR_COMPILER* compiler = NewCompiler(&log);
    if (compiler == nullptr) return Status::Internal("yr_compiler_create failed");
    const bool ok = AddFile(compiler, f->path, &log);
    yr_compiler_destroy(compiler);
    if (ok || log.error.find("undefined identifier") != std::string::npos) {
      candidates.push_back(f);
      continue;
    }
    if (strict) return Status::Internal("YARA rules do not compile: " + f->name + ": " + log.error);
    data->skipped.push_back({f->name, log.error});
  }
  // 2. All candidates in one compiler (one namespace: rules may reference each other, names must
  //    be unique). A failure names its file, which is dropped; bounded by the number of files.
  for (size_t attempt = 0; attempt <= files.size(); ++attempt) {
    CompileLog log;
    log.collect_warnings = true;
    log.data = data;
    const size_t warnings_before = data->warnings.size();
    const size_t warning_count_before = data->warning_count;
    YR_COMPILER* compiler = NewCompiler(&log);
    if (compiler == nullptr) return Status::Internal("yr_compiler_create failed");
    const RuleFile* failed = nullptr;
    for (const RuleFile* f : candidates) {
      if (!AddFile(compiler, f->path, &log)) {
        failed = f;
        break;
      }
    }
    if (failed == nullptr) {
      const int rc = yr_compiler_get_rules(compiler, rules);
      yr_compiler_destroy(compiler);
      if (rc != ERROR_SUCCESS) {
        return Status::Internal("yr_compiler_get_rules failed with YARA error " +
                                std::to_string(rc));
      }
      data->files_loaded += candidates.size();
      return Status::Ok();
    }
    yr_compiler_destroy(compiler);
    // Warnings of a failed attempt are collected again by the next one.
    data->warnings.resize(warnings_before);
    data->warning_count = warning_count_before;
    if (strict) {
      return Status::Internal("YARA rules do not compile: " + failed->name + ": " + log.error);
    }
    data->skipped.push_back({failed->name, log.error});
    candidates.erase(std::find(candidates.begin(), candidates.end(), failed));
  }
  return Status::Internal("YARA rules of " + std::to_string(files.size()) +
                          " files could not be compiled");
}

// The loaded rules: counts, severity problems, names defined in two groups (warn: record the
// problems; a cached load has them already).
Status CheckRules(const RulesOptions& options, bool warn, RulesData* data, size_t* rule_count) {
  std::map<std::string, size_t> group_of;
  for (size_t g = 0; g < data->groups.size(); ++g) {
    const YR_RULE* rule;
    yr_rules_foreach(data->groups[g].rules, rule) {
      ++*rule_count;
      const RuleSeverity sev = RuleSeverityOf(rule, options.default_risk);
      if (!sev.problem.empty()) {
        if (options.strict) {
          return Status::Internal(std::string("YARA rule ") + rule->identifier + ": " +
                                  sev.problem);
        }
        if (warn)
          data->Warn(std::string("rule ") + rule->identifier + ": " + sev.problem +
                     " (scored by score/default instead)");
      }
      auto [it, inserted] = group_of.emplace(rule->identifier, g);
      if (!inserted && it->second != g) {
        if (options.strict) {
          return Status::Internal(std::string("YARA rule ") + rule->identifier +
                                  " is defined in more than one file of " + options.rules_dir);
        }
        if (warn)
          data->Warn(std::string("rule ") + rule->identifier +
                     " is defined in files of two import groups (both run)");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

const std::vector<std::string_view>& ExternalNames() {
  static const std::vector<std::string_view> kNames = {"filename", "filepath", "extension",
                                                       "filetype", "md5",      "owner"};
  return kNames;
}

ScanExternals ExternalsFor(std::string_view name, const uint8_t* data, size_t size) {
  ScanExternals e;
  e.filepath = std::string(name);
  const size_t slash = name.find_last_of("/\\");
  e.filename = std::string(slash == std::string_view::npos ? name : name.substr(slash + 1));
  const size_t dot = e.filename.rfind('.');
  if (dot != std::string::npos && dot > 0) {
    e.extension = AsciiLower(std::string_view(e.filename).substr(dot));
  }
  auto starts = [&](std::string_view magic) {
    return size >= magic.size() && std::memcmp(data, magic.data(), magic.size()) == 0;
  };
  struct Magic {
    std::string_view bytes;
    const char* type;
  };
  static constexpr Magic kMagics[] = {
      {"MZ", "EXE"},
      {"\x7f"
       "ELF",
       "ELF"},
      {"PK\x03\x04", "ZIP"},
      {"%PDF", "PDF"},
      {"Rar!", "RAR"},
      {"7z\xbc\xaf\x27\x1c", "7Z"},
      {"\x1f\x8b", "GZIP"},
      {"MSCF", "CAB"},
      {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "MSI"},
      {"\xff\xd8\xff", "JPG"},
      {"\x89PNG", "PNG"},
      {"GIF8", "GIF"},
  };
  for (const Magic& m : kMagics) {
    if (starts(m.bytes)) {
      e.filetype = m.type;
      break;
    }
  }
  return e;
}

bool DefineExternals(YR_SCAN_CONTEXT* scanner, const ScanExternals& ext) {
  const std::pair<const char*, const std::string*> values[] = {
      {"filename", &ext.filename}, {"filepath", &ext.filepath}, {"extension", &ext.extension},
      {"filetype", &ext.filetype}, {"md5", &ext.md5},           {"owner", &ext.owner}};
  for (const auto& [name, value] : values) {
    if (yr_scanner_define_string_variable(scanner, name, value->c_str()) != ERROR_SUCCESS) {
      return false;
    }
  }
  return true;
}

std::vector<std::string> LeadingImports(std::string_view src) {
  std::vector<std::string> modules;
  size_t i = 0;
  while (i < src.size()) {
    const auto c = static_cast<unsigned char>(src[i]);
    if (std::isspace(c)) {
      ++i;
    } else if (src.substr(i, 2) == "//") {
      i = src.find('\n', i);
    } else if (src.substr(i, 2) == "/*") {
      i = src.find("*/", i + 2);
      if (i != std::string_view::npos) i += 2;
    } else if (src.substr(i, 7) == "include") {
      i = src.find('\n', i);
    } else if (src.substr(i, 6) == "import") {
      const size_t open = src.find_first_not_of(" \t", i + 6);
      if (open == std::string_view::npos || src[open] != '"') break;
      const size_t close = src.find('"', open + 1);
      if (close == std::string_view::npos) break;
      modules.emplace_back(src.substr(open + 1, close - open - 1));
      i = close + 1;
    } else {
      break;
    }
  }
  return modules;
}

bool RuleMeta(const YR_RULE* rule, const char* name, MetaValue* out) {
  const YR_META* meta;
  yr_rule_metas_foreach(rule, meta) {
    if (std::strcmp(meta->identifier, name) != 0) continue;
    if (meta->type == META_TYPE_STRING) {
      out->is_int = false;
      out->text = meta->string;
      return true;
    }
    if (meta->type == META_TYPE_INTEGER || meta->type == META_TYPE_BOOLEAN) {
      out->is_int = true;
      out->number = meta->integer;
      return true;
    }
  }
  return false;
}

RuleSeverity RuleSeverityOf(const YR_RULE* rule, Risk fallback) {
  MetaValue v;
  std::optional<MetaValue> severity, score;
  if (RuleMeta(rule, "severity", &v)) severity = v;
  if (RuleMeta(rule, "score", &v)) score = v;
  return SeverityOf(severity, score, fallback);
}

CompiledRules::~CompiledRules() { DestroyGroups(&data_); }

Result<std::unique_ptr<CompiledRules>> CompiledRules::Load(const RulesOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<CompiledRules> out(new CompiledRules());
  RulesData& data = out->data_;

  std::error_code ec;
  if (!std::filesystem::is_directory(options.rules_dir, ec)) {
    return Status::Internal("rules directory " + options.rules_dir + " does not exist");
  }
  std::vector<std::filesystem::path> paths;
  for (std::filesystem::directory_iterator it(options.rules_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::filesystem::path& p = it->path();
    if ((p.extension() == ".yar" || p.extension() == ".yara") && it->is_regular_file(ec)) {
      paths.push_back(p);
    }
  }
  if (ec) return Status::Internal("listing " + options.rules_dir + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  std::vector<RuleFile> files;
  files.reserve(paths.size());
  for (const std::filesystem::path& p : paths) {
    RuleFile f;
    f.path = p.string();
    f.name = p.filename().string();
    if (!ReadWholeFile(f.path, &f.text)) {
      return Status::Internal("cannot read " + f.path + ": " + std::strerror(errno));
    }
    files.push_back(std::move(f));
  }
  data.files_total = files.size();

  // The cache, when the key's entry exists.
  std::string key;
  if (!options.cache_dir.empty()) {
    std::vector<std::pair<std::string, std::string>> named;
    named.reserve(files.size());
    for (const RuleFile& f : files) named.emplace_back(f.name, f.text);
    key = RulesCacheKey(named, options.strict, options.gate_by_import);
    RulesData cached;
    if (LoadRulesCache(options.cache_dir, key, &cached, &out->cache_note_)) {
      data = std::move(cached);
      out->from_cache_ = true;
    }
  }

  if (!out->from_cache_) {
    // Group index = needs_pe + 2 * needs_elf.
    std::vector<const RuleFile*> groups[4];
    for (const RuleFile& f : files) {
      bool pe = false;
      bool elf = false;
      if (options.gate_by_import) {
        for (const std::string& module : LeadingImports(f.text)) {
          pe |= module == "pe";
          elf |= module == "elf";
        }
      }
      groups[(pe ? 1 : 0) + (elf ? 2 : 0)].push_back(&f);
    }
    for (int g = 0; g < 4; ++g) {
      if (groups[g].empty()) continue;
      RulesData::Group group;
      group.needs_pe = (g & 1) != 0;
      group.needs_elf = (g & 2) != 0;
      if (Status st = CompileGroup(groups[g], options.strict, &data, &group.rules); !st.ok()) {
        return st;
      }
      data.groups.push_back(group);  // owned from here on
    }
    std::sort(data.skipped.begin(), data.skipped.end(),
              [](const RuleFileProblem& a, const RuleFileProblem& b) { return a.file < b.file; });
  }
  size_t rule_count = 0;
  if (Status st = CheckRules(options, !out->from_cache_, &data, &rule_count); !st.ok()) return st;
  out->rule_count_ = rule_count;
  for (const RulesData::Group& g : data.groups) out->compiled_bytes_ += CompiledSize(g.rules);
  if (!out->from_cache_ && !options.cache_dir.empty()) {
    std::string note;
    if (!SaveRulesCache(options.cache_dir, key, data, &note)) out->cache_note_ = note;
  }
  out->load_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace sandgate::analysis
