#!/usr/bin/env bash
# install_tree test: cmake --install into a temp prefix, then build and run a consumer
# against the installed tree (pkg-config + cc, shared and static; find_package(fwtrain)).
# Args: BUILD_DIR SOURCE_DIR CMAKE CC [EXTRA_CFLAGS]
set -euo pipefail
build=$1 src=$2 cmake=$3 cc=$4 extra=${5:-}
tmp=$(mktemp -d /tmp/fwt-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
step() { echo "-- $*"; }

step "install into $prefix"
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; exit 1; }
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

step "CMake: find_package(fwtrain)"
"$cmake" -S "$src/consumer" -B "$tmp/cm" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$extra" -DCMAKE_BUILD_TYPE=Release >"$tmp/cm.log" || { cat "$tmp/cm.log"; exit 1; }
"$cmake" --build "$tmp/cm" >"$tmp/cmb.log" 2>&1 || { cat "$tmp/cmb.log"; exit 1; }
"$tmp/cm/consumer_shared" "$tmp/reg-cm-shared"
"$tmp/cm/consumer_static" "$tmp/reg-cm-static"
step "install tree OK"
