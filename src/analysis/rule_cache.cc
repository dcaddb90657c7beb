#include "analysis/rule_cache.h"

#include <sodium.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <yara.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sandgate::analysis {
namespace {

constexpr const char* kFormat = "sandgate-rules-cache 1";

void HashField(crypto_generichash_state* st, std::string_view s) {
  const uint64_t n = s.size();
  crypto_generichash_update(st, reinterpret_cast<const unsigned char*>(&n), sizeof n);
  crypto_generichash_update(st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
}

bool IsKeyName(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool Plain(const std::string& s) { return s.find_first_of("\t\n\r") == std::string::npos; }

}  // namespace

std::string RulesCacheKey(const std::vector<std::pair<std::string, std::string>>& files,
                          bool strict, bool gate_by_import) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  HashField(&st, kFormat);
  HashField(&st, YR_VERSION);
  HashField(&st, std::to_string(YR_MAX_THREADS));
  for (std::string_view name : ExternalNames()) HashField(&st, name);
  HashField(&st, strict ? "strict" : "lenient");
  HashField(&st, gate_by_import ? "gated" : "ungated");
  for (const auto& [name, text] : files) {
    HashField(&st, name);
    HashField(&st, text);
  }
  unsigned char out[32];
  crypto_generichash_final(&st, out, sizeof out);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

bool LoadRulesCache(const std::string& cache_dir, const std::string& key, RulesData* out,
                    std::string* note) {
  note->clear();
  const std::string dir = cache_dir + "/" + key;
  std::ifstream manifest(dir + "/manifest");
  if (!manifest) return false;  // no entry: compile
  std::string line;
  if (!std::getline(manifest, line) || line != kFormat) {
    *note = "cache entry " + key + " has an unknown format";
    return false;
  }
  RulesData data;
  bool ok = true;
  while (ok && std::getline(manifest, line)) {
    std::istringstream in(line);
    std::string kind;
    std::getline(in, kind, '\t');
    if (kind == "group") {
      std::string index, pe, elf;
      std::getline(in, index, '\t');
      std::getline(in, pe, '\t');
      std::getline(in, elf, '\t');
      RulesData::Group g;
      g.needs_pe = pe == "1";
      g.needs_elf = elf == "1";
      const std::string file = dir + "/group-" + index + ".yarc";
      const int rc = yr_rules_load(file.c_str(), &g.rules);
      if (rc != ERROR_SUCCESS) {
        *note =
            "cache entry " + key + ": yr_rules_load failed with YARA error " + std::to_string(rc);
        ok = false;
        break;
      }
      data.groups.push_back(g);
    } else if (kind == "skipped") {
      RuleFileProblem p;
      std::getline(in, p.file, '\t');
      std::getline(in, p.reason);
      data.skipped.push_back(std::move(p));
    } else if (kind == "warning") {
      std::string w;
      std::getline(in, w);
      data.Warn(std::move(w));
    } else if (kind == "files") {
      in >> data.files_total >> data.files_loaded;
    } else if (kind == "warning_count") {
      in >> data.warning_count;
    } else if (kind == "end") {
      *out = std::move(data);
      return true;
    }
  }
  for (RulesData::Group& g : data.groups) yr_rules_destroy(g.rules);
  if (note->empty()) *note = "cache entry " + key + " is incomplete";
  return false;
}

bool SaveRulesCache(const std::string& cache_dir, const std::string& key, const RulesData& data,
                    std::string* note) {
  std::error_code ec;
  std::filesystem::create_directories(cache_dir, ec);
  if (ec) {
    *note = "cannot create the rules cache " + cache_dir + ": " + ec.message();
    return false;
  }
  ::chmod(cache_dir.c_str(), 0700);
  std::string tmpl = cache_dir + "/tmp.XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *note = "cannot write the rules cache in " + cache_dir;
    return false;
  }
  const std::string tmp = tmpl;
  auto fail = [&](const std::string& why) {
    std::filesystem::remove_all(tmp, ec);
    *note = why;
    return false;
  };
  std::ostringstream m;
  m << kFormat << "\n";
  for (size_t i = 0; i < data.groups.size(); ++i) {
    const std::string file = tmp + "/group-" + std::to_string(i) + ".yarc";
    if (yr_rules_save(data.groups[i].rules, file.c_str()) != ERROR_SUCCESS) {
      return fail("yr_rules_save failed in " + cache_dir);
    }
    m << "group\t" << i << "\t" << (data.groups[i].needs_pe ? 1 : 0) << "\t"
      << (data.groups[i].needs_elf ? 1 : 0) << "\n";
  }
  for (const RuleFileProblem& p : data.skipped) {
    if (!Plain(p.file) || !Plain(p.reason)) return fail("a rule file name has a tab or line break");
    m << "skipped\t" << p.file << "\t" << p.reason << "\n";
  }
  for (const std::string& w : data.warnings) {
    if (Plain(w)) m << "warning\t" << w << "\n";
  }
  m << "warning_count\t" << data.warning_count << "\n";
  m << "files\t" << data.files_total << " " << data.files_loaded << "\n";
  m << "end\n";
  {
    std::ofstream f(tmp + "/manifest", std::ios::trunc);
    f << m.str();
    f.flush();
    if (!f) return fail("cannot write the rules cache manifest in " + cache_dir);
  }
  const std::string dest = cache_dir + "/" + key;
  std::filesystem::remove_all(dest, ec);  // a damaged entry of the same key
  std::filesystem::rename(tmp, dest, ec);
  if (ec) return fail("cannot rename the rules cache entry: " + ec.message());
  // Older entries (other keys) and temporaries left by a crash.
  for (std::filesystem::directory_iterator it(cache_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name != key && (IsKeyName(name) || name.starts_with("tmp."))) {
      std::error_code rm;
      std::filesystem::remove_all(it->path(), rm);
    }
  }
  return true;
}

}  // namespace sandgate::analysis
