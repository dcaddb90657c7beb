// What the services*.cc files share; not part of the service's interface.
#pragma once

#include <string>

#include "common/status.h"

namespace sandgate::service::internal {

// 404 NOT_FOUND: the answer for what does not exist or is not the caller's to see.
Status NotFound();

// Valid UTF-8 without C0/C1 controls, DEL or the invisible formatting characters that reorder or
// hide text (organization names, leak report text).
bool ValidNameText(const std::string& s);

}  // namespace sandgate::service::internal
