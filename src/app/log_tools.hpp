// The ringlog program's tools for log files: dump (text or JSON lines) and verify.
#pragma once

#include <cstdio>
#include <filesystem>

namespace ringlog::app {

// Prints every intact event, one per line; a damaged tail is reported on stderr. Exit status:
// 0 when the file is intact, 1 when it is damaged, 2 when it is not a readable ringlog log.
int dump_log(const std::filesystem::path&, bool json, std::FILE* out);

// Checks every record; prints what it found and, for a damaged file, where a writer reopening it
// would truncate and how many bytes that drops. Exit status as for dump_log.
int verify_log(const std::filesystem::path&, std::FILE* out);

}  // namespace ringlog::app
