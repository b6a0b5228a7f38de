# Runs at the end of `cmake --install` (included by an install(CODE) rule of FwtInstall.cmake) so that
# programs find libfwtrain.so without further steps, or says exactly what to do when it cannot:
#   - DESTDIR set (staging, packaging): nothing is run; the package's own trigger runs ldconfig.
#   - the library directory is in the dynamic linker's search path (/usr/local/lib, /usr/lib/<triplet>, ...)
#     and we are root: run ldconfig (the loader only finds libraries there through its cache).
#   - in the search path, not root: print the command to run as root.
#   - anywhere else (a private prefix): print how to make the loader find it.
# Input: FWT_LDCONFIG_LIBDIR, the absolute installed library directory (without DESTDIR).
# Test hooks (environment; tests/install uses them, nothing else should): FWT_LDCONFIG = the program to
# run instead of ldconfig; FWT_LDCONFIG_DIRS = colon-separated search path instead of asking ldconfig;
# FWT_LDCONFIG_EUID = the effective uid instead of `id -u`.

# Sets <out> to TRUE if <libdir> is one of the directories the loader's cache covers, as ldconfig itself
# lists them ("/usr/local/lib: (from /etc/ld.so.conf.d/libc.conf:2)"), comparing real paths: with merged
# /usr, ldconfig lists /lib/x86_64-linux-gnu for /usr/lib/x86_64-linux-gnu.
function(fwt_ldconfig_in_search_path libdir out)
  set(search "")
  if(DEFINED ENV{FWT_LDCONFIG_DIRS})
    string(REPLACE ":" ";" search "$ENV{FWT_LDCONFIG_DIRS}")
  else()
    find_program(real_ldconfig NAMES ldconfig PATHS /sbin /usr/sbin NO_CACHE)
    if(real_ldconfig)
      execute_process(COMMAND "${real_ldconfig}" -v -N -X OUTPUT_VARIABLE listing ERROR_QUIET)
      string(REGEX MATCHALL "(^|\n)/[^:\n]*:" lines "${listing}")
      foreach(l IN LISTS lines)
        string(REGEX REPLACE "^\n?(/[^:]*):$" "\\1" d "${l}")
        list(APPEND search "${d}")
      endforeach()
    endif()
  endif()
  set(found FALSE)
  if(EXISTS "${libdir}")
    file(REAL_PATH "${libdir}" real_libdir)
    foreach(d IN LISTS search)
      if(EXISTS "${d}")
        file(REAL_PATH "${d}" real_d)
        if(real_d STREQUAL real_libdir)
          set(found TRUE)
        endif()
      endif()
    endforeach()
  endif()
  set(${out} ${found} PARENT_SCOPE)
endfunction()

function(fwt_ldconfig_after_install libdir)
  if(NOT "$ENV{DESTDIR}" STREQUAL "")
    message(STATUS "libfwtrain: DESTDIR install, ldconfig not run (run it, or let the package's trigger run it, "
                   "once the files are in ${libdir})")
    return()
  endif()
  if(DEFINED ENV{FWT_LDCONFIG})
    set(ldconfig "$ENV{FWT_LDCONFIG}")
  else()
    find_program(ldconfig NAMES ldconfig PATHS /sbin /usr/sbin NO_CACHE)
  endif()
  fwt_ldconfig_in_search_path("${libdir}" in_path)
  if(DEFINED ENV{FWT_LDCONFIG_EUID})
    set(euid "$ENV{FWT_LDCONFIG_EUID}")
  else()
    execute_process(COMMAND id -u OUTPUT_VARIABLE euid OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()

  if(in_path AND euid STREQUAL "0" AND ldconfig)
    execute_process(COMMAND "${ldconfig}" RESULT_VARIABLE rc)
    if(rc EQUAL 0)
      message(STATUS "libfwtrain: ran ldconfig; programs now find libfwtrain.so in ${libdir}")
    else()
      message(WARNING "libfwtrain: ldconfig failed (${rc}); run `ldconfig` as root so programs find "
                      "libfwtrain.so in ${libdir}")
    endif()
  elseif(in_path)
    message(NOTICE "libfwtrain: installed into ${libdir}; run `sudo ldconfig` once so programs (the fwtrain CLI, "
                   "yours) find libfwtrain.so")
  else()
    message(NOTICE "libfwtrain: ${libdir} is not in the dynamic linker's search path, so programs linked with "
                   "libfwtrain.so (the installed fwtrain CLI too) need one of:\n"
                   "  export LD_LIBRARY_PATH=${libdir}    (this shell)\n"
                   "  echo ${libdir} > /etc/ld.so.conf.d/fwtrain.conf && ldconfig    (as root, for good)\n"
                   "  linking your program with -Wl,-rpath,${libdir}")
  endif()
endfunction()
