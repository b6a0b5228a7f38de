#!/usr/bin/env python3
"""debian/libfwtrain0.symbols is abi/symbols.txt in dpkg-gensymbols' format.

Every exported symbol with its version node ("fwt_x@@FWTRAIN_0.1" -> " fwt_x@FWTRAIN_0.1 0.1.0"), plus each
node's own definition symbol, which dpkg-gensymbols lists too. A symbol's minimum version is the release that
introduced its node (FWTRAIN_X.Y -> X.Y.0), so packages built against libfwtrain depend on the oldest
libfwtrain0 that has what they use. The SONAME follows CMakeLists.txt's version (src/CMakeLists.txt: 0.<minor>
during 0.x, <major> from 1.0 on).

usage: debian_symbols.py write ROOT    regenerate the file (abi/update.sh runs this)
       debian_symbols.py check ROOT    exit 1 with a diff if the file is out of date (test abi_debian_symbols)
"""
import difflib
import os
import re
import sys

PACKAGE = "libfwtrain0"


def expected(root):
    with open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"project\(fwtrain VERSION (\d+)\.(\d+)\.(\d+)", f.read())
    if not m:
        sys.exit("debian_symbols: no 'project(fwtrain VERSION x.y.z' in CMakeLists.txt")
    major, minor = int(m.group(1)), int(m.group(2))
    soname = "libfwtrain.so.%s" % ("0.%d" % minor if major == 0 else "%d" % major)
    rows, nodes = [], set()
    with open(os.path.join(root, "abi", "symbols.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            name, sep, node = line.partition("@@")
            if not sep or not re.fullmatch(r"FWTRAIN_\d+\.\d+", node):
                sys.exit("debian_symbols: abi/symbols.txt: unexpected line %r" % line)
            nodes.add(node)
            rows.append((name, node))
    rows += [(n, n) for n in nodes]

    def since(node):
        return node.split("_", 1)[1] + ".0"

    out = ["# Generated from abi/symbols.txt by abi/debian_symbols.py (abi/update.sh); do not edit.",
           "%s %s #MINVER#" % (soname, PACKAGE),
           "* Build-Depends-Package: libfwtrain-dev"]
    out += [" %s@%s %s" % (name, node, since(node)) for name, node in sorted(rows)]
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check"):
        sys.exit(__doc__)
    root = sys.argv[2]
    path = os.path.join(root, "debian", PACKAGE + ".symbols")
    want = expected(root)
    if sys.argv[1] == "write":
        with open(path, "w", encoding="utf-8") as f:
            f.write(want)
        return 0
    try:
        with open(path, encoding="utf-8") as f:
            have = f.read()
    except OSError as e:
        print("debian_symbols: %s" % e)
        return 1
    if have == want:
        print("debian/%s.symbols matches abi/symbols.txt" % PACKAGE)
        return 0
    sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                               "debian/%s.symbols" % PACKAGE, "expected"))
    print("debian/%s.symbols is out of date: run abi/update.sh BUILD_DIR (or abi/debian_symbols.py write .)"
          % PACKAGE)
    return 1


if __name__ == "__main__":
    sys.exit(main())
