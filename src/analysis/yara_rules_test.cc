// Rule sets as people bring them: severities, externals, broken files, the compiled-rules cache,
// archive members, the scan time budget.
#include "analysis/yara_rules.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "analysis/engine.h"
#include "analysis/members.h"
#include "analysis/severity.h"

namespace sandgate::analysis {
namespace {

namespace fs = std::filesystem;

class Scratch {
 public:
  Scratch() {
    std::string tmpl = testing::TempDir() + "sg_rules_XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~Scratch() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& bytes) const {
    const std::string p = path_ + "/" + name;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
    return p;
  }

 private:
  std::string path_;
};

std::optional<MetaValue> Word(std::string_view s) {
  MetaValue v;
  v.text = s;
  return v;
}
std::optional<MetaValue> Num(int64_t n) {
  MetaValue v;
  v.is_int = true;
  v.number = n;
  return v;
}

TEST(SeverityTest, MappingOfWordsNumbersScoresAndDefault) {
  const Risk L = Risk::kLow, M = Risk::kModerate, H = Risk::kHigh;
  struct Case {
    std::optional<MetaValue> severity, score;
    Risk fallback, want;
    SeveritySource source;
  };
  const Case cases[] = {
      {Word("LOW"), {}, H, L, SeveritySource::kSeverityWord},
      {Word("moderate"), {}, L, M, SeveritySource::kSeverityWord},
      {Word("Medium"), {}, L, M, SeveritySource::kSeverityWord},
      {Word("HIGH"), Num(10), L, H, SeveritySource::kSeverityWord},  // severity beats score
      {Word("critical"), {}, L, H, SeveritySource::kSeverityWord},
      {Word("informational"), {}, H, L, SeveritySource::kSeverityWord},
      {Num(0), {}, H, L, SeveritySource::kSeverityNumber},
      {Num(39), {}, H, L, SeveritySource::kSeverityNumber},
      {Num(40), {}, H, M, SeveritySource::kSeverityNumber},
      {Num(79), {}, H, M, SeveritySource::kSeverityNumber},
      {Num(80), {}, L, H, SeveritySource::kSeverityNumber},
      {Word("75"), {}, L, M, SeveritySource::kSeverityNumber},
      {{}, Num(70), L, M, SeveritySource::kScore},
      {{}, Num(85), L, H, SeveritySource::kScore},
      {{}, Num(300), L, H, SeveritySource::kScore},  // THOR uses a few scores above 100
      {{}, Num(-5), H, L, SeveritySource::kScore},
      {{}, Word("60"), L, M, SeveritySource::kScore},
      {{}, {}, M, M, SeveritySource::kDefault},
      {{}, {}, H, H, SeveritySource::kDefault},
      {Word("banana"), Num(90), L, H, SeveritySource::kScore},
      {Word("banana"), {}, L, L, SeveritySource::kDefault},
  };
  for (const Case& c : cases) {
    const RuleSeverity r = SeverityOf(c.severity, c.score, c.fallback);
    const std::string what = (c.severity ? (c.severity->is_int ? std::to_string(c.severity->number)
                                                               : std::string(c.severity->text))
                                         : "-") +
                             "/" + (c.score ? std::to_string(c.score->number) : "-");
    EXPECT_EQ(r.risk, c.want) << what;
    EXPECT_EQ(r.source, c.source) << what;
  }
  EXPECT_FALSE(SeverityOf(Word("banana"), {}, L).problem.empty());
  EXPECT_TRUE(SeverityOf(Word("HIGH"), {}, L).problem.empty());
}

TEST(ExternalsTest, FromNameAndHeader) {
  const std::string mz = "MZ\x90";
  ScanExternals e =
      ExternalsFor("dir/Invoice.PDF.EXE", reinterpret_cast<const uint8_t*>(mz.data()), mz.size());
  EXPECT_EQ(e.filename, "Invoice.PDF.EXE");
  EXPECT_EQ(e.filepath, "dir/Invoice.PDF.EXE");
  EXPECT_EQ(e.extension, ".exe");
  EXPECT_EQ(e.filetype, "EXE");
  e = ExternalsFor("", reinterpret_cast<const uint8_t*>("x"), 1);
  EXPECT_EQ(e.filename, "");
  EXPECT_EQ(e.extension, "");
  EXPECT_EQ(e.filetype, "");
  e = ExternalsFor(".bashrc", reinterpret_cast<const uint8_t*>("PK\x03\x04"), 4);
  EXPECT_EQ(e.extension, "");
  EXPECT_EQ(e.filetype, "ZIP");
}

std::vector<std::string> RuleNames(const StaticResult& s) {
  std::vector<std::string> names;
  for (const Finding& f : s.findings) names.push_back(f.rule);
  std::sort(names.begin(), names.end());
  return names;
}

const Finding* FindingFor(const StaticResult& s, const std::string& rule,
                          const std::string& member = "") {
  for (const Finding& f : s.findings) {
    if (f.rule == rule && f.member == member) return &f;
  }
  return nullptr;
}

class RulesTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    rules_ = tmp_.path() + "/rules";
    fs::create_directories(rules_);
    config_.rules_dir = rules_;
  }
  void Rule(const std::string& file, const std::string& text) { tmp_.Write("rules/" + file, text); }
  Result<std::shared_ptr<Engine>> Load() { return Engine::Load(config_); }

  Scratch tmp_;
  std::string rules_;
  EngineConfig config_;
};

TEST_F(RulesTest, BrokenFilesAreSkippedAndReportedTheRestLoads) {
  Rule("a_good.yar",
       "rule Good_Marker { meta: severity = \"HIGH\" strings: $m = \"sg-marker-good\" "
       "condition: $m }\n");
  Rule("b_syntax.yar", "rule Broken { condition: ( }\n");
  Rule("c_module.yar",
       "import \"nosuchmodule\"\nrule NeedsModule { meta: score = 50 condition: true }\n");
  Rule("d_undefined.yar", "rule Undef { condition: not_defined_anywhere }\n");
  Rule("e_dup.yar", "rule Good_Marker { meta: score = 10 condition: false }\n");
  Rule("f_uses_other.yar",  // references a rule of another file: kept
       "rule Uses_Good { meta: score = 20 condition: Good_Marker }\n");
  Result<std::shared_ptr<Engine>> e = Load();
  ASSERT_TRUE(e.ok()) << e.status().message();
  const CompiledRules* rules = (*e)->rules();
  ASSERT_NE(rules, nullptr);
  EXPECT_EQ(rules->rule_count(), 2u);
  EXPECT_EQ(rules->data().files_total, 6u);
  EXPECT_EQ(rules->data().files_loaded, 2u);
  std::vector<std::string> skipped;
  for (const RuleFileProblem& p : rules->data().skipped) {
    skipped.push_back(p.file);
    EXPECT_FALSE(p.reason.empty()) << p.file;
  }
  EXPECT_EQ(skipped, (std::vector<std::string>{"b_syntax.yar", "c_module.yar", "d_undefined.yar",
                                               "e_dup.yar"}));
  EXPECT_NE(rules->data().skipped[1].reason.find("nosuchmodule"), std::string::npos)
      << rules->data().skipped[1].reason;
  EXPECT_NE(rules->data().skipped[2].reason.find("not_defined_anywhere"), std::string::npos)
      << rules->data().skipped[2].reason;
  EXPECT_NE(rules->data().skipped[3].reason.find("Good_Marker"), std::string::npos)
      << rules->data().skipped[3].reason;

  Result<StaticResult> s = (*e)->Static(tmp_.Write("m.txt", "x sg-marker-good x\n"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(RuleNames(*s), (std::vector<std::string>{"Good_Marker", "Uses_Good"}));
  EXPECT_EQ(s->score, 60);  // HIGH 50 + LOW 10 (score 20)

  // The compiler's warnings (here: a string that slows scanning) are kept with their file.
  Rule("g_slow.yar", "rule Slow_One { meta: score = 10 strings: $a = { 00 ?? } condition: $a }\n");
  e = Load();
  ASSERT_TRUE(e.ok()) << e.status().message();
  ASSERT_EQ((*e)->rules()->data().warning_count, 1u);
  EXPECT_NE((*e)->rules()->data().warnings[0].find("g_slow.yar:1: "), std::string::npos)
      << (*e)->rules()->data().warnings[0];
  EXPECT_NE((*e)->rules()->data().warnings[0].find("slow"), std::string::npos)
      << (*e)->rules()->data().warnings[0];

  // Strict: all or nothing, naming the first bad file.
  config_.rules_strict = true;
  Result<std::shared_ptr<Engine>> strict = Load();
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("b_syntax.yar: line 1"), std::string::npos)
      << strict.status().message();
}

TEST_F(RulesTest, FilesImportingPeRunOnEveryFileUnlessGated) {
  // signature-base puts rules for configs and scripts in files that import "pe".
  Rule("mixed.yar",
       "import \"pe\"\n"
       "rule Config_Rule { meta: score = 50 strings: $m = \"[PARAMS]\" condition: $m }\n"
       "rule Pe_Rule { meta: score = 50 condition: pe.is_pe }\n");
  Result<std::shared_ptr<Engine>> e = Load();
  ASSERT_TRUE(e.ok()) << e.status().message();
  const std::string config = tmp_.Write("log.ini", "[PARAMS]\nPort=80\n");
  Result<StaticResult> s = (*e)->Static(config);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(RuleNames(*s), (std::vector<std::string>{"Config_Rule"}));
  config_.gate_by_import = true;  // the shipped rules' contract: pe files run on MZ input only
  e = Load();
  ASSERT_TRUE(e.ok());
  s = (*e)->Static(config);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->findings.empty());
}

TEST_F(RulesTest, SeveritiesFromWordsNumbersScoresAndTheDirectoryDefault) {
  Rule("sev.yar",
       "rule R_Word { meta: severity = \"LOW\" strings: $m = \"sg-sev\" condition: $m }\n"
       "rule R_Number { meta: severity = 85 strings: $m = \"sg-sev\" condition: $m }\n"
       "rule R_Score { meta: score = 60 strings: $m = \"sg-sev\" condition: $m }\n"
       "rule R_None { meta: author = \"x\" strings: $m = \"sg-sev\" condition: $m }\n"
       "rule R_Odd { meta: severity = \"banana\" strings: $m = \"sg-sev\" condition: $m }\n");
  config_.rules_default_risk = Risk::kLow;
  Result<std::shared_ptr<Engine>> e = Load();
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ((*e)->rules()->data().warning_count, 1u);  // R_Odd's unknown word
  ASSERT_FALSE((*e)->rules()->data().warnings.empty());
  EXPECT_NE((*e)->rules()->data().warnings[0].find("R_Odd"), std::string::npos);
  Result<StaticResult> s = (*e)->Static(tmp_.Write("m.txt", "sg-sev"));
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->findings.size(), 5u);
  auto risk = [&](const char* rule) {
    const Finding* f = FindingFor(*s, rule);
    return f == nullptr ? "missing" : std::string(RiskName(f->risk));
  };
  EXPECT_EQ(risk("R_Word"), "LOW");
  EXPECT_EQ(risk("R_Number"), "HIGH");
  EXPECT_EQ(risk("R_Score"), "MODERATE");
  EXPECT_EQ(risk("R_None"), "LOW");  // the configured default
  EXPECT_EQ(risk("R_Odd"), "LOW");
  EXPECT_EQ(s->score, 89);  // 10 + 50 + 30 + 10 + 10, capped
  // The verdict follows: HIGH + MODERATE -> SUSPICIOUS.
  QuickResult q;
  q.identified = true;
  q.file_type = "txt";
  EXPECT_EQ(Classify(q, &*s).type, VerdictType::kSuspicious);

  config_.rules_default_risk = Risk::kHigh;
  e = Load();
  ASSERT_TRUE(e.ok());
  s = (*e)->Static(tmp_.Write("m.txt", "sg-sev"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::string(RiskName(FindingFor(*s, "R_None")->risk)), "HIGH");
}

TEST_F(RulesTest, ExternalVariablesHaveHarmlessDefaultsAndTheClientsName) {
  // As LOKI/THOR rules use them.
  Rule("ext.yar",
       "rule By_Name { meta: score = 70 condition: filename == \"invoice.js\" }\n"
       "rule By_Ext { meta: score = 70 condition: extension == \".js\" }\n"
       "rule By_Path { meta: score = 70 condition: filepath contains \"invoice\" }\n"
       "rule By_Type { meta: score = 70 condition: filetype == \"EXE\" }\n"
       "rule By_Owner { meta: score = 70 condition: owner == \"root\" }\n"
       "rule By_Md5 { meta: score = 70 condition: md5 == \"x\" }\n"
       "rule Empty_Name { meta: score = 10 condition: filename == \"\" }\n");
  Result<std::shared_ptr<Engine>> e = Load();
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ((*e)->rule_count(), 7u);
  using V = std::vector<std::string>;
  const std::string text = tmp_.Write("upload", "var a = 1;\n");
  Result<StaticResult> s = (*e)->Static(text);  // the Zscaler clients send no name
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(RuleNames(*s), (V{"Empty_Name"}));
  s = (*e)->Static(text, "invoice.js");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(RuleNames(*s), (V{"By_Ext", "By_Name", "By_Path"}));
  s = (*e)->Static(tmp_.Write("exe", "MZ\x90\x00 not really"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(RuleNames(*s), (V{"By_Type", "Empty_Name"}));
}

TEST_F(RulesTest, CompiledRulesAreCachedAndTheCacheFollowsTheRules) {
  Rule("a.yar",
       "rule Cached_A { meta: severity = \"LOW\" strings: $m = \"sg-a\" condition: $m }\n");
  Rule("b.yar", "import \"pe\"\nrule Cached_Pe { meta: score = 90 condition: pe.is_pe }\n");
  Rule("zz_bad.yar", "rule Bad { condition: nope( }\n");
  config_.rules_cache_dir = tmp_.path() + "/cache";
  Result<std::shared_ptr<Engine>> first = Load();
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_FALSE((*first)->rules()->from_cache());
  EXPECT_EQ((*first)->rules()->cache_note(), "");
  size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(config_.rules_cache_dir)) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1u);

  Result<std::shared_ptr<Engine>> second = Load();
  ASSERT_TRUE(second.ok()) << second.status().message();
  const CompiledRules* r = (*second)->rules();
  EXPECT_TRUE(r->from_cache()) << r->cache_note();
  EXPECT_EQ(r->rule_count(), 2u);
  EXPECT_EQ(r->data().files_total, 3u);
  EXPECT_EQ(r->data().files_loaded, 2u);
  ASSERT_EQ(r->data().skipped.size(), 1u);
  EXPECT_EQ(r->data().skipped[0].file, "zz_bad.yar");
  EXPECT_EQ(r->data().skipped[0].reason, (*first)->rules()->data().skipped[0].reason);
  Result<StaticResult> s = (*second)->Static(tmp_.Write("m", "sg-a"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(RuleNames(*s), (std::vector<std::string>{"Cached_A"}));

  // A changed file: compiled again, the old entry replaced.
  Rule("a.yar",
       "rule Cached_A2 { meta: severity = \"LOW\" strings: $m = \"sg-a\" condition: $m }\n");
  Result<std::shared_ptr<Engine>> third = Load();
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE((*third)->rules()->from_cache());
  s = (*third)->Static(tmp_.Write("m", "sg-a"));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(RuleNames(*s), (std::vector<std::string>{"Cached_A2"}));
  entries = 0;
  std::string entry_dir;
  for (const auto& entry : fs::directory_iterator(config_.rules_cache_dir)) {
    entry_dir = entry.path().string();
    ++entries;
  }
  EXPECT_EQ(entries, 1u);

  // A damaged entry is not trusted: the rules are compiled again.
  tmp_.Write(entry_dir.substr(tmp_.path().size() + 1) + "/group-0.yarc", "garbage");
  Result<std::shared_ptr<Engine>> fourth = Load();
  ASSERT_TRUE(fourth.ok()) << fourth.status().message();
  EXPECT_FALSE((*fourth)->rules()->from_cache());
  EXPECT_NE((*fourth)->rules()->cache_note().find("yr_rules_load"), std::string::npos)
      << (*fourth)->rules()->cache_note();
  EXPECT_EQ((*fourth)->rule_count(), 2u);
  Result<std::shared_ptr<Engine>> fifth = Load();
  ASSERT_TRUE(fifth.ok());
  EXPECT_TRUE((*fifth)->rules()->from_cache());  // rewritten
}

// Builds archives with Python's standard library (zipfile, tarfile): a zip holding a zip, and a
// tar.gz holding a zip.
bool MakeArchives(const std::string& dir) {
  const std::string script = R"PY(
import io, sys, tarfile, zipfile
d = sys.argv[1]
inner = io.BytesIO()
with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("docs/payload.ps1", "IEX sg-member-marker-51\n")
    z.writestr("clean.txt", "nothing to see\n")
with zipfile.ZipFile(d + "/outer.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("readme.txt", "hello\n")
    z.writestr("inner.zip", inner.getvalue())
with tarfile.open(d + "/bundle.tar.gz", "w:gz") as t:
    data = inner.getvalue()
    info = tarfile.TarInfo("nested/inner.zip")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
)PY";
  const std::string py = dir + "/make.py";
  std::ofstream(py) << script;
  return std::system(("python3 " + py + " " + dir).c_str()) == 0;
}

TEST_F(RulesTest, ArchiveMembersAreMatchedWithTheirPath) {
  Rule("m.yar",
       "rule Member_Marker { meta: severity = \"HIGH\" description = \"Marker script\" "
       "strings: $m = \"sg-member-marker-51\" condition: $m }\n"
       "rule Ps1_By_Name { meta: score = 40 condition: extension == \".ps1\" }\n");
  Result<std::shared_ptr<Engine>> e = Load();
  ASSERT_TRUE(e.ok()) << e.status().message();
  ASSERT_TRUE(MakeArchives(tmp_.path()));

  // As a submission runs: the AV scan first (ClamAV's clean cache must not hide the members).
  ASSERT_TRUE((*e)->Quick(tmp_.path() + "/outer.zip", Hashes{}, 0).ok());
  Result<StaticResult> s = (*e)->Static(tmp_.path() + "/outer.zip", "outer.zip");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_GE(s->members_scanned, 4u);  // readme.txt, inner.zip, docs/payload.ps1, clean.txt
  // libclamav records a zip member's base name (docs/payload.ps1 -> payload.ps1).
  const Finding* f = FindingFor(*s, "Member_Marker", "inner.zip/payload.ps1");
  std::string seen;
  for (const Finding& m : s->findings) seen += m.rule + "@" + m.member + " ";
  ASSERT_NE(f, nullptr) << seen;
  EXPECT_EQ(f->signature, "Marker script (in inner.zip/payload.ps1)");
  EXPECT_EQ(f->risk, Risk::kHigh);
  EXPECT_NE(FindingFor(*s, "Ps1_By_Name", "inner.zip/payload.ps1"), nullptr);
  EXPECT_EQ(FindingFor(*s, "Member_Marker"), nullptr);  // not in the zip's own bytes (deflated)

  s = (*e)->Static(tmp_.path() + "/bundle.tar.gz");
  ASSERT_TRUE(s.ok()) << s.status().message();
  bool found = false;
  for (const Finding& m : s->findings) {
    if (m.rule == "Member_Marker") {
      found = true;
      // The gzip layer has no name: "?".
      EXPECT_EQ(m.member, "?/nested/inner.zip/payload.ps1");
    }
  }
  EXPECT_TRUE(found) << testing::PrintToString(RuleNames(*s));

  // Without rules nothing walks the members (and the AV scan is unchanged).
  EXPECT_TRUE(LooksLikeArchive(reinterpret_cast<const uint8_t*>("PK\x03\x04"), 4));
  EXPECT_FALSE(LooksLikeArchive(reinterpret_cast<const uint8_t*>("hello"), 5));
}

TEST_F(RulesTest, TheTimeBudgetEndsASlowScanWithPartialResults) {
  Rule("slow.yar",
       "rule Quick_One { meta: severity = \"LOW\" condition: true }\n"
       "rule Very_Slow { meta: severity = \"HIGH\" condition: "
       "for all i in (0..filesize - 1) : (for all j in (0..filesize - 1) : "
       "(uint8(i) != 0xff or uint8(j) == 1)) }\n");
  config_.yara_timeout_seconds = 1;
  Result<std::shared_ptr<Engine>> e = Load();
  ASSERT_TRUE(e.ok()) << e.status().message();
  Result<StaticResult> s = (*e)->Static(tmp_.Write("zeros", std::string(1 << 20, '\0')));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(s->timed_out);
  ASSERT_FALSE(s->findings.empty());
  EXPECT_EQ(s->findings.back().rule, "Sandgate.YaraTimeout");
  EXPECT_EQ(FindingFor(*s, "Very_Slow"), nullptr);
}

}  // namespace
}  // namespace sandgate::analysis

namespace sandgate::analysis {
namespace {

// The whole of Neo23x0's signature-base (about 740 files), when a checkout's yara/ directory is
// named by SANDGATE_SIGNATURE_BASE (not in CI: it is not vendored). Every file must compile
// except those importing a module Debian's libyara is built without; each of those is reported.
//   SANDGATE_SIGNATURE_BASE=/path/to/signature-base/yara build/release/sandgate_unit_tests
//     --gtest_filter='SignatureBase*'
TEST(SignatureBaseTest, FullSetLoadsExceptFilesNeedingMissingModules) {
  const char* dir = std::getenv("SANDGATE_SIGNATURE_BASE");
  if (dir == nullptr || *dir == '\0') GTEST_SKIP() << "SANDGATE_SIGNATURE_BASE not set";
  Scratch tmp;
  EngineConfig config;
  config.rules_dir = dir;
  config.rules_cache_dir = tmp.path() + "/cache";
  Result<std::shared_ptr<Engine>> e = Engine::Load(config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  const CompiledRules* r = (*e)->rules();
  std::cout << "signature-base: " << r->rule_count() << " rules from " << r->data().files_loaded
            << " of " << r->data().files_total << " files, compiled in " << r->load_ms() << " ms, "
            << r->compiled_bytes() / 1024 << " KiB compiled, " << r->data().warning_count
            << " warnings\n";
  for (const RuleFileProblem& p : r->data().skipped) {
    std::cout << "  skipped " << p.file << ": " << p.reason << "\n";
    EXPECT_NE(p.reason.find("unknown module"), std::string::npos) << p.file << ": " << p.reason;
  }
  for (const std::string& w : r->data().warnings) std::cout << "  warning " << w << "\n";
  EXPECT_GT(r->rule_count(), 1000u);

  Result<std::shared_ptr<Engine>> again = Engine::Load(config);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE((*again)->rules()->from_cache()) << (*again)->rules()->cache_note();
  EXPECT_EQ((*again)->rule_count(), r->rule_count());
  EXPECT_EQ((*again)->rules()->data().skipped.size(), r->data().skipped.size());
  std::cout << "signature-base from the cache: " << (*again)->rules()->load_ms() << " ms\n";

  // It scans: a file of this test binary's own bytes, and a text file.
  Result<StaticResult> s = (*again)->Static("/proc/self/exe");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_FALSE(s->timed_out);
}

}  // namespace
}  // namespace sandgate::analysis
