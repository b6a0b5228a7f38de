#!/usr/bin/env bash
# readme_code_blocks test: README.md's code must run as written.
#
# C blocks. Every ```c block of README.md must be a complete program: it contains `int main(`. It is
# compiled as a user would (cc -std=c11 prog.c $(pkg-config --cflags --libs fwtrain), plus -Wall -Wextra
# -Werror) against a tree installed from this build into a temp prefix, then run twice against a
# fwtrain-local started from that tree (the second run finds the state the first one left, as a user
# re-running it would); any compile error or non-zero exit fails the test. A block that is deliberately
# partial must be fenced ```c fragment: it is then not compiled, and any other ```c block without a main
# fails the test, so a snippet cannot silently escape. The README must hold at least one complete block.
# Shell blocks (```sh): each command must exist: ./scripts/ in the source tree, `fwtrain <command>` and
# `fwtrain-local` in the installed tree with every --flag the README shows named in their --help,
# anything else on PATH.
# Args: BUILD_DIR SOURCE_DIR CMAKE CC [EXTRA_CFLAGS]
set -euo pipefail
build=$1 src=$2 cmake=$3 cc=$4 extra=${5:-}
readme=$src/README.md
tmp=$(mktemp -d /tmp/fwt-readme-XXXXXX)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
step() { echo "-- $*"; }
fail() { echo "FAIL: $*"; exit 1; }

# ---- extract: blocks/N.<lang> with N the README line of the opening fence -----------------------------
mkdir "$tmp/blocks"
awk -v dir="$tmp/blocks" '
  !inblock && /^```/ {
    info = substr($0, 4); sub(/[ \t]+$/, "", info)
    inblock = 1; start = NR; lang = info; sub(/[ \t].*/, "", lang)
    extra = info; sub(/^[^ \t]*[ \t]*/, "", extra)
    kind = (lang == "c") ? (extra == "fragment" ? "cfrag" : "c") : (lang == "sh" || lang == "bash" ? "sh" : "")
    next
  }
  inblock && /^```[ \t]*$/ { inblock = 0; next }
  inblock && kind != "" { print > (dir "/" start "." kind) }
' "$readme"
shopt -s nullglob
cblocks=() fragments=0 shblocks=()
for f in "$tmp"/blocks/*.c; do
  line=$(basename "$f" .c)
  grep -q 'int main(' "$f" ||
    fail "README.md:$line: a \`\`\`c block without \`int main(\`: make it a complete program or fence it \`\`\`c fragment"
  cblocks+=("$f")
done
for f in "$tmp"/blocks/*.cfrag; do fragments=$((fragments + 1)); done
for f in "$tmp"/blocks/*.sh; do shblocks+=("$f"); done
[ "${#cblocks[@]}" -gt 0 ] || fail "README.md has no complete C block (\`\`\`c with int main): the first program is gone"
step "README.md: ${#cblocks[@]} complete C block(s), $fragments fragment(s), ${#shblocks[@]} shell block(s)"

# ---- the installed tree --------------------------------------------------------------------------------
prefix=$tmp/prefix
step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
libdir=$(dirname "$(find "$prefix" -name 'libfwtrain.so' -print -quit)")
[ -d "$libdir" ] || fail "libfwtrain.so not installed"
export PKG_CONFIG_PATH=$libdir/pkgconfig
export LD_LIBRARY_PATH=$libdir

# ---- shell blocks: the commands they show exist ----------------------------------------------------------
check_command() { # README-line command-text
  local where=$1 cmd=$2 first words=() w sub="" help flag
  read -r -a words <<<"$cmd"
  while [ "${#words[@]}" -gt 0 ] && [[ ${words[0]} =~ ^[A-Za-z_][A-Za-z0-9_]*= || ${words[0]} == sudo ]]; do
    words=("${words[@]:1}")
  done
  [ "${#words[@]}" -gt 0 ] || return 0
  first=${words[0]}
  case $first in
  fwtrain|*/fwtrain|fwtrain-local|*/fwtrain-local)
    local prog=$prefix/bin/$(basename "$first")
    [ -x "$prog" ] || fail "README.md:$where: $first is not installed ($prog)"
    if [ "$(basename "$first")" = fwtrain ]; then
      for w in "${words[@]:1}"; do [[ $w =~ ^[a-z][a-z-]*$ ]] || break; sub="$sub $w"; done
    fi
    # shellcheck disable=SC2086
    help=$("$prog" $sub --help 2>&1) || fail "README.md:$where: \`$(basename "$first")$sub --help\` failed: $help"
    for w in $sub; do grep -qw -- "$w" <<<"$help" || fail "README.md:$where: \`$(basename "$first")$sub\` is not a command"; done
    for w in "${words[@]}"; do
      flag=${w#\[}
      flag=${flag%%=*}
      flag=${flag%\]}
      [[ $flag == --* ]] || continue
      grep -qE -- "(^|[^a-z-])$flag([^a-z-]|\$)" <<<"$help" || fail "README.md:$where: $(basename "$first")$sub has no option $flag"
    done ;;
  ./scripts/*)
    [ -x "$src/$first" ] || fail "README.md:$where: $first does not exist in the source tree" ;;
  ./*|build/*) ;;   # a program the reader builds
  *)
    command -v "$first" >/dev/null || fail "README.md:$where: command $first not found" ;;
  esac
}
for f in "${shblocks[@]}"; do
  start=$(basename "$f" .sh)
  n=0
  # Join continued lines, drop comments, split on && and ; (not inside $(...): the README has no such case).
  while IFS= read -r l; do
    n=$((n + 1))
    l=${l%%#*}
    l=${l%&}
    [ -n "${l// /}" ] || continue
    while IFS= read -r part; do check_command "$((start + n))" "$part"; done < <(sed 's/&&/\n/g; s/;/\n/g' <<<"$l")
  done < <(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$f")
done
step "shell blocks: every command exists"

# ---- C blocks: compile against the installed tree --------------------------------------------------------
for f in "${cblocks[@]}"; do
  line=$(basename "$f" .c)
  # shellcheck disable=SC2046,SC2086
  "$cc" $extra -std=c11 -Wall -Wextra -Werror -o "$tmp/prog-$line" "$f" $(pkg-config --cflags --libs fwtrain) \
    >"$tmp/cc-$line.log" 2>&1 || { cat "$tmp/cc-$line.log"; fail "README.md:$line: the C block does not compile"; }
done
step "C blocks compile against the installed tree"

# ---- ... and run against the installed fwtrain-local ------------------------------------------------------
mkdir "$tmp/data"
FWL_API_KEY=readme-test-key "$prefix/bin/fwtrain-local" --port 0 --port-file "$tmp/port" --data-dir "$tmp/data" \
  >"$tmp/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
[ -s "$tmp/port" ] || { cat "$tmp/server.log"; fail "fwtrain-local did not start"; }
export FIREWORKS_BASE_URL="http://127.0.0.1:$(tr -d '[:space:]' <"$tmp/port")"
export FIREWORKS_API_KEY=readme-test-key
for f in "${cblocks[@]}"; do
  line=$(basename "$f" .c)
  for run in 1 2; do
    rc=0
    (cd "$tmp" && "$tmp/prog-$line") >"$tmp/out" 2>&1 || rc=$?
    sed "s/^/   README.md:$line run $run: /" "$tmp/out"
    if [ "$rc" -ne 0 ]; then
      echo "--- server log"; tail -30 "$tmp/server.log"
      fail "README.md:$line: the C block exited $rc on run $run"
    fi
  done
done
step "README code blocks OK"
