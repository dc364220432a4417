"""Atomic, strict JSON writes and their read-back."""

import json
import math

import numpy as np
import pytest

from adsim.core.errors import DataError
from adsim.core.files import nan_for_null, read_json, write_json


def test_json_is_written_strict_and_read_back_with_its_nans(tmp_path):
    path = tmp_path / "r.json"
    write_json({"a": float("nan"), "b": [1.0, float("inf")], "c": {"d": np.float64("nan"), "e": 2}}, path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict constant {c}"))
    back = read_json(path)
    assert back["b"] == [1.0, None] and back["c"]["e"] == 2
    assert math.isnan(nan_for_null(back["c"])["d"]) and list(tmp_path.iterdir()) == [path]  # no temporary left


@pytest.mark.parametrize("content, message", [(None, "missing file"), ("{not json", "corrupt JSON")])
def test_bad_json_files_give_one_clear_error(tmp_path, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_json(path)
