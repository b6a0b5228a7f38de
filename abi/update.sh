#!/bin/sh
# Regenerate the committed ABI files from a gcc build with debug information (docs/api-stability.md,
# "Changing the ABI on purpose"):
#   abi/symbols.txt      the exported symbols with their version nodes (nm)
#   abi/libfwtrain.abi   the ABI baseline of the public headers (libabigail's abidw), paths made relative
#   debian/libfwtrain0.symbols  the Debian symbols file, from abi/symbols.txt (abi/debian_symbols.py)
# Prints the abidiff report against the previous baseline and the FWT_API functions the version script
# abi/libfwtrain.map does not list yet. Commit the result with a CHANGELOG line.
# usage: abi/update.sh BUILD_DIR
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: abi/update.sh BUILD_DIR}
lib=$(find "$build/src" -maxdepth 1 -name 'libfwtrain.so.*.*.*' -type f | head -n 1)
[ -n "$lib" ] || { echo "no libfwtrain.so.X.Y.Z under $build/src: build first" >&2; exit 2; }
command -v abidw >/dev/null || { echo "abidw not found (Debian package abigail-tools)" >&2; exit 2; }

python3 "$root/abi/check_symbols.py" --print nm "$lib" > "$root/abi/symbols.txt.new"
# Public headers only: opaque types (fwt_training, ...) stay declarations, so their internals may change freely.
# Paths inside the baseline are made relative to the source tree, so it does not depend on where it was built.
abidw --headers-dir "$root/include/fwtrain" --drop-private-types --no-show-locs --no-comp-dir-path --no-corpus-path \
      --drop-undefined-syms --out-file "$root/abi/libfwtrain.abi.new" "$lib"
sed -i "s|path='$root/|path='|g" "$root/abi/libfwtrain.abi.new"
if grep -q "$root" "$root/abi/libfwtrain.abi.new"; then
  echo "the baseline still names $root; not replacing it" >&2
  exit 1
fi
if [ -f "$root/abi/libfwtrain.abi" ]; then
  echo "== abidiff previous baseline -> new build"
  abidiff --no-show-locs "$root/abi/libfwtrain.abi" "$root/abi/libfwtrain.abi.new" || true
fi
mv "$root/abi/symbols.txt.new" "$root/abi/symbols.txt"
mv "$root/abi/libfwtrain.abi.new" "$root/abi/libfwtrain.abi"
python3 "$root/abi/debian_symbols.py" write "$root"   # debian/libfwtrain0.symbols follows symbols.txt
echo "== check"
python3 "$root/abi/check_symbols.py" nm "$lib" "$root/abi/symbols.txt" "$root/include" || true
echo "updated abi/symbols.txt ($(wc -l < "$root/abi/symbols.txt") symbols) and abi/libfwtrain.abi"
