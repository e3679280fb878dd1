# Install rules: headers, the libraries, otterConfig.cmake (+ version) and otter.pc.
#   cmake --install build --prefix /opt/otter
#   # in a user's CMakeLists.txt:
#   find_package(otter CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE otter::otter)   # or otter::core, otter::net, ...
include(CMakePackageConfigHelpers)

set(otter_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/otter)
install(TARGETS otter_core otter_net otter_registry otter_supervisor otter_metrics otter_all
        EXPORT otterTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# Every layer's headers land in one include/otter/ folder (see docs/ARCHITECTURE.md, "Headers").
foreach(layer core net registry supervisor metrics)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT otterTargets NAMESPACE otter:: DESTINATION ${otter_cmake_dir})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/otterConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/otterConfig.cmake
                              INSTALL_DESTINATION ${otter_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/otterConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/otterConfig.cmake ${PROJECT_BINARY_DIR}/otterConfigVersion.cmake
        DESTINATION ${otter_cmake_dir})

# otter.pc finds its prefix from where it lies, so `cmake --install --prefix P` needs no rewrite.
file(RELATIVE_PATH otter_pc_to_prefix ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" otter_pc_to_prefix "${otter_pc_to_prefix}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/otter.pc.in ${PROJECT_BINARY_DIR}/otter.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/otter.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The tools, when built.
if(TARGET otter-node AND TARGET otterctl)
  install(TARGETS otter-node otterctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
