# `cmake --install` gives find_package(ringlog) and the target ringlog::ringlog: the component
# "dev" (the package libringlog-dev; the program and its system files are "ringlog").
include(CMakePackageConfigHelpers)

set(ringlog_config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ringlog)
install(TARGETS ringlog EXPORT ringlogTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
install(DIRECTORY include/ringlog DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(EXPORT ringlogTargets NAMESPACE ringlog:: DESTINATION ${ringlog_config_dir}
        COMPONENT dev)
configure_package_config_file(cmake/ringlogConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ringlogConfig.cmake INSTALL_DESTINATION ${ringlog_config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringlogConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ringlogConfig.cmake
  ${PROJECT_BINARY_DIR}/ringlogConfigVersion.cmake DESTINATION ${ringlog_config_dir}
  COMPONENT dev)
