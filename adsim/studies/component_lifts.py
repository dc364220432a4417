"""MOON components priced downstream over replicate sweeps: each trained MOON variant's lifts over
the sweep's baseline (`sweep.baseline`, plain MOON) and over its compute-matched control, one lift
per replicate sweep (paired on that replicate's users), combined across replicates.

A variant's control is found from the variants' own settings: the variant whose encoder_train
changes equal the control's with every control knob (`CONTROL_KNOBS`) back at its off value (GRPO
with `grpo_control = "zero-advantage"` is a control of GRPO; a variant may have several). With `adsim exchange-rate
--replicates R --retrain`, each replicate trains its own encoders (training seed + r) and serves
its own traffic, so the replicates are independent and identically distributed and their spread
carries both the training seed and the traffic (`adsim.stats.combine`); without `--retrain` the
encoders are shared and the interval does not cover the training seed.
"""

from __future__ import annotations

from typing import Any

from adsim.core.config import ExperimentConfig
from adsim.reports.replicate_report import ReplicatedLift
from adsim.runs.arm import ArmOutcome
from adsim.stats.bootstrap import Bootstrap
from adsim.studies.ab import N_BOOTSTRAP, grouped_lifts
from adsim.studies.replicates import replicated_lift

CONTROL_KNOBS = {"grpo_control": "none", "visual_expansion_photos": "added"}  # knob -> its value when it is off


def _on(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes without control knobs left at their off value."""
    return {k: v for k, v in changes.items() if not (k in CONTROL_KNOBS and v == CONTROL_KNOBS[k])}


def controls_of(changes: dict[str, dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Variant -> its compute-matched controls among `changes` (name -> encoder_train changes), in
    the order they are named."""
    out: dict[str, tuple[str, ...]] = {}
    for control, ch in changes.items():
        ch = _on(ch)
        if any(k in CONTROL_KNOBS for k in ch):
            treated = {k: v for k, v in ch.items() if k not in CONTROL_KNOBS}
            for name, other in changes.items():
                if name != control and _on(other) == treated:
                    out[name] = out.get(name, ()) + (control,)
    return out


def component_lifts(cfg: ExperimentConfig, runs: list[dict[str, ArmOutcome]],
                    level: float = 0.95) -> dict[str, dict[str, dict[str, ReplicatedLift]]]:
    """Trained variant -> what it is measured against (the baseline, its control) -> downstream
    metric -> the replicates' relative lifts combined. Empty with fewer than 2 replicates."""
    sw = cfg.sweep
    if len(runs) < 2 or not sw.moon_variants:
        return {}
    control = controls_of({n: sw.moon_variant_changes(n) for n in sw.moon_variants})
    boots = [Bootstrap(cfg.seed, run[sw.baseline or "control"].sums.n_users, N_BOOTSTRAP) for run in runs]
    out: dict[str, dict[str, dict[str, ReplicatedLift]]] = {}
    for name in sw.moon_variants:
        for against in dict.fromkeys(a for a in (sw.baseline, *control.get(name, ())) if a and a != name and a in runs[0]):
            # The lifts alone (the A/B's power and CRN figures are not read here), one bootstrap pass each.
            per_run = [grouped_lifts(run[against].sums, run[name].sums, boot)["all"] for run, boot in zip(runs, boots)]
            rows = {d: x for d in sw.downstream if (x := replicated_lift([lifts[d] for lifts in per_run], level))}
            out.setdefault(name, {})[against] = rows
    return out
