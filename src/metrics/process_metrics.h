// Process and build metrics, sampled at each scrape from /proc/self: resident memory, open file
// descriptors (and the limit), threads, CPU time, start time; and sandgate_build_info.
#pragma once

#include <string>
#include <vector>

#include "metrics/registry.h"

namespace sandgate::metrics {

// Registers them in `r`; returns the sampled series' ids (for RemoveSampled).
std::vector<size_t> RegisterProcessMetrics(Registry& r, const std::string& version,
                                           const std::string& store_backend);

}  // namespace sandgate::metrics
