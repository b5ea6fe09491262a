# Every dependency comes from a Debian -dev package (scripts/deps installs them) and is found the
# CMake way, as an imported target. ringlogConfig.cmake.in repeats the library's own.
include(GNUInstallDirs)
find_package(PkgConfig REQUIRED)
pkg_check_modules(liburing REQUIRED IMPORTED_TARGET liburing>=2.3)
find_package(fmt REQUIRED)
