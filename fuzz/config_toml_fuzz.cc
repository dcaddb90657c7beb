// libFuzzer target: the TOML config file reader (src/app/instance.cc, LoadConfigFile). The file is
// operator-supplied, but a malformed file must give a CONFIG_INVALID message, never a crash or an
// uncaught exception. Input: the file's bytes.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "app/instance.h"

using namespace sandgate;

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

const std::string& ConfigPath() {
  static const std::string* p = [] {
    char tmpl[] = "/tmp/sandgate-config-fuzz-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) std::abort();
    close(fd);
    // libFuzzer ends a run with exit(): the file goes with it, not left behind in /tmp.
    std::atexit([] { unlink(ConfigPath().c_str()); });
    return new std::string(tmpl);
  }();
  return *p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = ConfigPath();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  app::Config cfg;
  Status st;
  try {
    st = app::LoadConfigFile(path, &cfg);
  } catch (...) {
    std::abort();  // an exception escaping LoadConfigFile would end `sandgate serve` unexplained
  }
  if (!st.ok()) {
    Check(st.code() == "CONFIG_INVALID");
  } else {
    Check(cfg.threads >= 0 && cfg.threads <= 256);
    Check(cfg.analysis_workers >= 0 && cfg.analysis_queue >= 0);
  }
  return 0;
}
