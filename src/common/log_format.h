// Log formats: `text` (the default: "TIME LEVEL LOGGER MESSAGE") or `json` (one object per line:
// time, level, logger, message, and for request lines the request's fields).
// Request lines ("access" logger) in JSON carry: requestId, method, route (the route template),
// path (tokens redacted, never the query string), status, durationMs, client and orgId when known.
#pragma once

#include <spdlog/formatter.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sandgate {

enum class LogFormat { kText, kJson };

bool ParseLogFormat(std::string_view s, LogFormat* out);
// The format `serve` logs in; set once at start.
LogFormat CurrentLogFormat();
void SetLogFormat(LogFormat f);

// Appends `s` as a JSON string (quoted; control characters, quotes, backslashes and invalid UTF-8
// escaped, so a client-chosen value can never break the line or forge a field).
void AppendJsonString(std::string& out, std::string_view s);

// One request line's fields.
struct AccessFields {
  std::string_view request_id, method, route, path, client;
  int status = 0;
  double ms = 0;
  int64_t org_id = 0;  // 0: unknown
};
// The access-logger message for the JSON format: the fields as a JSON object, which the JSON
// formatter merges into its line.
std::string AccessJson(const AccessFields& f);

// The text format's spdlog formatter: "2026-12-05T10:28:33.684Z info MESSAGE" (UTC), the same
// bytes as spdlog's pattern "%Y-%m-%dT%H:%M:%S.%eZ %l %v" with UTC time, at a fraction of its cost
// (request lines are formatted on the I/O threads). Not thread-safe: a sink formats one line at a
// time under its own lock, and spdlog clones a formatter per sink.
std::unique_ptr<spdlog::formatter> MakeTextFormatter();
// A spdlog formatter writing one JSON object per line (UTC time with milliseconds).
std::unique_ptr<spdlog::formatter> MakeJsonFormatter();

}  // namespace sandgate
