# Install rules: headers, shared + static libraries, the fwtrain CLI, fwtrain-local,
# a relocatable pkg-config file and a CMake package (find_package(fwtrain) -> fwtrain::fwtrain).
include(CMakePackageConfigHelpers)

set(FWT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/fwtrain)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/fwtrain DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(TARGETS fwtrain fwtrain_static EXPORT fwtrainTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(prog fwtrain-cli fwtrain-local)
  if(TARGET ${prog})
    install(TARGETS ${prog} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

install(EXPORT fwtrainTargets NAMESPACE fwtrain:: DESTINATION ${FWT_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/fwtrainConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/fwtrainConfig.cmake INSTALL_DESTINATION ${FWT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/fwtrainConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/fwtrainConfig.cmake ${PROJECT_BINARY_DIR}/fwtrainConfigVersion.cmake
        DESTINATION ${FWT_CMAKE_DIR})

# pkg-config: prefix is computed from the .pc file's own location so the tree can be
# installed anywhere (cmake --install --prefix DIR) and moved afterwards.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(FWT_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
else()
  file(RELATIVE_PATH FWT_PC_UP "/fwt_root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/fwt_root")
  string(REGEX REPLACE "/$" "" FWT_PC_UP "${FWT_PC_UP}")
  set(FWT_PC_PREFIX "\${pcfiledir}/${FWT_PC_UP}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/fwtrain.pc.in ${PROJECT_BINARY_DIR}/fwtrain.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/fwtrain.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Last rule: make the installed library loadable (ldconfig as root into a system prefix, else say what to do).
# The prefix is read at install time: `cmake --install --prefix DIR` overrides the configured one.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(FWT_LDCONFIG_LIBDIR_CODE "${CMAKE_INSTALL_LIBDIR}")
else()
  set(FWT_LDCONFIG_LIBDIR_CODE "\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}")
endif()
install(CODE "include(\"${PROJECT_SOURCE_DIR}/cmake/FwtLdconfig.cmake\")
fwt_ldconfig_after_install(\"${FWT_LDCONFIG_LIBDIR_CODE}\")")
