// Log files (MmapWriter, MmapReader, the file format) moved to <ringlog/log_file.hpp>, the name
// of what the header holds; this name stays for the code written against it (../shared/API.md).
#pragma once

#include <ringlog/log_file.hpp>
