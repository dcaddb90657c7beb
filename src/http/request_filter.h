// Request filter: the checks a request header must pass before anything routes it. They close the
// classic request-smuggling and slow-header holes that a lenient HTTP/1.1 parser leaves open:
// - FindHeaderEnd/CheckRawHeader look at the raw bytes: lines end in CRLF (a bare CR or LF is
//   refused), no obsolete line folding (a header line starting with a space or tab), no NUL or
//   other control characters.
// - CheckFraming looks at the parsed header: at most one Content-Length value, never together
//   with Transfer-Encoding; Transfer-Encoding, when present, is exactly "chunked" (another coding:
//   501; "chunked" twice, an empty list or an HTTP/1.0 request: 400); a GET or HEAD carries no body
//   (a body there can only hide a second request).
// A refused request is answered and its connection closed; no handler sees it.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/status.h"
#include "http/router.h"

namespace sandgate::http {

// Where the header in `data` ends (the size including the blank line), scanning from `from`
// (a previous scan's stopping point: data.size() - 3 at most is safe). 0: not complete yet.
size_t FindHeaderEnd(std::string_view data, size_t from = 0);

// Checks a complete raw header (request line, fields, blank line). 400 BAD_REQUEST when refused.
Status CheckRawHeader(std::string_view header);

// Checks the framing of a parsed request header. 400 BAD_REQUEST or 501 NOT_IMPLEMENTED.
Status CheckFraming(const RequestHeader& h);

}  // namespace sandgate::http
