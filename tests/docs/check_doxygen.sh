#!/bin/sh
# The API reference has no gaps: every public header carries a \file comment (without one Doxygen silently
# skips the header's functions), and Doxygen run with WARN_AS_ERROR over include/fwtrain/**/*.h reports
# nothing undocumented (functions, types, macros, struct fields, enum values) and no doc-comment errors.
# usage: check_doxygen.sh DOXYGEN DOXYFILE INCLUDE_DIR WARN_LOG
set -u
doxygen=$1 doxyfile=$2 include=$3 log=$4
fail=0
for h in $(find "$include/fwtrain" -name '*.h' | sort); do
  if ! grep -Eq '^[[:space:]]*(/\*\*|\*)[[:space:]]*[@\\]file' "$h"; then
    printf "%s: no @file doc comment (Doxygen would not document the functions it declares)\n" "${h#$include/}"
    fail=1
  fi
done
rm -f "$log"
out=$("$doxygen" "$doxyfile" 2>&1)
rc=$?
[ -n "$out" ] && printf '%s\n' "$out"
if [ -s "$log" ]; then
  sed "s|$include/||" "$log"
  echo "doxygen: $(grep -c . "$log") warning(s)"
  fail=1
fi
if [ "$rc" -ne 0 ]; then
  echo "doxygen exited with $rc"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "API reference: no warnings"
exit "$fail"
