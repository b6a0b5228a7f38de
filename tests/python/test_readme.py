"""README.md's ```python blocks run as written against fwtrain-local (a user's environment: the key and
URL in FIREWORKS_API_KEY / FIREWORKS_BASE_URL)."""
import os
import re
import subprocess
import sys

from conftest import API_KEY, ROOT


def python_blocks():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    return [(text.count("\n", 0, m.start()) + 1, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```$", text, re.S | re.M)]


def test_readme_has_python_blocks():
    assert python_blocks(), "README.md lost its Python section"


def test_readme_python_blocks_run(server, tmp_path):
    env = dict(os.environ, FIREWORKS_API_KEY=API_KEY, FIREWORKS_BASE_URL=server.url,
               PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    for line, code in python_blocks():
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, "README.md:%d failed:\n%s%s" % (line, r.stdout, r.stderr)
