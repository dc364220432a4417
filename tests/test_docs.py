"""The documented Python session (docs/reference/README.md) runs as written and prints what the
page says, number for number: a figure in the docs is what a rerun at this code gives."""

import doctest
import re

from tests.support import ROOT


def test_the_reference_api_session_gives_its_printed_numbers():
    page = (ROOT / "docs" / "reference" / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    test = doctest.DocTestParser().get_doctest(block, {}, "docs/reference/README.md", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    out: list[str] = []
    result = runner.run(test, out=out.append)
    assert result.attempted >= 4 and result.failed == 0, "".join(out)
