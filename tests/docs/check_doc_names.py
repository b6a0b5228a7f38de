#!/usr/bin/env python3
"""The documents name only what exists: every API identifier quoted in docs/*.md (`fwt_x`, `FWT_X`, option
fields such as `poll_floor_ms`) must appear in the sources (include/, src/, server/, tools/, examples/).

usage: check_doc_names.py SOURCE_DIR        (exit 1 listing the names not found)
"""
import os
import re
import sys

DOCS = ["docs/protocol.md", "docs/internals.md", "docs/api-stability.md", "docs/conventions.md"]
TREES = ["include", "src", "server", "tools", "examples", "abi", "cmake", "scripts", "tests"]
# what counts as an API name: fwt_/FWT_/fwl_ identifiers, and snake_case option fields ending in a unit
NAME = re.compile(r"^(?:fwt_\w+|FWT_\w+|fwl_\w+|fwt__\w+|[a-z][a-z0-9]*(?:_[a-z0-9]+)*_(?:ms|s|bytes))$")


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    corpus = []
    for t in TREES:
        for d, _, files in os.walk(os.path.join(root, t)):
            for f in files:
                if f.endswith((".c", ".h", ".py", ".sh", ".cmake", ".txt", ".map", ".in")):
                    try:
                        with open(os.path.join(d, f), encoding="utf-8") as fh:
                            corpus.append(fh.read())
                    except (UnicodeDecodeError, OSError):
                        pass
    words = set(re.findall(r"\w+", "\n".join(corpus)))
    missing = []
    for doc in DOCS:
        path = os.path.join(root, doc)
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"`([^`\n]+)`", text):
            for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(1)):
                if NAME.match(tok) and tok not in words:
                    line = text.count("\n", 0, m.start()) + 1
                    missing.append("%s:%d: `%s` is not in the sources" % (doc, line, tok))
    for m in sorted(set(missing)):
        print(m)
    if missing:
        return 1
    print("every API name quoted in docs/ exists in the sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
