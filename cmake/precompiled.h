// The precompiled header of every C++ target (CMakeLists.txt, target_precompile_headers): the
// third-party and standard headers that a third of the translation units include, directly or
// through http/ and api/. Parsing Asio, Beast and Boost.JSON once per build instead of once per
// file is what keeps CI's five builds (Release, package, ASan, TSan, fuzz) inside its time.
//
// Contract: only headers from outside src/ belong here, so the layer rules
// (scripts/check-layers.py) still see every include a file of ours makes; each file keeps its own
// includes and must compile without this header (SANDGATE_PCH=OFF).
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>
