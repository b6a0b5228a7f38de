#!/usr/bin/env bash
# Compiles every public header alone (the wire SDK under fwtrain/ and the
# cookbook under fwtrain/cookbook/), as C99 and as C++11, with
# -Wall -Wextra -pedantic -Werror, using both gcc/g++ and clang/clang++ when present.
set -u
inc="$1"; shift
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0; n=0
for h in "$inc"/fwtrain/*.h "$inc"/fwtrain/cookbook/*.h; do
  name=${h#"$inc"/fwtrain/}
  probe=$(printf '%s' "${name%.h}" | tr '/' '_')
  printf '#include <fwtrain/%s>\nint fwt_header_probe_%s;\n' "$name" "$probe" > "$tmp/t.c"
  cp "$tmp/t.c" "$tmp/t.cpp"
  for cc in gcc clang; do
    command -v $cc >/dev/null || continue
    n=$((n+1))
    if ! $cc -std=c99 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/t.c" -o "$tmp/t.o"; then
      echo "FAIL: $name as C99 with $cc"; fail=$((fail+1)); fi
  done
  for cxx in g++ clang++; do
    command -v $cxx >/dev/null || continue
    n=$((n+1))
    if ! $cxx -std=c++11 -Wall -Wextra -pedantic -Werror -I"$inc" -c "$tmp/t.cpp" -o "$tmp/t.o"; then
      echo "FAIL: $name as C++11 with $cxx"; fail=$((fail+1)); fi
  done
done
echo "header checks: $((n-fail)) passed, $fail failed"
[ "$n" -gt 0 ] && [ "$fail" -eq 0 ]
