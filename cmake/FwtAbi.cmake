# ABI checks of libfwtrain.so (docs/api-stability.md, "Checks that enforce this"):
#   abi_symbols  the exported symbols and their version nodes equal abi/symbols.txt, and every FWT_API
#                function of the public headers is exported
#   abi_abidiff  libabigail's abidiff finds no difference between the library and abi/libfwtrain.abi
#   abi_debian_symbols  debian/libfwtrain0.symbols is abi/symbols.txt in Debian's format
# The baseline is made from a gcc build with debug information and no sanitizer, so abi_abidiff runs only in
# such a build (the gcc lane); abi_symbols runs everywhere.
if(NOT FWT_BUILD_TESTS OR NOT TARGET fwtrain)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter QUIET)
# GNU nm (binutils) whatever the compiler: llvm-nm 14 has no --with-symbol-versions.
find_program(FWT_GNU_NM NAMES nm)
if(Python3_Interpreter_FOUND AND FWT_GNU_NM)
  add_test(NAME abi_symbols
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/abi/check_symbols.py ${FWT_GNU_NM}
                   $<TARGET_FILE:fwtrain> ${PROJECT_SOURCE_DIR}/abi/symbols.txt ${PROJECT_SOURCE_DIR}/include)
  set_tests_properties(abi_symbols PROPERTIES LABELS "unit;abi" TIMEOUT 60)
endif()
if(Python3_Interpreter_FOUND AND EXISTS ${PROJECT_SOURCE_DIR}/debian/libfwtrain0.symbols)
  # The Debian symbols file lists exactly abi/symbols.txt (abi/update.sh regenerates both).
  add_test(NAME abi_debian_symbols
           COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/abi/debian_symbols.py check ${PROJECT_SOURCE_DIR})
  set_tests_properties(abi_debian_symbols PROPERTIES LABELS "unit;abi" TIMEOUT 60)
endif()

find_program(FWT_ABIDIFF abidiff)
set(_fwt_abi_build_ok OFF)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU" AND NOT FWT_SANITIZE AND NOT FWT_TSAN
   AND CMAKE_BUILD_TYPE MATCHES "^(RelWithDebInfo|Debug)$")
  set(_fwt_abi_build_ok ON)
endif()
if(FWT_ABIDIFF AND _fwt_abi_build_ok)
  add_test(NAME abi_abidiff
           COMMAND ${FWT_ABIDIFF} --no-show-locs --fail-no-debug-info
                   ${PROJECT_SOURCE_DIR}/abi/libfwtrain.abi $<TARGET_FILE:fwtrain>)
  set_tests_properties(abi_abidiff PROPERTIES LABELS "unit;abi" TIMEOUT 120)
endif()
