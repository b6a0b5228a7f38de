# The API reference (Doxygen: HTML + man3 from include/fwtrain/**/*.h), the hand-written man1 pages
# (docs/man/), their install rules, and the documentation tests (tests/docs).
#
#   cmake --build build --target docs    -> build/docs/html/index.html, build/docs/man/man3/*.3fwt
#   cmake --install build                -> man1 always; man3 and HTML when the reference was built
#
# FWT_BUILD_DOCS (default: ON when doxygen is found) adds the reference to the default build.
find_package(Doxygen QUIET)
set(_fwt_docs_default OFF)
if(DOXYGEN_EXECUTABLE)
  set(_fwt_docs_default ON)
endif()
option(FWT_BUILD_DOCS "Build the Doxygen API reference (HTML + man3) with the default target" ${_fwt_docs_default})
option(FWT_DOCS_REQUIRE_PARAMDOC "The docs test also requires \\param / \\return on every function" OFF)

set(FWT_DOCS_DIR ${PROJECT_BINARY_DIR}/docs)
file(GLOB_RECURSE FWT_PUBLIC_HEADERS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/include/fwtrain/*.h)

# One Doxyfile per use, from one template: the reference (warnings logged) and the test (warnings fatal).
function(fwt_configure_doxyfile out output_dir html man warn_as_error warn_log)
  set(FWT_DOXY_OUTPUT ${output_dir})
  set(FWT_DOXY_HTML ${html})
  set(FWT_DOXY_MAN ${man})
  set(FWT_DOXY_WARN_AS_ERROR ${warn_as_error})
  set(FWT_DOXY_WARN_LOG ${warn_log})
  if(FWT_DOCS_REQUIRE_PARAMDOC)
    set(FWT_DOXY_PARAMDOC YES)
  else()
    set(FWT_DOXY_PARAMDOC NO)
  endif()
  configure_file(${PROJECT_SOURCE_DIR}/docs/Doxyfile.in ${out} @ONLY)
endfunction()

if(DOXYGEN_EXECUTABLE)
  fwt_configure_doxyfile(${FWT_DOCS_DIR}/Doxyfile ${FWT_DOCS_DIR} YES YES NO ${FWT_DOCS_DIR}/doxygen-warnings.log)
  set(_fwt_docs_all)
  if(FWT_BUILD_DOCS)
    set(_fwt_docs_all ALL)
  endif()
  add_custom_command(OUTPUT ${FWT_DOCS_DIR}/html/index.html
                     COMMAND ${CMAKE_COMMAND} -E remove_directory ${FWT_DOCS_DIR}/man
                     COMMAND ${DOXYGEN_EXECUTABLE} ${FWT_DOCS_DIR}/Doxyfile
                     DEPENDS ${FWT_PUBLIC_HEADERS} ${FWT_DOCS_DIR}/Doxyfile
                     WORKING_DIRECTORY ${FWT_DOCS_DIR}
                     COMMENT "API reference (Doxygen): ${FWT_DOCS_DIR}/html, ${FWT_DOCS_DIR}/man/man3"
                     VERBATIM)
  add_custom_target(docs ${_fwt_docs_all} DEPENDS ${FWT_DOCS_DIR}/html/index.html)
endif()

# man1: hand-written, always installed. man3 and HTML: only what `docs` produced.
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/fwtrain.1 ${PROJECT_SOURCE_DIR}/docs/man/fwtrain-local.1
        DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
# Only the library's names: struct members also get link pages (code.3fwt, description.3fwt) that would
# shadow unrelated `man` lookups.
install(DIRECTORY ${FWT_DOCS_DIR}/man/man3 DESTINATION ${CMAKE_INSTALL_MANDIR} OPTIONAL
        FILES_MATCHING PATTERN "fwt*.3fwt" PATTERN "FWT*.3fwt" PATTERN "*.h.3fwt")
install(DIRECTORY ${FWT_DOCS_DIR}/html/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/html OPTIONAL)

if(FWT_BUILD_TESTS AND EXISTS ${PROJECT_SOURCE_DIR}/tests/docs/CMakeLists.txt)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/docs ${PROJECT_BINARY_DIR}/tests/docs)
endif()
