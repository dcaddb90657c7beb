#include "metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

namespace sandgate::metrics {

namespace {

// Fields of /proc/self/stat after the command name (which may contain spaces): index 0 is
// field 3 (state).
std::vector<std::string> StatFields() {
  std::ifstream f("/proc/self/stat");
  std::string line;
  std::getline(f, line);
  std::vector<std::string> out;
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream in(line.substr(close + 1));
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

double StatField(size_t field) {  // 1-based, as in proc(5)
  auto f = StatFields();
  if (field < 3 || field - 3 >= f.size()) return 0;
  return std::strtod(f[field - 3].c_str(), nullptr);
}

double BootTime() {
  std::ifstream f("/proc/stat");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("btime ", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  return 0;
}

double OpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  double n = 0;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

std::vector<size_t> RegisterProcessMetrics(Registry& r, const std::string& version,
                                           const std::string& store_backend) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double start = BootTime() + StatField(22) / ticks;
  std::vector<size_t> ids;
  ids.push_back(r.AddSampled("process_resident_memory_bytes", "Resident memory size in bytes.",
                             false, {}, [page] { return StatField(24) * page; }));
  ids.push_back(r.AddSampled("process_virtual_memory_bytes", "Virtual memory size in bytes.", false,
                             {}, [] { return StatField(23); }));
  ids.push_back(r.AddSampled("process_open_fds", "Open file descriptors.", false, {},
                             [] { return OpenFds(); }));
  ids.push_back(r.AddSampled("process_max_fds", "The open file descriptor limit.", false, {}, [] {
    rlimit rl{};
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur == RLIM_INFINITY ? 0.0 : static_cast<double>(rl.rlim_cur);
  }));
  ids.push_back(r.AddSampled("process_threads", "OS threads of the process.", false, {},
                             [] { return StatField(20); }));
  ids.push_back(r.AddSampled("process_cpu_seconds_total", "User and system CPU time in seconds.",
                             true, {},
                             [ticks] { return (StatField(14) + StatField(15)) / ticks; }));
  ids.push_back(r.AddSampled("process_start_time_seconds",
                             "Start time of the process since the Unix epoch in seconds.", false,
                             {}, [start] { return start; }));
  ids.push_back(r.AddSampled("sandgate_build_info",
                             "Always 1; the labels tell the version and the store backend.", false,
                             {{"version", version}, {"store", store_backend}}, [] { return 1.0; }));
  return ids;
}

}  // namespace sandgate::metrics
