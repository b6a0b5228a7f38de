#!/bin/sh
# Print a version script putting every FWT_API function of the public headers into one node, e.g.
#   abi/make_map.sh FWTRAIN_0.1 > abi/libfwtrain.map
# Used to start a new SONAME's node (0.x minor releases); within one SONAME, append a new node by hand.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
node=${1:?usage: abi/make_map.sh NODE_NAME}
python3 - "$root/include" "$node" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("c", sys.argv[1] + "/../abi/check_symbols.py")
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
names = sorted(m.declared(sys.argv[1]))
print("/* libfwtrain exported symbols and their version nodes (docs/api-stability.md, \"Symbol versioning\").")
print(" * Every FWT_API function is listed here; anything not listed is hidden. A symbol added in a later")
print(" * release goes into a new node for that release, inheriting this one. */")
print("%s {" % sys.argv[2])
print("  global:")
for n in names:
    print("    %s;" % n)
print("  local:")
print("    *;")
print("};")
PY
