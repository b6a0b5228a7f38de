#!/usr/bin/env bash
# install_tree test: cmake --install into a temp prefix, then build and run a consumer
# against the installed tree (pkg-config + cc, shared and static; find_package(fwtrain)),
# and check the install step's ldconfig decision (cmake/FwtLdconfig.cmake) in every case.
# Args: BUILD_DIR SOURCE_DIR CMAKE CC [EXTRA_CFLAGS]
set -euo pipefail
build=$1 src=$2 cmake=$3 cc=$4 extra=${5:-}
tmp=$(mktemp -d /tmp/fwt-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "-- $*"; }

# A stand-in for ldconfig that records its calls: the install step must never run the real one here.
printf '#!/bin/sh\necho "ldconfig $*" >>"%s"\n' "$tmp/ldconfig.calls" >"$tmp/fake-ldconfig"
chmod +x "$tmp/fake-ldconfig"
export FWT_LDCONFIG=$tmp/fake-ldconfig
calls() { if [ -f "$tmp/ldconfig.calls" ]; then wc -l <"$tmp/ldconfig.calls"; else echo 0; fi; }

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; exit 1; }
libdir=$(dirname "$(find "$prefix" -name 'libfwtrain.so' -print -quit)")
[ -n "$libdir" ] && [ -d "$libdir" ] || { echo "libfwtrain.so not installed"; exit 1; }
for f in include/fwtrain/fwtrain.h include/fwtrain/types.h include/fwtrain/cookbook/registry.h; do
  [ -f "$prefix/$f" ] || { echo "missing $f"; exit 1; }
done
[ -f "$libdir/libfwtrain.a" ] || { echo "missing libfwtrain.a"; exit 1; }
[ -f "$libdir/pkgconfig/fwtrain.pc" ] || { echo "missing fwtrain.pc"; exit 1; }
[ -f "$libdir/cmake/fwtrain/fwtrainConfig.cmake" ] || { echo "missing fwtrainConfig.cmake"; exit 1; }
if [ -f "$build/tools/fwtrain" ]; then
  [ -x "$prefix/bin/fwtrain" ] || { echo "fwtrain CLI not installed"; exit 1; }
  "$prefix/bin/fwtrain" --version
fi
if [ -f "$build/server/fwtrain-local" ]; then
  [ -x "$prefix/bin/fwtrain-local" ] || { echo "fwtrain-local not installed"; exit 1; }
fi
# Nothing may point back into the build or source tree.
if grep -rl -e "$build" -e "$src" "$libdir/pkgconfig" "$libdir/cmake" 2>/dev/null; then
  echo "installed package files reference the build tree"; exit 1
fi

export PKG_CONFIG_PATH=$libdir/pkgconfig
step "pkg-config: $(pkg-config --modversion fwtrain), cflags '$(pkg-config --cflags fwtrain)'"
# shellcheck disable=SC2046,SC2086
"$cc" $extra -std=c11 -Wall -Wextra -Werror -o "$tmp/pc_shared" "$src/consumer/consumer.c" \
  $(pkg-config --cflags --libs fwtrain)
LD_LIBRARY_PATH=$libdir "$tmp/pc_shared" "$tmp/reg-pc-shared"
# (captured first: with pipefail, grep -q closing the pipe early would fail the pipeline)
deps=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/pc_shared")
case $deps in *"$libdir/libfwtrain.so"*) ;; *) echo "not linked to the installed .so: $deps"; exit 1 ;; esac
# Static: the archive by path plus fwtrain's own dependencies (Requires.private), linked shared:
# `pkg-config --static` would also demand libcurl's private static closure, which Debian does not ship.
# shellcheck disable=SC2046,SC2086
"$cc" $extra -std=c11 -Wall -Wextra -Werror -o "$tmp/pc_static" "$src/consumer/consumer.c" \
  $(pkg-config --cflags fwtrain) "$libdir/libfwtrain.a" \
  $(pkg-config --libs $(pkg-config --print-requires-private fwtrain)) -pthread
"$tmp/pc_static" "$tmp/reg-pc-static"

step "ldconfig: a private prefix is not in the loader's search path: no ldconfig, say what to do"
[ "$(calls)" -eq 0 ] || { echo "ldconfig ran for a private prefix"; exit 1; }
grep -qF "export LD_LIBRARY_PATH=$libdir" "$tmp/install.log" ||
  { cat "$tmp/install.log"; echo "the install output does not say how to load the library from $libdir"; exit 1; }
libc=$(LD_LIBRARY_PATH=$libdir ldd "$tmp/pc_shared" | sed -n 's/.*libc\.so\.6 => \([^ ]*\).*/\1/p')
[ -n "$libc" ] || { echo "cannot find libc.so.6 in ldd's output"; exit 1; }
"$cmake" -DIN_PATH="$(dirname "$libc")" -DNOT_IN_PATH="$libdir" -P "$src/check_ldconfig_path.cmake"

# The decision with the search path and uid pinned (FWT_LDCONFIG_DIRS / FWT_LDCONFIG_EUID): as root into a
# directory of the search path (named through a symlink, as merged /usr does) it runs ldconfig once.
sys=$tmp/sys
mkdir -p "$sys/lib"
ln -s "$sys/lib" "$tmp/sys-lib-link"
ldinstall() { # expected-calls grep-pattern install-args...
  local want=$1 pattern=$2 before
  shift 2
  before=$(calls)
  FWT_LDCONFIG_DIRS="/nonexistent:$tmp/sys-lib-link" "$cmake" --install "$build" "$@" >"$tmp/ld.log" 2>&1 ||
    { cat "$tmp/ld.log"; exit 1; }
  [ $(( $(calls) - before )) -eq "$want" ] ||
    { cat "$tmp/ld.log"; echo "ldconfig ran $(( $(calls) - before )) times, want $want"; exit 1; }
  grep -qF -- "$pattern" "$tmp/ld.log" || { cat "$tmp/ld.log"; echo "install output lacks: $pattern"; exit 1; }
}
step "ldconfig: root into the search path runs it; not root says sudo ldconfig; DESTDIR never runs it"
FWT_LDCONFIG_EUID=0 ldinstall 1 "ran ldconfig" --prefix "$sys"
FWT_LDCONFIG_EUID=1000 ldinstall 0 'run `sudo ldconfig`' --prefix "$sys"
DESTDIR=$tmp/stage FWT_LDCONFIG_EUID=0 ldinstall 0 "DESTDIR install, ldconfig not run" --prefix "$sys"
[ -f "$tmp/stage$sys/lib/libfwtrain.so" ] || { echo "DESTDIR install did not stage the library"; exit 1; }

step "CMake: find_package(fwtrain)"
"$cmake" -S "$src/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$extra" -DCMAKE_BUILD_TYPE=Release >"$tmp/cm.log" || { cat "$tmp/cm.log"; exit 1; }
"$cmake" --build "$tmp/cm" >"$tmp/cmb.log" 2>&1 || { cat "$tmp/cmb.log"; exit 1; }
"$tmp/cm/consumer_shared" "$tmp/reg-cm-shared"
"$tmp/cm/consumer_static" "$tmp/reg-cm-static"
step "install tree OK"
