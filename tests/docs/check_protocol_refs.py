#!/usr/bin/env python3
"""Every protocol citation in the tree must land on a section of docs/protocol.md, and every reliability
citation on a rule of docs/internals.md.

Protocol citations look like "protocol §4.2", "docs/protocol.md §3.1–§3.6", "(§11.2–3)" or a bare "§6".
Sections are the "## N." / "### N.M" headings of docs/protocol.md and the numbered items of its §10 and §11.
Reliability citations ("reliability §3", "reliability-anchors §7 row M1") must name a "### N." rule under
"## Reliability rules" in docs/internals.md. RFC citations are skipped.

usage: check_protocol_refs.py SOURCE_DIR [--list]   (exit 1 and a list of mismatches on failure)
"""
import os
import re
import subprocess
import sys

RELIABILITY = re.compile(r"(?:reliability(?:[- ]anchors)?|anchors)\s*§\s*(\d+)(?:\s*rows?\s*[A-Z0-9, ]+)?", re.I)
RFC = re.compile(r"RFC \d+\s*§\s*[\d.]+", re.I)
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


def reliability_rules(doc):
    found = set()
    inside = False
    for line in doc.splitlines():
        if line.startswith("## "):
            inside = line.strip() == "## Reliability rules"
            continue
        m = re.match(r"^###\s+(\d+)\.\s", line)
        if inside and m:
            found.add(m.group(1))
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
    internals = os.path.join(root, "docs", "internals.md")
    rules = set()
    if os.path.exists(internals):
        with open(internals, encoding="utf-8") as f:
            rules = reliability_rules(f.read())
    rel_bad = []
    try:
        files = subprocess.run(["git", "-C", root, "ls-files"], check=True, capture_output=True,
                               text=True).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        files = [os.path.relpath(os.path.join(d, n), root) for d, _, ns in os.walk(root) for n in ns]
    cited = {}
    for rel in files:
        if not rel or rel.startswith(("docs/protocol.md", "build/", ".git/", "tests/docs/")) or rel == "CHANGELOG.md":
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
            text = RFC.sub("", line)
            for m in RELIABILITY.finditer(text):
                if m.group(1) not in rules:
                    rel_bad.append("%s:%d: reliability §%s is not a rule of docs/internals.md" % (rel, no, m.group(1)))
            text = RELIABILITY.sub("", text)
            for m in CITE.finditer(text):
                for sec in expand(m.group(1), m.group(2)):
                    cited.setdefault(sec, []).append("%s:%d" % (rel, no))
    bad = {s: w for s, w in cited.items() if s not in have}
    key = lambda s: [int(x) for x in s.split(".")]
    if listing:
        for s in sorted(cited, key=key):
            print("§%-6s %3d citation(s)%s" % (s, len(cited[s]), "  MISSING" if s in bad else ""))
    for line in rel_bad:
        print(line)
    if bad:
        for s in sorted(bad, key=key):
            print("docs/protocol.md has no §%s, cited at: %s" % (s, ", ".join(bad[s])))
    if bad or rel_bad:
        return 1
    print("%d protocol citations in %d distinct sections, all present in docs/protocol.md" %
          (sum(len(w) for w in cited.values()), len(cited)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
