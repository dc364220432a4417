"""A lift of one metric, treatment over control, as reports carry it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Lift:
    """Treatment vs control on one metric: relative and absolute change with their CIs.

    Model metrics (AUCs) are point values on held-out logs: their CI fields and p-value are None.
    """

    control: float
    treatment: float
    absolute: float
    relative: float
    ci_low: float | None
    ci_high: float | None
    abs_ci_low: float | None
    abs_ci_high: float | None
    p_value: float | None
    se_relative: float | None  # bootstrap standard error of the relative lift

    @classmethod
    def point(cls, control: float, treatment: float) -> "Lift":
        """A lift without an interval (a model metric)."""
        return cls(control=control, treatment=treatment, absolute=treatment - control,
                   relative=treatment / control - 1 if control else float("nan"), ci_low=None, ci_high=None,
                   abs_ci_low=None, abs_ci_high=None, p_value=None, se_relative=None)

    @property
    def significant(self) -> bool:
        """The absolute CI excludes zero (as the p-value says; defined also where the control is zero)."""
        lo, hi = self.abs_ci_low, self.abs_ci_high
        return bool(lo is not None and np.isfinite(lo) and (lo > 0 or hi < 0))

    def to_json(self) -> dict[str, float | None]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "Lift":
        return cls(**d)
