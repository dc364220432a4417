"""The calibration report: the knobs fitted to a log, and the log's statistics beside the base
world's and the calibrated world's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import polars as pl

# (LogStats field, label, index into a list field or None)
ROWS = (("ctr", "CTR", None), ("position_decay", "position decay (PBM fit)", None),
        ("examination", "examination, 2nd slot", 1), ("activity_sigma", "activity sigma", None),
        ("requests_per_user", "requests per user, median", 0), ("requests_per_user", "requests per user, p99", 2),
        ("seq_len", "clicks per user, p90", 1), ("category_zipf", "category Zipf exponent", None),
        ("price_median", "item price, median", None), ("price_log_sd", "item price, sd of log", None))


@dataclass
class CalibrationReport:
    """`adsim calibrate`: what a real log says about the world (examination by slot, activity tail,
    prices) and how the calibrated world matches it."""

    dataset: str
    config_path: str
    base_knobs: dict
    fitted_knobs: dict
    log: dict              # LogStats of the log
    base_world: dict       # ... of the base config's world
    calibrated_world: dict  # ... of the world built from the written config
    fitted_from_log: list[str]   # knobs set from the log
    not_fitted: list[str]        # statistics shown but not fitted
    slot_names: list[str]        # the log's slots in the order the decay assumes

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame([{"statistic": label, "log": _get(self.log, f, i), "base_world": _get(self.base_world, f, i),
                              "calibrated_world": _get(self.calibrated_world, f, i)} for f, label, i in ROWS])


def _get(stats: dict, field: str, index: int | None) -> float | None:
    v = stats.get(field)
    if v is None:
        return None
    return float(v[index]) if index is not None else float(v)


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.4g}"


def calibration_markdown(r: CalibrationReport) -> str:
    lines = [f"Calibrated to {r.dataset} -> {r.config_path}", "", "| knob | base | fitted |", "| --- | ---: | ---: |"]
    lines += [f"| {k} | {_num(r.base_knobs[k])} | {_num(r.fitted_knobs[k])} |" for k in r.fitted_knobs]
    lines += ["", "| statistic | log | base world | calibrated world |", "| --- | ---: | ---: | ---: |"]
    for row in r.to_frame().iter_rows(named=True):
        lines.append(f"| {row['statistic']} | {_num(row['log'])} | {_num(row['base_world'])} | {_num(row['calibrated_world'])} |")
    lines += ["", f"Slots in the order the position decay assumes: {', '.join(r.slot_names)}."]
    exam = r.log.get("examination") or []
    if len(exam) > 1 and exam[1] > 1:
        lines.append("The log's second slot is examined more than its first: the slots may not be in position order "
                     "(give --slot-order); the decay is clipped at 0.")
    lines += [f"Not fitted (shown for comparison): {', '.join(r.not_fitted)}."]
    return "\n".join(lines) + "\n"
