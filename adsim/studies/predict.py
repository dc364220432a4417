"""`adsim exchange-rate predict`: the lift a new model should expect from its change of an
intermediate metric, read from a finished sweep's report.json (adsim.stats.rate_fit)."""

from __future__ import annotations

import math
from pathlib import Path

from adsim.core.errors import ConfigError, DataError
from adsim.core.files import read_json
from adsim.stats.rate_fit import predict
from adsim.stats.estimates import ExchangeRate, LiftPrediction


def sweep_rates(folder: str | Path) -> dict[str, dict[str, ExchangeRate]]:
    """intermediate -> downstream -> rate, from `folder`/report.json of `adsim exchange-rate`."""
    path = Path(folder) / "report.json"
    report = read_json(path)
    if not isinstance(report, dict) or "exchange_rates" not in report:
        raise DataError(f"{path}: not an exchange-rate report (no 'exchange_rates'); run `adsim exchange-rate` first")
    try:
        return {i: {d: ExchangeRate.from_json(r) for d, r in by_d.items()} for i, by_d in report["exchange_rates"].items()}
    except (KeyError, TypeError) as err:
        raise DataError(f"{path}: exchange rates written by an older adsim (missing {err}); rerun the sweep") from None


def parse_change(text: str) -> tuple[str, float]:
    """"image_search_recall@10=+3" -> ("image_search_recall@10", 3.0)."""
    name, sep, value = text.partition("=")
    try:
        change = float(value)
    except ValueError:
        change = math.nan
    if not sep or not name.strip() or not math.isfinite(change):
        raise ConfigError(f"--set {text!r}: expected METRIC=CHANGE with a finite number, e.g. image_search_recall@10=+3")
    return name.strip(), change


def predict_lift(folder: str | Path, changes: dict[str, float], downstream: list[str] | None = None,
                 level: float = 0.95) -> list[LiftPrediction]:
    """One prediction per (changed intermediate metric, downstream metric). Each change is read
    alone: several changes are not added up (the sweep fits one metric at a time)."""
    if not 0 < level < 1:
        raise ConfigError(f"--level must be in (0, 1), got {level}")
    rates = sweep_rates(folder)
    out = []
    for name, change in changes.items():
        if name not in rates:
            raise ConfigError(f"--set {name}: this sweep has no exchange rate for it (one of {sorted(rates)})")
        for d in downstream or list(rates[name]):
            if d not in rates[name]:
                raise ConfigError(f"--downstream {d}: not fitted in this sweep (one of {sorted(rates[name])})")
            out.append(predict(rates[name][d], name, d, change, level))
    return out
