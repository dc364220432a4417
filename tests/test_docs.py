"""The documented Python session (docs/reference/README.md) runs as written and prints what the
page says, number for number: a figure in the docs is what a rerun at this code gives. The page's
figures come from two torch threads (a 2-core machine); the session runs with two here too, as a
different thread count changes the last digits of trained models."""

import os
import re
import subprocess
import sys

from tests.support import ROOT

RUNNER = """
import doctest, sys
block = open(sys.argv[1]).read()
test = doctest.DocTestParser().get_doctest(block, {}, "docs/reference/README.md", None, 0)
result = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE).run(test)
sys.exit(0 if result.attempted >= 4 and result.failed == 0 else 1)
"""


def test_the_reference_api_session_gives_its_printed_numbers(tmp_path):
    page = (ROOT / "docs" / "reference" / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    assert '"/tmp/api_ab"' in block
    (tmp_path / "session.txt").write_text(block.replace('"/tmp/api_ab"', repr(str(tmp_path / "run"))))
    env = {**os.environ, "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    result = subprocess.run([sys.executable, "-c", RUNNER, str(tmp_path / "session.txt")], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
