"""The statistics' results, one vocabulary for every study and report: a lift with its interval
(`Lift`), a lift combined over replicates (`Combined`), an exchange rate and a prediction from it
(`ExchangeRate`, `LiftPrediction`), and which metric to watch (`CompositeProxy`, `VariantsNeeded`).
The reports (adsim.reports) present them; the math that makes them is in adsim.stats."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from adsim.core.files import nan_for_null
from adsim.core.vocab import in_points


def unit(name: str) -> str:
    """What one step of an intermediate metric is called: a point (for rates, in %) or a unit."""
    return "point" if in_points(name) else "unit"


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


@dataclass(frozen=True)
class Combined:
    """The mean of R replicate estimates with an interval from every source of noise."""

    mean: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float            # of the mean
    within_se: float     # a single replicate's bootstrap standard error (root mean variance)
    between_sd: float    # the replicates' standard deviation
    df: float            # R - 1
    mde_single_run: float  # relative MDE (alpha 0.05, power 0.8) of one run, against the combined variance
    mde_mean: float        # ... of the mean of these R replicates


@dataclass(frozen=True)
class ExchangeRate:
    """Downstream lift per unit of intermediate change, fitted through the control across variants on
    the log-ratio scale (100 ln(treatment / control), "log-%"; adsim.stats.rate_fit says how,
    and what each standard-error part covers)."""

    estimator: str          # tc (noise in the intermediate metric corrected), york (errors in both) or wls
    slope: float            # log-% lift per point (rates) or unit of the intermediate metric
    ci_low: float
    ci_high: float
    se: float               # every part once, in quadrature; the CI is slope +- t(df) se
    se_scatter: float       # the variants' own scatter about the line, net of measurement noise
    se_traffic: float       # the paired user bootstrap of the lifts (their covariance across variants)
    se_intermediate: float  # the held-out-query bootstrap of the intermediate metric
    se_replicates: float    # replicated sweeps: the replicates' slopes' spread over sqrt(R), in place of the two above
    n_replicates: int
    scatter_scale: float    # a new variant's scatter about the line: sd = scale * |change|^(power / 2), log-%
    weight_power: float
    df: float               # Satterthwaite's degrees of freedom of se
    r2: float
    spearman: float
    reliability: float      # share of the variants' spread in the intermediate metric that is signal, not noise
    lift_reliability: float  # the same for the lifts
    loo_rmse: float         # leave-one-variant-out error of the predicted lift, in % points
    loo_coverage: float     # share of held-out variants inside their 95 % prediction interval
    loo_errors: tuple[float, ...]  # each held-out variant's error (predicted - measured), % points
    n_variants: int
    change_min: float       # the swept range of changes, control (0) included
    change_max: float
    family_coverage: dict[str, float] = dataclasses.field(default_factory=dict)  # family -> share of its members inside their 95 % PI, the line fitted without the family

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "ExchangeRate":
        d = nan_for_null({f: d[f] for f in cls.__dataclass_fields__ if f in d})  # older reports lack newer fields
        return cls(**d | {"loo_errors": tuple(float("nan") if e is None else e for e in d.get("loo_errors", ()))})


@dataclass(frozen=True)
class LiftPrediction:
    """The expected downstream lift of a new model from its change of one intermediate metric."""

    intermediate: str
    downstream: str
    change: float
    lift: float       # % over the control
    pi_low: float
    pi_high: float
    level: float
    extrapolated: bool
    warning: str | None

    def text(self) -> str:
        line = (f"{self.intermediate} {self.change:+g} {unit(self.intermediate)}s -> {self.downstream} {self.lift:+.2f} % "
                f"({self.level:.0%} prediction interval [{self.pi_low:+.2f}, {self.pi_high:+.2f}] %)")
        return line + (f"; warning: {self.warning}" if self.warning else "")


@dataclass(frozen=True)
class CompositeProxy:
    """Weights over intermediate metrics whose combination predicts the primary lift, against the best
    single metric; both errors nested leave-one-variant-out (adsim.stats.proxy)."""

    metrics: list[str]
    weights: list[float]      # log-% lift per point (or unit) of each metric, fitted on every variant
    penalty: float            # the ridge penalty leave-one-out chose
    loo_rmse: float           # the composite's held-out error, % points
    single_loo_rmse: float    # the best single metric's, that choice also made without the held-out variant
    single_picks: dict[str, int]  # how often each metric was the best single one


@dataclass(frozen=True)
class VariantsNeeded:
    """The primary rate's CI half-width when a sweep keeps only `n_variants` of its variants."""

    n_variants: int
    half_width: float         # log-% per point (or unit), averaged over random subsets
    relative: float           # over the full sweep's |slope|
