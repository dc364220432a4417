"""Validation reports: how often the intervals adsim reports cover what they claim to."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import binomtest

from adsim.stats.estimates import Lift


@dataclass(frozen=True)
class MetricCoverage:
    """One metric over many draws: the share of CIs covering the true lift, with its 95 % Clopper-Pearson
    interval, and whether the CIs are too wide or too narrow (mean bootstrap SE vs the lifts' spread)."""

    true_lift: float          # relative
    coverage: float
    coverage_low: float
    coverage_high: float
    mean_lift: float
    lift_sd: float            # the spread of the estimated lifts across draws
    mean_se: float            # the mean bootstrap standard error the reports gave
    mean_ci_width: float
    n: int

    @classmethod
    def of(cls, true_lift: float, lifts: list[Lift]) -> "MetricCoverage":
        inside = np.array([lf.ci_low <= true_lift <= lf.ci_high for lf in lifts])
        ci = binomtest(int(inside.sum()), len(inside)).proportion_ci(0.95)
        rel = np.array([lf.relative for lf in lifts])
        return cls(true_lift=float(true_lift), coverage=float(inside.mean()), coverage_low=float(ci.low),
                   coverage_high=float(ci.high), mean_lift=float(rel.mean()), lift_sd=float(rel.std(ddof=1)) if len(rel) > 1 else 0.0,
                   mean_se=float(np.mean([lf.se_relative for lf in lifts])),
                   mean_ci_width=float(np.mean([lf.ci_high - lf.ci_low for lf in lifts])), n=len(lifts))


@dataclass(frozen=True)
class CoverageReport:
    """Lift coverage: `n_draws` traffic draws against the truth of `truth_factor` x that traffic."""

    n_draws: int
    truth_factor: int
    level: float
    n_requests: int
    metrics: dict[str, MetricCoverage]
    seconds: float

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([{"metric": m, **dataclasses.asdict(c)} for m, c in self.metrics.items()])

    def lines(self) -> list[str]:
        head = (f"lift coverage over {self.n_draws} traffic draws of {self.n_requests:,} requests "
                f"(truth: {self.truth_factor}x the traffic, expected clicks), {self.seconds:.0f}s")
        return [head] + [f"  {m}: {c.coverage:.1%} of {self.level:.0%} CIs cover the true lift {c.true_lift:+.2%} "
                         f"(95 % CI of the share [{c.coverage_low:.1%}, {c.coverage_high:.1%}]); "
                         f"lift sd across draws {c.lift_sd:.4f} vs mean bootstrap se {c.mean_se:.4f}"
                         for m, c in self.metrics.items()]


@dataclass(frozen=True)
class ExchangeCoverage:
    """One intermediate metric's exchange rate over replicate sweeps."""

    truth_slope: float       # the design's slope: the other replicates' points pooled (mean over the leave-one-out truths)
    coverage: float          # share of slope CIs covering it
    truth_slope_big: float   # the first replicate's variants on truth_factor x the traffic (and day-0 logs); NaN without
    coverage_big: float      # share of slope CIs covering that
    mean_ci_width: float
    slope_sd: float          # the replicates' slopes' spread
    mean_se: float           # the mean standard error the fits reported
    loo_pi_coverage: float   # share of held-out variants inside their 95 % prediction interval, over replicates
    family_pi_coverage: float  # the same for each family held out whole (the line fitted to the other families)
    n: int


@dataclass(frozen=True)
class ExchangeCoverageReport:
    """`adsim validate exchange`: each estimator's slope-CI coverage over replicate sweeps, SE against
    the slopes' spread, held-out variants and families."""

    n_replicates: int
    truth_factor: int
    n_variants: int
    # downstream -> estimator -> intermediate -> coverage over the replicates
    cells: dict[str, dict[str, dict[str, ExchangeCoverage]]]

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"summary": self.summary()}

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([{"downstream": d, "estimator": e, "intermediate": i, **dataclasses.asdict(c)}
                             for d, by_e in self.cells.items() for e, by_i in by_e.items() for i, c in by_i.items()])

    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """downstream -> estimator -> the metrics' coverages pooled: slope-CI coverage, held-out PI
        coverage, and the median over metrics of mean SE / the slopes' actual spread."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for d, by_e in self.cells.items():
            for e, by_i in by_e.items():
                cs = list(by_i.values())
                n = sum(c.n for c in cs)
                ratio = [c.mean_se / c.slope_sd for c in cs if c.slope_sd > 0]
                out.setdefault(d, {})[e] = {
                    "coverage": sum(c.coverage * c.n for c in cs) / n if n else float("nan"),
                    "coverage_big": sum(c.coverage_big * c.n for c in cs) / n if n else float("nan"),
                    "loo_pi_coverage": float(np.nanmean([c.loo_pi_coverage for c in cs])) if cs else float("nan"),
                    "family_pi_coverage": _nanmean([c.family_pi_coverage for c in cs]),
                    "se_over_spread": float(np.median(ratio)) if ratio else float("nan"), "n_metrics": len(cs)}
        return out

    def lines(self) -> list[str]:
        big = (f"; in brackets, the first replicate's variants at {self.truth_factor}x the traffic and day-0 logs"
               if self.truth_factor else "")
        head = [f"exchange-rate coverage over {self.n_replicates} replicate sweeps of {self.n_variants} variants, pooled over "
                f"intermediate metrics (truth: the other replicates' points pooled, total-covariance slope{big}):"]
        for d, by_e in self.summary().items():
            for e, s in by_e.items():
                extra = f" ({s['coverage_big']:.1%})" if self.truth_factor else ""
                head.append(f"  {d} [{e}]: slope CIs cover the truth {s['coverage']:.1%}{extra}; held-out variants inside their "
                            f"95 % PI {s['loo_pi_coverage']:.1%}, held-out families {s['family_pi_coverage']:.1%}; "
                            f"mean se / slopes' sd {s['se_over_spread']:.2f} (median of {s['n_metrics']} metrics)")
        return head


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")
