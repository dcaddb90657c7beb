// Archive members for YARA: libclamav unpacks archives (zip, gzip, bzip2, xz, tar, 7z, rar, cab,
// OLE2, mail, PDF streams, ...) within the engine's extraction limits, and calls its
// file-inspection callback (cl_engine_set_clcb_file_inspection) for every layer it extracts; here
// every layer below the top one is handed to a visitor with its path inside the upload.
// Thread-safe: the callback's state travels in the per-scan context; the engine is only read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"

struct cl_engine;

namespace sandgate::analysis {

// Installs the callback on a new engine (before cl_engine_compile; not thread-safe). Scans that
// pass no visitor (every ordinary AV scan) return from it at once.
void InstallMemberInspection(cl_engine* engine);

// Called for each member: its path ("inner.zip/evil.ps1": the names libclamav recorded, "?" for
// an unnamed layer), its bytes (the whole member as extracted), its size.
using MemberVisitor =
    std::function<void(const std::string& member, const uint8_t* data, size_t size)>;

// Scans the file at `path` with `engine` (all parsers on, all matches: a virus does not stop
// the walk) and calls `visit` for every extracted member. *members counts them.
// Errors: 500 INTERNAL when the file cannot be opened or mapped; a malformed archive just ends
// the walk.
Status VisitMembers(const cl_engine* engine, const std::string& path, const MemberVisitor& visit,
                    size_t* members);

// Whether the buffer starts like a container libclamav unpacks (zip, gzip, bzip2, xz, 7z, rar,
// cab, tar, OLE2); only these are walked (an ordinary file has no members).
bool LooksLikeArchive(const uint8_t* data, size_t size);

}  // namespace sandgate::analysis
