// The web portal's static files (web/), embedded into the binary at build time so one binary runs
// anywhere; `--web-dir` serves them from disk instead (development). Thread-safe after set-up.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/router.h"

namespace sandgate::web {

struct EmbeddedAsset {
  const char* path;  // relative to web/, e.g. "app.js"
  const char* data;
  size_t size;
};
// Defined in the generated web_assets.cc.
const std::vector<EmbeddedAsset>& EmbeddedAssets();

// Registers GET /static/{file}, the single-page routes (/, /admin/sandbox-api-token,
// /provider, /provider/...) that answer index.html, the API document (/api/v1/openapi.json) and
// its reference page (/docs/api). web_dir empty: the embedded files; otherwise files found there
// win over the embedded ones.
void RegisterPortal(http::Router& router, const std::string& web_dir);

std::string ContentTypeFor(const std::string& path);

}  // namespace sandgate::web
