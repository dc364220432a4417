"""Every report, built from its own type hints with small example values (a missing number among
them): `to_json()` writes as strict JSON (NaN as null, nothing JSON cannot hold, such as an array),
and reads back to the same values; `to_frame()` is a polars frame with rows; and
its text view (a `*_markdown` function, `markdown()` or `lines()`) renders. A report added without
these views, or one whose views break on a missing number, fails here."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import sys
import types
import typing

import numpy as np
import polars as pl
import pytest

from adsim.core.files import strict
from adsim.core.vocab import DOWNSTREAM, HEADLINE_INTERMEDIATES, REPLAY_METRICS
from adsim.reference import _report_classes

REPORTS = [c for c in _report_classes() if c.__name__.endswith("Report")]


# The keys every example dict holds: arm, metric, ranker and interval names the views look up.
VOCAB = tuple(dict.fromkeys(("control", "treatment") + DOWNSTREAM + ("retrieval_recall",) + HEADLINE_INTERMEDIATES
                            + REPLAY_METRICS + ("value", "ci_low", "ci_high", "moon", "base")))


def example(tp, depth: int = 0):
    """A small value of type `tp`: every VOCAB key in a str-keyed dict (`rpm` holding NaN where
    the values are floats), two items per list (the second NaN), "treatment" for a string."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return example(next(a for a in args if a is not type(None)), depth)
    if tp is float:
        return 0.25
    if tp is int:
        return 3
    if tp is bool:
        return True
    if tp is str or tp is typing.Any:
        return "treatment"
    if tp is np.ndarray:
        return np.array([0.1, 0.2])
    if origin in (dict, typing.Dict) or tp is dict:
        k, v = args or (str, float)
        keys = VOCAB if k is str else (example(k, depth + 1), example(k, depth + 1) + 1)
        return {key: _missing(v, depth + 1) if key == "rpm" else example(v, depth + 1) for key in keys}
    if origin in (list, typing.List, tuple, typing.Tuple) or tp in (list, tuple):
        inner = args[0] if args else float
        items = [example(inner, depth + 1), _missing(inner, depth + 1)]
        return tuple(items) if origin in (tuple, typing.Tuple) else items
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp, vars(sys.modules[tp.__module__]))
        return tp(**{f.name: example(hints[f.name], depth + 1) for f in dataclasses.fields(tp)
                     if f.init and (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                                    or depth < 3)})
    raise TypeError(f"no example for {tp!r}")


def _missing(tp, depth):
    """The second value of a container: NaN where a float goes, else another example."""
    return float("nan") if tp is float else example(tp, depth)


@functools.cache
def report_of(cls):
    return example(cls)


def text_view(report) -> str:
    module = sys.modules[type(report).__module__]
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if name.endswith("_markdown") and fn.__module__ == module.__name__:
            params = list(inspect.signature(fn).parameters.values())
            if len(params) >= 1 and params[0].annotation in (type(report).__name__, type(report)):
                return fn(report)
    if hasattr(report, "markdown"):
        return report.markdown()
    return "\n".join(report.lines())


@pytest.mark.parametrize("cls", REPORTS, ids=[c.__name__ for c in REPORTS])
def test_a_report_has_strict_json_a_frame_and_text(cls):
    report = report_of(cls)
    data = report.to_json()
    text = json.dumps(strict(data), allow_nan=False, sort_keys=True)  # what report.json holds; raises on what JSON cannot hold
    assert json.dumps(json.loads(text), allow_nan=False, sort_keys=True) == text  # reads back to the same values
    frame = report.to_frame()
    assert isinstance(frame, pl.DataFrame) and frame.height >= 1, frame
    rendered = text_view(report)
    assert isinstance(rendered, str) and len(rendered) > 20


def test_the_examples_carry_a_missing_number():
    """The check above can fail: an example holds NaN, which plain JSON would write as NaN."""
    def has_nan(x):
        if isinstance(x, float):
            return math.isnan(x)
        if isinstance(x, dict):
            return any(has_nan(v) for v in x.values())
        if isinstance(x, (list, tuple)):
            return any(has_nan(v) for v in x)
        return False
    assert len(REPORTS) >= 12
    assert sum(has_nan(report_of(c).to_json()) for c in REPORTS) >= len(REPORTS) // 2
