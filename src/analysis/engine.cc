#include "analysis/engine.h"

#include <clamav.h>
#include <errno.h>
#include <fcntl.h>
#include <fuzzy.h>
#include <magic.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "analysis/file_type.h"
#include "metrics/sandgate_metrics.h"

extern char** environ;

namespace sandgate::analysis {
namespace {

// Bytes of the file's beginning given to the text sniffer and zip-entry check.
constexpr size_t kHeadBytes = 64 * 1024;
// libmagic reads at most this much of a file (its default is 7 MiB; every rule we rely on looks at
// the beginning, ELF/PE parsing seeks separately).
constexpr size_t kMagicBytesMax = 1024 * 1024;
// Idle libmagic handles kept for reuse; more are opened on demand under load and closed afterwards.
constexpr size_t kMaxIdleMagic = 8;
// Real errors for unreadable files (not a description saying so); follow symlinks like open() does.
constexpr int kMagicFlags = MAGIC_ERROR | MAGIC_SYMLINK;

constexpr int kWeightHigh = 50;
constexpr int kWeightModerate = 30;
constexpr int kWeightLow = 10;
constexpr int kStaticScoreCap = 89;
constexpr int kSuspiciousThreshold = 30;
constexpr double kHighEntropyBits = 7.2;
constexpr uint64_t kHighEntropyMinSize = 1024;
constexpr int kEntropyIndicatorScore = 30;

// libclamav and libyara keep process-wide state; initialise both exactly once (thread-safe static).
Status InitLibraries() {
  static const Status status = [] {
    const cl_error_t rc = cl_init(CL_INIT_DEFAULT);
    if (rc != CL_SUCCESS) return Status::Internal(std::string("cl_init: ") + cl_strerror(rc));
    const int yrc = yr_initialize();
    if (yrc != ERROR_SUCCESS) {
      return Status::Internal("yr_initialize failed with YARA error " + std::to_string(yrc));
    }
    return Status::Ok();
  }();
  return status;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool ParseRisk(std::string_view s, Risk* risk) {
  if (s == "LOW") {
    *risk = Risk::kLow;
  } else if (s == "MODERATE") {
    *risk = Risk::kModerate;
  } else if (s == "HIGH") {
    *risk = Risk::kHigh;
  } else {
    return false;
  }
  return true;
}

int Weight(Risk r) {
  switch (r) {
    case Risk::kHigh:
      return kWeightHigh;
    case Risk::kModerate:
      return kWeightModerate;
    case Risk::kLow:
      return kWeightLow;
  }
  return 0;
}

bool IsKnownSection(std::string_view s) {
  static constexpr std::string_view kSections[] = {"SystemSummary", "Networking",  "SecurityBypass",
                                                   "Stealth",       "Persistence", "Spyware",
                                                   "Exploit"};
  return std::find(std::begin(kSections), std::end(kSections), s) != std::end(kSections);
}

// The string value of a rule's meta `name`, or null.
const char* MetaString(const YR_RULE* rule, const char* name) {
  const YR_META* meta;
  yr_rule_metas_foreach(rule, meta) {
    if (meta->type == META_TYPE_STRING && std::strcmp(meta->identifier, name) == 0) {
      return meta->string;
    }
  }
  return nullptr;
}

Finding FindingOf(const YR_RULE* rule) {
  Finding f;
  f.rule = rule->identifier;
  const char* severity = MetaString(rule, "severity");
  if (severity == nullptr || !ParseRisk(severity, &f.risk)) f.risk = Risk::kModerate;  // not loaded
  const char* description = MetaString(rule, "description");
  f.signature = description != nullptr && *description != '\0' ? description : f.rule;
  f.signature_sources.push_back("YARA:" + f.rule);
  const char* section = MetaString(rule, "section");
  if (section != nullptr && IsKnownSection(section)) f.section = section;
  return f;
}

int YaraScanCallback(YR_SCAN_CONTEXT* /*context*/, int message, void* message_data,
                     void* user_data) {
  if (message == CALLBACK_MSG_RULE_MATCHING) {
    static_cast<std::vector<Finding>*>(user_data)->push_back(
        FindingOf(static_cast<const YR_RULE*>(message_data)));
  }
  return CALLBACK_CONTINUE;
}

struct CompileLog {
  std::string errors;
  int count = 0;
};

void YaraCompileCallback(int error_level, const char* file_name, int line_number,
                         const YR_RULE* /*rule*/, const char* message, void* user_data) {
  if (error_level != YARA_ERROR_LEVEL_ERROR) return;  // warnings (slow strings, ...) are not fatal
  auto* log = static_cast<CompileLog*>(user_data);
  if (log->count++ < 5) {
    if (!log->errors.empty()) log->errors += "; ";
    log->errors += std::string(file_name != nullptr ? file_name : "?") + ":" +
                   std::to_string(line_number) + ": " + message;
  }
}

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

// The modules named by the import statements at the top of a YARA source (before the first token
// that is not an import, include or comment). Imports further down are not seen: such a file just
// runs on every input, which is correct, only slower.
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

// Compiles the given files with one compiler (so rules may reference each other) into *rules.
Status CompileRules(const std::vector<std::string>& files, YR_RULES** rules) {
  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS) {
    return Status::Internal("yr_compiler_create failed");
  }
  CompileLog log;
  yr_compiler_set_callback(compiler, YaraCompileCallback, &log);
  for (const std::string& path : files) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    if (f == nullptr) {
      const int err = errno;
      yr_compiler_destroy(compiler);
      return Status::Internal("cannot open " + path + ": " + std::strerror(err));
    }
    const int errors = yr_compiler_add_file(compiler, f, nullptr, path.c_str());
    std::fclose(f);
    if (errors > 0) {
      yr_compiler_destroy(compiler);  // a compiler that reported errors cannot be used further
      return Status::Internal("YARA rules do not compile: " + log.errors);
    }
  }
  const int rc = yr_compiler_get_rules(compiler, rules);
  yr_compiler_destroy(compiler);
  if (rc != ERROR_SUCCESS) {
    return Status::Internal("yr_compiler_get_rules failed with YARA error " + std::to_string(rc));
  }
  return Status::Ok();
}

// A read-only private mapping of a whole file (an empty file maps to an empty range).
// Opens `path` read-only and checks that it is a regular file. Returns the descriptor (the caller
// closes it) and fills *st, or -1 with *error set.
int OpenRegularFile(const std::string& path, struct stat* st, std::string* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return -1;
  }
  if (::fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    ::close(fd);
    *error = path + " is not a regular file";
    return -1;
  }
  return fd;
}

class MappedFile {
 public:
  MappedFile() = default;
  ~MappedFile() {
    if (data_ != nullptr && size_ > 0) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps at most `limit` bytes from the start of the file (bounded memory for large uploads).
  bool Map(const std::string& path, std::string* error, uint64_t limit = UINT64_MAX) {
    struct stat st;
    const int fd = OpenRegularFile(path, &st, error);
    if (fd < 0) return false;
    size_ = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), limit));
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        *error = "cannot map " + path + ": " + std::strerror(errno);
        ::close(fd);
        size_ = 0;
        return false;
      }
      data_ = p;
    }
    ::close(fd);
    return true;
  }
  const uint8_t* data() const {
    static const uint8_t kEmpty = 0;
    return size_ > 0 ? static_cast<const uint8_t*>(data_) : &kEmpty;
  }
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

bool ReadHead(const std::string& path, std::string* head, std::string* error) {
  struct stat st;
  const int fd = OpenRegularFile(path, &st, error);
  if (fd < 0) return false;
  head->resize(kHeadBytes);
  size_t got = 0;
  while (got < head->size()) {
    const ssize_t n = ::read(fd, head->data() + got, head->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  head->resize(got);
  ::close(fd);
  return true;
}

// ClamAV failures caused by the environment (the file, memory, temp space) are errors of the call;
// the rest (malformed content, limits, timeouts) are a fact about the file, reported in av_error.
bool IsEnvironmentError(cl_error_t rc) {
  switch (rc) {
    case CL_ENULLARG:
    case CL_EARG:
    case CL_EOPEN:
    case CL_ESTAT:
    case CL_EREAD:
    case CL_EWRITE:
    case CL_EACCES:
    case CL_ETMPFILE:
    case CL_ETMPDIR:
    case CL_EMAP:
    case CL_EMEM:
      return true;
    default:
      return false;
  }
}

std::string StripUnofficial(const char* name) {
  std::string s = name;
  constexpr std::string_view kSuffix = ".UNOFFICIAL";
  if (s.size() > kSuffix.size() && std::string_view(s).ends_with(kSuffix)) {
    s.resize(s.size() - kSuffix.size());
  }
  return s;
}

}  // namespace

std::string_view RiskName(Risk risk) {
  switch (risk) {
    case Risk::kLow:
      return "LOW";
    case Risk::kModerate:
      return "MODERATE";
    case Risk::kHigh:
      return "HIGH";
  }
  return "LOW";
}

std::string_view VerdictTypeName(VerdictType type) {
  switch (type) {
    case VerdictType::kMalicious:
      return "MALICIOUS";
    case VerdictType::kSuspicious:
      return "SUSPICIOUS";
    case VerdictType::kBenign:
      return "BENIGN";
    case VerdictType::kUnknown:
      return "UNKNOWN";
  }
  return "UNKNOWN";
}

std::string VirusTypeFromName(std::string_view virus_name) {
  if (virus_name.empty()) return "";
  const std::string name = Lower(virus_name);
  if (name.find("eicar") != std::string::npos || name.find(".test.") != std::string::npos ||
      name.find("-test-") != std::string::npos) {
    return "Virus";
  }
  struct Token {
    std::string_view token;
    std::string_view type;
  };
  static constexpr Token kTokens[] = {
      {"trojan", "Trojan"},       {"downloader", "Trojan"},     {"dropper", "Trojan"},
      {"worm", "Worm"},           {"ransomware", "Ransomware"}, {"adware", "Adware"},
      {"spyware", "Spyware"},     {"keylogger", "Spyware"},     {"backdoor", "Backdoor"},
      {"exploit", "Exploit"},     {"phishing", "Phishing"},     {"pua", "PUA"},
      {"coinminer", "Coinminer"}, {"miner", "Coinminer"},
  };
  // Dot-separated tokens of the name ("Win.Trojan.Agent-12345" -> win, trojan, agent-12345).
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('.', start);
    if (end == std::string::npos) end = name.size();
    const std::string_view tok = std::string_view(name).substr(start, end - start);
    for (const Token& t : kTokens) {
      if (tok == t.token) return std::string(t.type);
    }
    start = end + 1;
  }
  return "Virus";
}

Verdict Classify(const QuickResult& quick, const StaticResult* static_result) {
  const int static_score = static_result != nullptr ? static_result->score : 0;
  Verdict v;
  if (!quick.virus_name.empty()) {
    v.type = VerdictType::kMalicious;
    v.score = static_score >= kWeightHigh ? 100 : 95;
    const std::string vt =
        quick.virus_type.empty() ? VirusTypeFromName(quick.virus_name) : quick.virus_type;
    v.category = vt == "Adware" || vt == "PUA" ? "ADWARE" : "MALWARE_BOTNET";
    v.detected_malware = quick.virus_name;
    v.submission = "Virus";
    return v;
  }
  const bool high_entropy_blob = quick.file_type == "bin" && !quick.identified &&
                                 quick.hashes.size >= kHighEntropyMinSize &&
                                 quick.entropy > kHighEntropyBits;
  v.score = std::max(static_score, high_entropy_blob ? kEntropyIndicatorScore : 0);
  if (v.score >= kSuspiciousThreshold) {
    v.type = VerdictType::kSuspicious;
    v.category = "SUSPICIOUS";
    v.submission = "Suspicious";
  } else if (!quick.identified) {
    v.type = VerdictType::kUnknown;
    v.category = "UNKNOWN";
    v.submission = "Unknown";
  } else {
    v.type = VerdictType::kBenign;
    v.category = "BENIGN";
    v.submission = "Clean";
  }
  return v;
}

// A small pool of libmagic handles (a magic_t must not be used by two threads at once).
class Engine::MagicPool {
 public:
  ~MagicPool() {
    for (magic_t m : idle_) magic_close(m);
  }

  // A handle for exclusive use, returned with Release(). Opens a new one when none is idle.
  Result<magic_t> Acquire() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!idle_.empty()) {
        magic_t m = idle_.back();
        idle_.pop_back();
        return m;
      }
    }
    return Open();
  }

  void Release(magic_t m) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (idle_.size() < kMaxIdleMagic) {
        idle_.push_back(m);
        return;
      }
    }
    magic_close(m);
  }

 private:
  static Result<magic_t> Open() {
    magic_t m = magic_open(kMagicFlags);
    if (m == nullptr) return Status::Internal("magic_open failed");
    if (magic_load(m, nullptr) != 0) {
      Status st = Status::Internal(std::string("magic_load: ") +
                                   (magic_error(m) != nullptr ? magic_error(m) : "failed"));
      magic_close(m);
      return st;
    }
    const size_t bytes_max = kMagicBytesMax;
    magic_setparam(m, MAGIC_PARAM_BYTES_MAX, &bytes_max);
    return m;
  }

  std::mutex mu_;
  std::vector<magic_t> idle_;
};

Engine::Engine() : magic_(std::make_unique<MagicPool>()) {}

Engine::~Engine() {
  for (RuleSet& rs : rule_sets_) yr_rules_destroy(rs.rules);
  if (clam_ != nullptr) cl_engine_free(clam_);
}

Result<std::shared_ptr<Engine>> Engine::Load(const EngineConfig& config) {
  if (Status st = InitLibraries(); !st.ok()) return st;
  std::shared_ptr<Engine> engine(new Engine());
  engine->config_ = config;

  // libmagic: prove the database opens now rather than on the first request.
  {
    Result<magic_t> m = engine->magic_->Acquire();
    if (!m.ok()) return m.status();
    engine->magic_->Release(*m);
  }

  // ClamAV: only our own databases, never the system one.
  std::error_code ec;
  if (!std::filesystem::is_directory(config.signatures_dir, ec)) {
    return Status::Internal("signatures directory " + config.signatures_dir + " does not exist");
  }
  engine->clam_ = cl_engine_new();
  if (engine->clam_ == nullptr) return Status::Internal("cl_engine_new failed");
  if (!config.temp_dir.empty()) {
    const cl_error_t rc =
        cl_engine_set_str(engine->clam_, CL_ENGINE_TMPDIR, config.temp_dir.c_str());
    if (rc != CL_SUCCESS) {
      return Status::Internal(std::string("ClamAV temp dir: ") + cl_strerror(rc));
    }
  }
  // Scan whole uploads up to the largest the API accepts (discan: 400 MiB); ClamAV's defaults
  // (100 MiB per file) would silently skip larger files.
  for (auto field : {CL_ENGINE_MAX_FILESIZE, CL_ENGINE_MAX_SCANSIZE}) {
    if (cl_engine_set_num(engine->clam_, field, static_cast<long long>(config.av_scan_limit)) !=
        CL_SUCCESS)
      return Status::Internal("ClamAV scan limits could not be set");
  }
  unsigned sigs = 0;
  cl_error_t rc = cl_load(config.signatures_dir.c_str(), engine->clam_, &sigs,
                          CL_DB_STDOPT | CL_DB_YARA_EXCLUDE);
  if (rc != CL_SUCCESS) {
    return Status::Internal("loading ClamAV signatures from " + config.signatures_dir + ": " +
                            cl_strerror(rc));
  }
  if (sigs == 0) {
    return Status::Internal("no ClamAV signatures found in " + config.signatures_dir);
  }
  rc = cl_engine_compile(engine->clam_);
  if (rc != CL_SUCCESS) {
    return Status::Internal(std::string("compiling ClamAV signatures: ") + cl_strerror(rc));
  }
  engine->signature_count_ = sigs;

  // YARA: every *.yar / *.yara file, in name order, grouped by the modules it imports.
  if (!std::filesystem::is_directory(config.rules_dir, ec)) {
    return Status::Internal("rules directory " + config.rules_dir + " does not exist");
  }
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(config.rules_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::filesystem::path& p = it->path();
    if ((p.extension() == ".yar" || p.extension() == ".yara") && it->is_regular_file(ec)) {
      files.push_back(p);
    }
  }
  if (ec) return Status::Internal("listing " + config.rules_dir + ": " + ec.message());
  std::sort(files.begin(), files.end());

  // Group index = needs_pe + 2 * needs_elf.
  std::vector<std::string> groups[4];
  for (const std::filesystem::path& p : files) {
    std::string text;
    if (!ReadWholeFile(p.string(), &text)) {
      return Status::Internal("cannot read " + p.string() + ": " + std::strerror(errno));
    }
    bool pe = false;
    bool elf = false;
    for (const std::string& module : LeadingImports(text)) {
      pe |= module == "pe";
      elf |= module == "elf";
    }
    groups[(pe ? 1 : 0) + (elf ? 2 : 0)].push_back(p.string());
  }
  std::set<std::string> names;
  engine->rule_sets_.reserve(4);
  for (int g = 0; g < 4; ++g) {
    if (groups[g].empty()) continue;
    RuleSet rs;
    rs.needs_pe = (g & 1) != 0;
    rs.needs_elf = (g & 2) != 0;
    if (Status st = CompileRules(groups[g], &rs.rules); !st.ok()) return st;
    engine->rule_sets_.push_back(rs);  // owned by the engine from here on
    const YR_RULE* rule;
    yr_rules_foreach(rs.rules, rule) {
      const char* severity = MetaString(rule, "severity");
      Risk risk;
      if (severity == nullptr || !ParseRisk(severity, &risk)) {
        return Status::Internal(std::string("YARA rule ") + rule->identifier +
                                " needs meta severity = \"LOW\", \"MODERATE\" or \"HIGH\"");
      }
      if (!names.insert(rule->identifier).second) {
        return Status::Internal(std::string("YARA rule ") + rule->identifier +
                                " is defined in more than one file of " + config.rules_dir);
      }
      ++engine->rule_count_;
    }
  }
  return engine;
}

Result<QuickResult> Engine::Quick(const std::string& path, const Hashes& hashes,
                                  double entropy) const {
  QuickResult q;
  q.hashes = hashes;
  q.entropy = entropy;

  std::string head;
  std::string error;
  if (!ReadHead(path, &head, &error)) return Status::Internal(error);

  // File type and MIME. libmagic's soft (pattern) tests are costly on text (it compiles their
  // regexes on every call, ~1 ms): for text/* the MIME type already says what the text is, so the
  // description pass skips them ("ASCII text, with CRLF line terminators" is all it adds).
  {
    metrics::ScopedTimer timed(metrics::StageTimer(metrics::Stage::kFileType));
    Result<magic_t> m = magic_->Acquire();
    if (!m.ok()) return m.status();
    magic_setflags(*m, kMagicFlags | MAGIC_MIME_TYPE);
    const char* mime = magic_file(*m, path.c_str());
    if (mime != nullptr) q.mime = mime;
    const char* desc = nullptr;
    if (mime != nullptr) {
      const bool text = q.mime.starts_with("text/");
      magic_setflags(*m, kMagicFlags | (text ? MAGIC_NO_CHECK_SOFT : 0));
      desc = magic_file(*m, path.c_str());
      if (desc != nullptr) q.description = desc;
    }
    if (mime == nullptr || desc == nullptr) {
      const char* err = magic_error(*m);
      Status st =
          Status::Internal("libmagic on " + path + ": " + (err != nullptr ? err : "failed"));
      magic_->Release(*m);
      return st;
    }
    magic_->Release(*m);
  }
  FileTypeInfo ft = DetectFileType(q.mime, q.description, head);
  q.file_type = std::move(ft.type);
  q.category = std::move(ft.category);
  q.identified = ft.identified;

  // ssdeep.
  {
    char buf[FUZZY_MAX_RESULT];
    if (fuzzy_hash_filename(path.c_str(), buf) != 0) {
      return Status::Internal("ssdeep of " + path + " failed");
    }
    q.ssdeep = buf;
  }

  std::string virus;
  metrics::ScopedTimer timed_av(metrics::StageTimer(metrics::Stage::kClamav));
  Status av = config_.av_subprocess.empty() || hashes.size <= config_.av_subprocess_threshold
                  ? ScanAv(path, &virus, &q.av_error)
                  : ScanAvInChild(path, &virus, &q.av_error);
  if (!av.ok()) return av;
  if (!virus.empty()) {
    q.virus_name = StripUnofficial(virus.c_str());
    q.virus_type = VirusTypeFromName(q.virus_name);
  }
  return q;
}

Status Engine::ScanAv(const std::string& path, std::string* virus, std::string* av_error) const {
  // ClamAV: first match wins; every parser on (archives, OLE2, PDF, mail, HTML, PE, ELF, ...).
  struct cl_scan_options options = {};
  options.general = CL_SCAN_GENERAL_HEURISTICS;
  options.parse = ~0u;
  options.heuristic = 0;  // no optional heuristic alerts (macros, encrypted archives, ...)
  const char* virname = nullptr;
  unsigned long scanned = 0;
  // Scan through a pread-backed map with page aging rather than cl_scanfile's whole-file map.
  struct stat fst;
  std::string error;
  const int fd = OpenRegularFile(path, &fst, &error);
  if (fd < 0) return Status::Internal(error);
  cl_error_t rc = CL_CLEAN;
  if (fst.st_size > 0) {
    auto pread_cb = [](void* handle, void* buf, size_t count, off_t offset) -> off_t {
      return ::pread(static_cast<int>(reinterpret_cast<intptr_t>(handle)), buf, count, offset);
    };
    cl_fmap_t* map = cl_fmap_open_handle(reinterpret_cast<void*>(static_cast<intptr_t>(fd)), 0,
                                         static_cast<size_t>(fst.st_size), pread_cb, 1);
    if (map == nullptr) {
      ::close(fd);
      return Status::Internal("ClamAV cannot map " + path);
    }
    rc = cl_scanmap_callback(map, path.c_str(), &virname, &scanned, clam_, &options, nullptr);
    cl_fmap_close(map);
  }
  ::close(fd);
  if (rc == CL_VIRUS) {
    *virus = virname != nullptr ? virname : "Unknown";
  } else if (rc != CL_CLEAN) {
    if (IsEnvironmentError(rc)) {
      return Status::Internal("ClamAV scan of " + path + ": " + cl_strerror(rc));
    }
    *av_error = cl_strerror(rc);
  }
  return Status::Ok();
}

Status Engine::ScanAvInChild(const std::string& path, std::string* virus,
                             std::string* av_error) const {
  // `<av_subprocess> av-scan --signatures-dir DIR FILE` prints one line: "CLEAN", "VIRUS <name>",
  // "AVERROR <text>" or "ERROR <text>". Its memory is its own: a large file's scan cannot grow the
  // server, and a parser crash takes down only the child.
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return Status::Internal("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipefd[1], 1);
  std::vector<std::string> args = {
      config_.av_subprocess, "av-scan", "--signatures-dir", config_.signatures_dir, "--rules-dir",
      config_.rules_dir,     path};
  if (!config_.temp_dir.empty()) {
    args.push_back("--temp-dir");
    args.push_back(config_.temp_dir);
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc =
      posix_spawn(&pid, config_.av_subprocess.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipefd[1]);
  if (rc != 0) {
    ::close(pipefd[0]);
    return Status::Internal(std::string("cannot start the AV scanner: ") + std::strerror(rc));
  }
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 4096) break;
  }
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (out == "CLEAN") return Status::Ok();
  if (out.starts_with("VIRUS ")) {
    *virus = out.substr(6);
    return Status::Ok();
  }
  if (out.starts_with("AVERROR ")) {
    *av_error = out.substr(8);
    return Status::Ok();
  }
  return Status::Internal("the AV scanner failed" + (out.empty() ? std::string() : ": " + out));
}

Result<StaticResult> Engine::Static(const std::string& path) const {
  metrics::ScopedTimer timed(metrics::StageTimer(metrics::Stage::kYara));
  MappedFile file;
  if (std::string error; !file.Map(path, &error, config_.static_scan_limit))
    return Status::Internal(error);
  const bool is_pe = file.size() >= 2 && file.data()[0] == 'M' && file.data()[1] == 'Z';
  const bool is_elf = file.size() >= 4 && std::memcmp(file.data(),
                                                      "\x7f"
                                                      "ELF",
                                                      4) == 0;

  StaticResult result;
  for (const RuleSet& rs : rule_sets_) {
    if ((rs.needs_pe || rs.needs_elf) && !((rs.needs_pe && is_pe) || (rs.needs_elf && is_elf))) {
      continue;
    }
    YR_SCANNER* scanner = nullptr;
    if (yr_scanner_create(rs.rules, &scanner) != ERROR_SUCCESS) {
      return Status::Internal("yr_scanner_create failed");
    }
    yr_scanner_set_callback(scanner, YaraScanCallback, &result.findings);
    yr_scanner_set_flags(scanner, SCAN_FLAGS_REPORT_RULES_MATCHING);
    yr_scanner_set_timeout(scanner, config_.yara_timeout_seconds);
    const int rc = yr_scanner_scan_mem(scanner, file.data(), file.size());
    yr_scanner_destroy(scanner);
    if (rc == ERROR_SCAN_TIMEOUT) {
      return Status(504, "ANALYSIS_TIMEOUT",
                    "YARA scan of " + path + " exceeded " +
                        std::to_string(config_.yara_timeout_seconds) + " s");
    }
    if (rc != ERROR_SUCCESS) {
      return Status::Internal("YARA scan of " + path + " failed with YARA error " +
                              std::to_string(rc));
    }
  }
  std::sort(result.findings.begin(), result.findings.end(), [](const Finding& a, const Finding& b) {
    if (a.risk != b.risk) return a.risk > b.risk;
    return a.rule < b.rule;
  });
  int score = 0;
  for (const Finding& f : result.findings) score += Weight(f.risk);
  result.score = std::min(score, kStaticScoreCap);
  return result;
}

Result<Analysis> Engine::AnalyzeFile(const std::string& path) const {
  Result<FileDigest> digest = DigestFile(path);
  if (!digest.ok()) return digest.status();
  Result<QuickResult> quick = Quick(path, digest->hashes, digest->entropy);
  if (!quick.ok()) return quick.status();
  Result<StaticResult> statics = Static(path);
  if (!statics.ok()) return statics.status();
  Analysis a{std::move(quick).value(), std::move(statics).value(), {}};
  a.verdict = Classify(a.quick, &a.statics);
  return a;
}

Result<std::unique_ptr<EngineHolder>> EngineHolder::Open(const EngineConfig& config) {
  Result<std::shared_ptr<Engine>> engine = Engine::Load(config);
  if (!engine.ok()) return engine.status();
  return std::make_unique<EngineHolder>(config, std::move(engine).value());
}

EngineHolder::EngineHolder(EngineConfig config, std::shared_ptr<const Engine> engine)
    : current_(std::move(engine)), config_(std::move(config)) {}

std::shared_ptr<const Engine> EngineHolder::Get() const {
  return current_.load(std::memory_order_acquire);
}

Status EngineHolder::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  Result<std::shared_ptr<Engine>> engine = Engine::Load(config_);
  if (!engine.ok()) return engine.status();
  // The previous engine lives on in any in-flight scan's shared_ptr; `old` drops this reference.
  std::shared_ptr<const Engine> old =
      current_.exchange(std::move(engine).value(), std::memory_order_acq_rel);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return Status::Ok();
}

Status EngineHolder::Reload(const EngineConfig& config) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  Result<std::shared_ptr<Engine>> engine = Engine::Load(config);
  if (!engine.ok()) return engine.status();
  config_ = config;
  // The previous engine lives on in any in-flight scan's shared_ptr; `old` drops this reference.
  std::shared_ptr<const Engine> old =
      current_.exchange(std::move(engine).value(), std::memory_order_acq_rel);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return Status::Ok();
}

}  // namespace sandgate::analysis
