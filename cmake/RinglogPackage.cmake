# The Debian packages, by CPack's DEB generator from the install rules (scripts/package):
#   ringlog          the program, its systemd unit, /etc/ringlog/ringlog.toml (a conffile), a
#                    logrotate snippet, the sysusers.d entry, the tuning files;
#   libringlog-dev   the headers, the static library, the CMake package;
#   python3-ringlog  `import ringlog`: journals read into numpy arrays (src/python/).
# The paths are the system's only in a build configured with CMAKE_INSTALL_PREFIX=/usr, as
# scripts/build configures; elsewhere they fall under the prefix.
include(GNUInstallDirs)

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  pkg_get_variable(RINGLOG_UNIT_DIR systemd systemdsystemunitdir)
  pkg_get_variable(RINGLOG_SYSUSERS_DIR systemd sysusersdir)
endif()
if(NOT RINGLOG_UNIT_DIR)
  set(RINGLOG_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()
if(NOT RINGLOG_SYSUSERS_DIR)
  set(RINGLOG_SYSUSERS_DIR ${CMAKE_INSTALL_PREFIX}/lib/sysusers.d)
endif()
set(RINGLOG_BIN_DIR ${CMAKE_INSTALL_FULL_BINDIR})
set(RINGLOG_CONF_DIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/ringlog)
set(RINGLOG_DOC_DIR ${CMAKE_INSTALL_FULL_DATAROOTDIR}/doc/ringlog)
set(package_dir ${PROJECT_SOURCE_DIR}/cmake/package)
set(packaged_dir ${PROJECT_BINARY_DIR}/package)

# The configuration a host starts from: tuning/ringlog.toml, every key documented, with the
# directories systemd gives the unit and the group publishers join.
file(READ ${PROJECT_SOURCE_DIR}/tuning/ringlog.toml example_config)
foreach(setting IN ITEMS
        "runtime_dir = \"/dev/shm/ringlog\"|runtime_dir = \"/run/ringlog\""
        "directory = \"ringlog-journal\"|directory = \"/var/lib/ringlog/journal\""
        "group = \"\"|group = \"ringlog\"")
  string(REPLACE "|" ";" pair "${setting}")
  list(GET pair 0 default_value)
  list(GET pair 1 host_value)
  string(FIND "${example_config}" "${default_value}" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "tuning/ringlog.toml no longer holds '${default_value}', which the "
                        "packaged configuration replaces: update cmake/RinglogPackage.cmake")
  endif()
  string(REPLACE "${default_value}" "${host_value}" example_config "${example_config}")
endforeach()
file(WRITE ${packaged_dir}/ringlog.toml "${example_config}")
configure_file(${PROJECT_SOURCE_DIR}/tuning/systemd/ringlog.service.in
               ${packaged_dir}/ringlog.service @ONLY)
configure_file(${package_dir}/changelog ${packaged_dir}/changelog @ONLY)
execute_process(COMMAND gzip -9nf ${packaged_dir}/changelog)  # Debian's changelog.gz
file(WRITE ${packaged_dir}/conffiles
     "${RINGLOG_CONF_DIR}/ringlog.toml\n${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d/ringlog\n")

install(FILES ${packaged_dir}/ringlog.toml DESTINATION ${RINGLOG_CONF_DIR} COMPONENT ringlog)
install(FILES ${packaged_dir}/ringlog.service DESTINATION ${RINGLOG_UNIT_DIR} COMPONENT ringlog)
install(FILES ${PROJECT_SOURCE_DIR}/tuning/systemd/ringlog.logrotate
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d RENAME ringlog
        COMPONENT ringlog)
install(FILES ${PROJECT_SOURCE_DIR}/tuning/systemd/ringlog.sysusers
        DESTINATION ${RINGLOG_SYSUSERS_DIR} RENAME ringlog.conf COMPONENT ringlog)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tuning/ DESTINATION ${CMAKE_INSTALL_DATADIR}/ringlog/tuning
        USE_SOURCE_PERMISSIONS COMPONENT ringlog PATTERN "systemd" EXCLUDE)
install(FILES ${package_dir}/copyright ${packaged_dir}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/ringlog COMPONENT ringlog)
install(FILES ${package_dir}/copyright ${packaged_dir}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libringlog-dev COMPONENT dev)
install(FILES ${package_dir}/copyright ${packaged_dir}/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/python3-ringlog COMPONENT python)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/ringlog
        COMPONENT ringlog)
# The API contract, beside the headers it describes.
install(FILES ${PROJECT_SOURCE_DIR}/include/ringlog/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/libringlog-dev COMPONENT dev)

# ringlog(1), made by help2man from the program's own --help, with the sections it cannot
# know (files, exit status) from cmake/package/ringlog.h2m.
find_program(HELP2MAN help2man REQUIRED)
add_custom_command(
  OUTPUT ${packaged_dir}/ringlog.1.gz
  COMMAND ${HELP2MAN} --no-info --version-string=${PROJECT_VERSION}
          "--name=low-latency event journal service and tools"
          --include=${package_dir}/ringlog.h2m --output=${packaged_dir}/ringlog.1
          $<TARGET_FILE:ringlog_service>
  COMMAND gzip -9nf ${packaged_dir}/ringlog.1
  DEPENDS ringlog_service ${package_dir}/ringlog.h2m
  COMMENT "ringlog(1) from ringlog --help")
add_custom_target(ringlog_manual ALL DEPENDS ${packaged_dir}/ringlog.1.gz)
install(FILES ${packaged_dir}/ringlog.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        COMPONENT ringlog)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ringlog)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "ringlog maintainers <maintainers@ringlog.dev>")
# Each package's summary is the first line of its description below, not the project's.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # executables; a static library keeps its symbols
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL ringlog dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The program's shared libraries, as dpkg-shlibdeps finds them: never a list kept by hand.
set(CPACK_DEBIAN_RINGLOG_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RINGLOG_PACKAGE_NAME ringlog)
set(CPACK_DEBIAN_RINGLOG_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_RINGLOG_DESCRIPTION "low-latency event journal service for trading hosts
Publishing processes attach to ringlog serve and write events into
shared-memory rings; one pinned thread drains them into a journal of
preallocated, checksummed segment files, made durable through io_uring and
optionally shipped into NATS JetStream. With its systemd unit, its
configuration, a logrotate snippet and the host-tuning files.")
# What the maintainer scripts run (debhelper's dh_installsysusers would add the same).
set(CPACK_DEBIAN_RINGLOG_PACKAGE_DEPENDS "systemd | systemd-standalone-sysusers | systemd-sysusers")
set(CPACK_DEBIAN_RINGLOG_PACKAGE_CONTROL_EXTRA
    ${packaged_dir}/conffiles ${package_dir}/postinst ${package_dir}/prerm
    ${package_dir}/postrm)
set(CPACK_DEBIAN_RINGLOG_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libringlog-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_DESCRIPTION
    "low-latency event journal library for trading hosts (development files)
The ringlog headers, the static library and its CMake package:
find_package(ringlog) gives ringlog::ringlog (rings, dispatcher, journal,
the publishers of ringlog serve).")
# A static library's own needs at link time, which dpkg-shlibdeps cannot see: the -dev packages
# of what ringlogConfig.cmake finds (cmake/RinglogDependencies.cmake finds the same).
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "liburing-dev (>= 2.3), libisal-dev, libhwloc-dev (>= 2.9), libnuma-dev, libfmt-dev, pkg-config")
# The Python reader, where it is built (not under a sanitizer).
if(TARGET ringlog_python)
  list(APPEND CPACK_COMPONENTS_ALL python)
  set(CPACK_DEBIAN_PYTHON_PACKAGE_NAME python3-ringlog)
  set(CPACK_DEBIAN_PYTHON_PACKAGE_SECTION python)
  set(CPACK_DEBIAN_PYTHON_PACKAGE_SHLIBDEPS ON)
  # The extension module is built for one python3 (Debian's: 3.11 on bookworm) and uses its numpy;
  # pandas is optional (Journal.to_pandas says when it is missing).
  string(REPLACE "." ";" python_version_parts "${RINGLOG_PYTHON_VERSION}")
  list(GET python_version_parts 1 python_minor)
  math(EXPR python_next_minor "${python_minor} + 1")
  set(CPACK_DEBIAN_PYTHON_PACKAGE_DEPENDS
      "python3 (>= ${RINGLOG_PYTHON_VERSION}), python3 (<< 3.${python_next_minor}), python3-numpy")
  set(CPACK_DEBIAN_PYTHON_PACKAGE_SUGGESTS "python3-pandas")
  set(CPACK_DEBIAN_PYTHON_DESCRIPTION "Python reader of ringlog journals, into numpy arrays
import ringlog: a journal directory read by ringlog's own C++ reader into one
numpy structured array per event type, its payloads decoded by the journal's
schema; time windows, pandas DataFrames, and named readers that follow a
journal and resume where they committed.")
endif()
include(CPack)
