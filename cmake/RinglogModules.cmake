# Modules as CMake targets (src/README.md maps them).
#
# The library's modules (ring, dispatch, journal, placement, the publisher's side of service) are
# object libraries, each with its own dependencies, merged into libringlog. Inside the library a
# module names another's internal headers from src/ ("journal/file/log_format.hpp").
#
# Everything built on the library (ship, the server, the programs) sees only the public API and
# the modules it links: ringlog_expose_headers() gives a target's dependents an include root that
# holds one folder of src/, so "ship/shipper.hpp" resolves for a target that links ringlog_ship
# and "journal/file/log_format.hpp" resolves for none of them.

# A library module: `name` built from SOURCES with DEPENDS for its own compilation.
function(ringlog_library_module name)
  cmake_parse_arguments(PARSE_ARGV 1 module "" "" "SOURCES;DEPENDS")
  add_library(${name} OBJECT ${module_SOURCES})
  target_compile_features(${name} PUBLIC cxx_std_23)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/include
                                             ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE fmt::fmt ${module_DEPENDS})
  ringlog_warnings(${name})
endfunction()

# Lets the dependents of `target` include the headers of src/`folder` as "`folder`/x.hpp", and no
# other part of src/: their include root holds a single link, to that folder.
function(ringlog_expose_headers target folder)
  set(root ${PROJECT_BINARY_DIR}/module_headers/${folder})
  set(link ${root}/${folder})
  get_filename_component(link_parent ${link} DIRECTORY)
  file(MAKE_DIRECTORY ${link_parent})
  if(NOT IS_SYMLINK ${link})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/src/${folder} ${link} SYMBOLIC)
  endif()
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "INTERFACE_LIBRARY")
    target_include_directories(${target} INTERFACE $<BUILD_INTERFACE:${root}>)
  else()
    target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${root}>)
  endif()
endfunction()
