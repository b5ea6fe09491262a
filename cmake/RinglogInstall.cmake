# `cmake --install` gives find_package(ringlog) and the target ringlog::ringlog.
include(CMakePackageConfigHelpers)

set(ringlog_config_dir ${CMAKE_INSTALL_LIBDIR}/cmake/ringlog)
install(TARGETS ringlog EXPORT ringlogTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/ringlog DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT ringlogTargets NAMESPACE ringlog:: DESTINATION ${ringlog_config_dir})
configure_package_config_file(cmake/ringlogConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ringlogConfig.cmake INSTALL_DESTINATION ${ringlog_config_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ringlogConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ringlogConfig.cmake
  ${PROJECT_BINARY_DIR}/ringlogConfigVersion.cmake DESTINATION ${ringlog_config_dir})
