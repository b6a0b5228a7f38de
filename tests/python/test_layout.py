"""The ctypes mirrors of the C structs match the headers: every field at the C offset, nothing appended in C
that Python lacks. A C program generated from the Python side prints the compiler's view."""
import ctypes
import os
import subprocess

from conftest import ROOT


def test_struct_layouts_match_the_headers(tmp_path):
    from fwtrain import _lib
    lines = ['#include <stddef.h>', '#include <stdio.h>', '#include "fwtrain/fwtrain.h"', "int main(void) {"]
    expect = {}
    for cname, cls in _lib.LAYOUTS.items():
        names = [f[0] for f in cls._fields_ if f[0] != "_spare"]
        end = cls._spare.offset if hasattr(cls, "_spare") else ctypes.sizeof(cls)
        align = ctypes.alignment(cls)
        expect[cname] = {"sizeof": (end + align - 1) // align * align}
        lines.append('    printf("%s sizeof %%zu\\n", sizeof(%s));' % (cname, cname))
        for n in names:
            expect[cname][n] = getattr(cls, n).offset
            lines.append('    printf("%s %s %%zu\\n", offsetof(%s, %s));' % (cname, n, cname, n))
    lines += ["    return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    cc = os.environ.get("FWTRAIN_CC", "cc")
    inc = os.environ.get("FWTRAIN_INCLUDE", os.path.join(ROOT, "include"))
    exe = str(tmp_path / "layout")
    r = subprocess.run([cc, "-std=c11", "-I", inc, str(src), "-o", exe], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = {}
    for line in subprocess.run([exe], capture_output=True, text=True, check=True).stdout.splitlines():
        struct, field, value = line.split()
        got.setdefault(struct, {})[field] = int(value)
    mismatches = ["%s.%s: C %s, Python %s" % (s, f, got[s].get(f), v)
                  for s in expect for f, v in expect[s].items() if got[s].get(f) != v]
    assert not mismatches, "update python/fwtrain/_lib.py: " + "; ".join(mismatches)
