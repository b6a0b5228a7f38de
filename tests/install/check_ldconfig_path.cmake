# cmake -DIN_PATH=DIR -DNOT_IN_PATH=DIR -P check_ldconfig_path.cmake
# Checks fwt_ldconfig_in_search_path (cmake/FwtLdconfig.cmake) against the real ldconfig: IN_PATH (the
# directory libc.so.6 was loaded from) must be found, NOT_IN_PATH (a temp dir) must not.
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/FwtLdconfig.cmake)
unset(ENV{FWT_LDCONFIG_DIRS})
fwt_ldconfig_in_search_path("${IN_PATH}" yes)
if(NOT yes)
  message(FATAL_ERROR "${IN_PATH} (where libc.so.6 lives) not recognised as in the loader's search path")
endif()
fwt_ldconfig_in_search_path("${NOT_IN_PATH}" no)
if(no)
  message(FATAL_ERROR "${NOT_IN_PATH} wrongly recognised as in the loader's search path")
endif()
message(STATUS "ldconfig search path: ${IN_PATH} in, ${NOT_IN_PATH} out")
