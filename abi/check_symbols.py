#!/usr/bin/env python3
"""The exported ABI of libfwtrain.so is exactly the committed one.

Compares the dynamic symbols the built library defines, with their version nodes ("fwt_x@@FWTRAIN_0.1"),
to abi/symbols.txt, and checks that every function declared FWT_API in the public headers is exported (a
function missing from the version script abi/libfwtrain.map would be silently hidden).

usage: check_symbols.py NM LIBRARY SYMBOLS_TXT INCLUDE_DIR        (exit 1 with a diff on any mismatch)
       check_symbols.py --print NM LIBRARY                        (the list as symbols.txt holds it)
"""
import os
import re
import subprocess
import sys


def exported(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", "--with-symbol-versions", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3 or parts[1] in ("A", "a"):   # version definitions are absolute symbols
            continue
        syms.add(parts[2])
    return syms


def declared(include_dir):
    names = set()
    for d, _, files in os.walk(include_dir):
        for f in files:
            if not f.endswith(".h"):
                continue
            with open(os.path.join(d, f), encoding="utf-8") as fh:
                text = re.sub(r"/\*.*?\*/", " ", fh.read(), flags=re.S)
            text = re.sub(r"^\s*#.*(?:\\\n.*)*$", " ", text, flags=re.M)  # preprocessor lines (FWT_API's own #define)
            for m in re.finditer(r"\bFWT_API\b([^;{]*?)\(", text):
                # the identifier right before the parameter list: "FWT_API const char *fwt_x(" -> fwt_x
                ids = re.findall(r"[A-Za-z_]\w*", m.group(1))
                if ids:
                    names.add(ids[-1])
    names.discard("FWT_API")
    return names


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--print":
        for s in sorted(exported(sys.argv[2], sys.argv[3])):
            print(s)
        return 0
    if len(sys.argv) != 5:
        print(__doc__)
        return 2
    nm, lib, listing, include = sys.argv[1:]
    have = exported(nm, lib)
    with open(listing, encoding="utf-8") as f:
        want = {l.strip() for l in f if l.strip() and not l.startswith("#")}
    fail = 0
    for s in sorted(want - have):
        print("- %s  (in abi/symbols.txt, not exported by the library)" % s)
        fail = 1
    for s in sorted(have - want):
        print("+ %s  (exported by the library, not in abi/symbols.txt)" % s)
        fail = 1
    unversioned = sorted(s for s in have if "@" not in s)
    for s in unversioned:
        print("! %s has no version node (is the version script applied?)" % s)
        fail = 1
    bare = {s.split("@")[0] for s in have}
    for name in sorted(declared(include) - bare):
        print("! %s is declared FWT_API but not exported (add it to abi/libfwtrain.map)" % name)
        fail = 1
    if fail:
        print("The exported ABI changed. If that is deliberate: abi/update.sh <build dir>, then commit the "
              "result with a CHANGELOG line (docs/api-stability.md, 'Changing the ABI on purpose').")
        return 1
    print("%d exported symbols, all versioned, as committed" % len(have))
    return 0


if __name__ == "__main__":
    sys.exit(main())
