# Every dependency comes from a Debian -dev package (scripts/deps installs them) and is found the
# CMake way, as an imported target. ringlogConfig.cmake.in repeats the library's own.
include(GNUInstallDirs)
find_package(PkgConfig REQUIRED)
pkg_check_modules(liburing REQUIRED IMPORTED_TARGET liburing>=2.3)
pkg_check_modules(isal REQUIRED IMPORTED_TARGET libisal)
find_package(fmt REQUIRED)
find_package(Threads REQUIRED)

# Placement (core pinning, NUMA binding) builds on these; found here so that a host missing
# them fails at configure time rather than in a later step.
pkg_check_modules(hwloc REQUIRED IMPORTED_TARGET hwloc>=2.9)
find_path(NUMA_INCLUDE_DIR numa.h REQUIRED)
find_library(NUMA_LIBRARY numa REQUIRED)

# The programs: their command lines (also the latency benchmark's), the service's TOML
# configuration, JSON for status and reports, and the NATS C client for shipping journals into
# JetStream.
if(RINGLOG_BUILD_PROGRAMS OR RINGLOG_BUILD_BENCH)
  find_package(CLI11 REQUIRED)
endif()
if(RINGLOG_BUILD_PROGRAMS)
  find_package(tomlplusplus REQUIRED)
  find_package(nlohmann_json 3.11 REQUIRED)
  pkg_check_modules(libnats REQUIRED IMPORTED_TARGET libnats>=3.3)
  pkg_check_modules(liblz4 REQUIRED IMPORTED_TARGET liblz4)    # compressed blocks
  pkg_check_modules(libzstd REQUIRED IMPORTED_TARGET libzstd)
  pkg_check_modules(libsystemd REQUIRED IMPORTED_TARGET libsystemd)  # sd_notify under systemd
  # The /metrics endpoint's HTTP server. Debian's civetweb CMake package names the civetweb
  # program, which the -dev package does not bring, so the library is found directly.
  find_path(CIVETWEB_INCLUDE_DIR civetweb.h REQUIRED)
  find_library(CIVETWEB_LIBRARY civetweb REQUIRED)
  add_library(civetweb::civetweb UNKNOWN IMPORTED)
  set_target_properties(civetweb::civetweb PROPERTIES IMPORTED_LOCATION ${CIVETWEB_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${CIVETWEB_INCLUDE_DIR})
endif()
