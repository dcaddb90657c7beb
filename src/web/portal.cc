#include <fstream>
#include <sstream>

#include "http/server.h"
#include "web/assets.h"

namespace sandgate::web {

namespace bhttp = http::bhttp;

std::string ContentTypeFor(const std::string& path) {
  auto ends = [&](const char* ext) { return path.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".jpg")) return "image/jpeg";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

namespace {

struct Files {
  std::string dir;  // empty: embedded
  std::map<std::string, std::string> embedded;

  bool Get(const std::string& name, std::string* out) const {
    if (name.empty() || name.find("..") != std::string::npos || name.front() == '/') return false;
    if (!dir.empty()) {
      std::ifstream f(dir + "/" + name, std::ios::binary);
      if (f) {
        std::ostringstream ss;
        ss << f.rdbuf();
        *out = ss.str();
        return true;
      }
      // Not in the directory: the files generated at build time (the API document, Swagger UI)
      // are only embedded.
    }
    auto it = embedded.find(name);
    if (it == embedded.end()) return false;
    *out = it->second;
    return true;
  }
};

http::Response Serve(const Files& files, const std::string& name, unsigned version) {
  std::string body;
  if (!files.Get(name, &body))
    return http::JsonError(version, 404, "NOT_FOUND", "No such resource.");
  http::Response res{bhttp::status::ok, version};
  res.set(bhttp::field::content_type, ContentTypeFor(name));
  // Assets are small and versioned with the binary; revalidate rather than cache for long.
  res.set(bhttp::field::cache_control, "no-cache");
  res.body() = std::move(body);
  return res;
}

}  // namespace

void RegisterPortal(http::Router& router, const std::string& web_dir) {
  auto files = std::make_shared<Files>();
  files->dir = web_dir;
  for (const auto& a : EmbeddedAssets()) files->embedded[a.path] = std::string(a.data, a.size);
  router.Add(bhttp::verb::get, "/static/{file}",
             [files](const http::Request& req, http::RequestContext& ctx) {
               return Serve(*files, *ctx.param("file"), req.version());
             });
  auto index = [files](const http::Request& req, http::RequestContext&) {
    return Serve(*files, "index.html", req.version());
  };
  for (const char* p :
       {"/", "/admin/sandbox-api-token", "/provider", "/provider/audit", "/provider/orgs",
        "/provider/orgs/{id}", "/provider/settings", "/provider/webhooks"})
    router.Add(bhttp::verb::get, p, index);
  // The API contract (docs/openapi.yaml as JSON) and its reference page (Swagger UI).
  router.Add(bhttp::verb::get, "/api/v1/openapi.json",
             [files](const http::Request& req, http::RequestContext&) {
               return Serve(*files, "openapi.json", req.version());
             });
  router.Add(bhttp::verb::get, "/docs/api",
             [files](const http::Request& req, http::RequestContext&) {
               return Serve(*files, "api-docs.html", req.version());
             });
}

}  // namespace sandgate::web
