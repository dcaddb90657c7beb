// LogText: client-chosen text (request path, method, username, header values) made safe for a
// log line. Every byte outside printable ASCII (control characters such as CR, LF and ESC, DEL,
// and every byte >= 0x80, so no UTF-8 bidirectional control or C1 control reaches a terminal) and
// the backslash itself are written as \xHH, so one request is always one line and a reader can
// tell escaped text from the original. Apply it where the text enters a log call.
#pragma once

#include <string>
#include <string_view>

namespace sandgate {

std::string LogText(std::string_view text);
// The same, appended to `out`.
void AppendLogText(std::string& out, std::string_view text);

}  // namespace sandgate
