# `cmake --install` puts the headers under include/mrbm, the static libraries under lib, and a
# package config so that another project can `find_package(mrbm)` and link mrbm::kernel_headers.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
foreach(_dir kernels core)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${_dir}/ DESTINATION include/mrbm/${_dir}
          FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh")
endforeach()
set_target_properties(mrbm_kernel_headers PROPERTIES EXPORT_NAME kernel_headers)
set_target_properties(mrbm_kernels PROPERTIES EXPORT_NAME kernels)
install(TARGETS mrbm_kernel_headers mrbm_kernels EXPORT mrbmTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS mrbm RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT mrbmTargets NAMESPACE mrbm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mrbm)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/mrbmConfig.cmake.in
  "@PACKAGE_INIT@\ninclude(CMakeFindDependencyMacro)\nif(${MRBM_HAVE_CUDA})\n  find_dependency(CUDAToolkit)\nendif()\ninclude(\"\${CMAKE_CURRENT_LIST_DIR}/mrbmTargets.cmake\")\n")
configure_package_config_file(${CMAKE_CURRENT_BINARY_DIR}/mrbmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/mrbmConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mrbm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/mrbmConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/mrbmConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/mrbmConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mrbm)
