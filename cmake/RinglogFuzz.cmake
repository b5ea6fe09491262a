# libFuzzer builds: everything instrumented for coverage and checked by ASan and UBSan.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "RINGLOG_BUILD_FUZZ needs clang (libFuzzer): configure with "
                      "CMAKE_CXX_COMPILER=clang++-16")
endif()
set(RINGLOG_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(RINGLOG_BUILD_BENCH OFF CACHE BOOL "" FORCE)
set(RINGLOG_BUILD_PROGRAMS OFF CACHE BOOL "" FORCE)
# libstdc++ 12 offers std::expected only where __cpp_concepts says 202002, which clang reports
# from version 19 on; clang 16 already implements what <expected> needs (P0848), so say so.
add_compile_options(-D__cpp_concepts=202002L -Wno-macro-redefined
                    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -g)
add_link_options(-fsanitize=address,undefined)
add_compile_definitions(RINGLOG_ASSERTIONS)  # include/ringlog/detail/assert.hpp
