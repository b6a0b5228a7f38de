# Warnings are errors on gcc and clang; sanitizer lanes are whole-build switches.
set(FWT_WARNINGS -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes
    -Wno-unused-parameter)
set(FWT_CXX_WARNINGS -Wall -Wextra -Werror)

function(fwt_target_warnings tgt)
  target_compile_options(${tgt} PRIVATE $<$<COMPILE_LANGUAGE:C>:${FWT_WARNINGS}>
                                        $<$<COMPILE_LANGUAGE:CXX>:${FWT_CXX_WARNINGS}>)
  target_compile_definitions(${tgt} PRIVATE _GNU_SOURCE)
endfunction()

if(FWT_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(FWT_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "FWT_FUZZ needs clang (libFuzzer)")
  endif()
  # Coverage feedback for the whole build; only tests/fuzz executables link the fuzzer's main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(FWT_TSAN)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
