#!/usr/bin/env python3
"""Every protocol citation in the tree must land on a section of docs/protocol.md.

Citations look like "protocol §4.2", "docs/protocol.md §3.1–§3.6", "(§11.2–3)" or a bare "§6" in a line
that cites nothing else. Sections are the "## N." / "### N.M" headings of docs/protocol.md and the numbered
items of its §10 and §11. Lines citing other documents (RFCs, reliability anchors) are skipped.

usage: check_protocol_refs.py SOURCE_DIR [--list]   (exit 1 and a list of mismatches on failure)
"""
import os
import re
import subprocess
import sys

SKIP_LINE = re.compile(r"RFC \d+|anchors? §|anchors §", re.I)
# one citation group: §A[.B] followed by optional ranges/lists: "–§3.6", "–3", ", §11.1"
CITE = re.compile(r"§\s*(\d+(?:\.\d+)?)((?:\s*[–-]\s*§?\d+(?:\.\d+)?)?)")


def sections(doc):
    found = set()
    chapter = None
    for line in doc.splitlines():
        m = re.match(r"^##\s+(\d+)\.\s", line)
        if m:
            chapter = m.group(1)
            found.add(chapter)
            continue
        m = re.match(r"^###\s+(\d+\.\d+)\s", line)
        if m:
            found.add(m.group(1))
            continue
        m = re.match(r"^(\d+)\.\s", line)
        if m and chapter in ("10", "11"):
            found.add("%s.%s" % (chapter, m.group(1)))
    return found


def expand(first, rng):
    out = [first]
    if not rng:
        return out
    last = re.sub(r"[\s–§-]", "", rng)
    if "." in first and "." not in last:          # "§11.2–3"
        major = first.split(".")[0]
        last = "%s.%s" % (major, last)
    if "." in first and "." in last and first.split(".")[0] == last.split(".")[0]:
        major = first.split(".")[0]
        a, b = int(first.split(".")[1]), int(last.split(".")[1])
        out = ["%s.%d" % (major, i) for i in range(a, b + 1)]
    else:
        out.append(last)
    return out


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    listing = "--list" in sys.argv
    doc_path = os.path.join(root, "docs", "protocol.md")
    with open(doc_path, encoding="utf-8") as f:
        have = sections(f.read())
    try:
        files = subprocess.run(["git", "-C", root, "ls-files"], check=True, capture_output=True,
                               text=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.relpath(os.path.join(d, n), root) for d, _, ns in os.walk(root) for n in ns]
    cited = {}
    for rel in files:
        if not rel or rel.startswith(("docs/protocol.md", "build/", ".git/")) or rel == "CHANGELOG.md":
            continue
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        for no, line in enumerate(lines, 1):
            if "§" not in line:
                continue
            text = line
            if SKIP_LINE.search(text):
                # keep only the protocol citations of a mixed line
                text = re.sub(r"(RFC \d+|anchors?)\s*§\s*[\d.]+(\s*row[s]?\s*[A-Z0-9, ]+)?", "", text, flags=re.I)
            for m in CITE.finditer(text):
                for sec in expand(m.group(1), m.group(2)):
                    cited.setdefault(sec, []).append("%s:%d" % (rel, no))
    bad = {s: w for s, w in cited.items() if s not in have}
    key = lambda s: [int(x) for x in s.split(".")]
    if listing:
        for s in sorted(cited, key=key):
            print("§%-6s %3d citation(s)%s" % (s, len(cited[s]), "  MISSING" if s in bad else ""))
    if bad:
        for s in sorted(bad, key=key):
            print("docs/protocol.md has no §%s, cited at: %s" % (s, ", ".join(bad[s])))
        return 1
    print("%d protocol citations in %d distinct sections, all present in docs/protocol.md" %
          (sum(len(w) for w in cited.values()), len(cited)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
