#!/bin/sh
# The man pages keep up with the programs: every long option that `fwtrain --help`,
# `fwtrain <command> --help` and `fwtrain-local --help` print appears in fwtrain.1 / fwtrain-local.1,
# and groff formats both pages without a warning.
# usage: check_man_flags.sh MAN_DIR FWTRAIN FWTRAIN_LOCAL
set -u
man=$1 fwtrain=$2 local=$3
fail=0
# Options as the page shows them once roff escapes are undone ("\-\-port" -> "--port").
page_opts() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1" | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
help_opts() { "$@" 2>&1 | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u; }
check() { # page, help output command...
  page=$1; shift
  have=$(page_opts "$man/$page")
  for opt in $(help_opts "$@"); do
    if ! printf '%s\n' "$have" | grep -qx -- "$opt"; then
      echo "$page: '$*' prints $opt, which the page does not document"
      fail=1
    fi
  done
}
check fwtrain.1 "$fwtrain" --help
check fwtrain.1 "$fwtrain" promote --help
check fwtrain.1 "$fwtrain" checkpoints --help
check fwtrain.1 "$fwtrain" job --help
check fwtrain.1 "$fwtrain" deployment --help
check fwtrain-local.1 "$local" --help
if command -v groff >/dev/null 2>&1; then
  for p in fwtrain.1 fwtrain-local.1; do
    w=$(groff -t -man -Tutf8 -ww -z "$man/$p" 2>&1)
    if [ -n "$w" ]; then
      printf '%s: groff warnings:\n%s\n' "$p" "$w"
      fail=1
    fi
  done
fi
[ "$fail" -eq 0 ] && echo "man pages document every option"
exit "$fail"
