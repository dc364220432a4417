"""`adsim encoder compare`: every row trained (and cached) per seed, paired differences with CIs over
the units and the training seeds."""

import numpy as np
import pytest

from adsim.core.config import load_config
from adsim.core.errors import ConfigError
from adsim.runs.encoder_cache import measured_encoder
from adsim.studies.encoder_compare import ROWS, compare, paired_differences
from tests.support import SMOKE

TINY = ["encoder_train.pretrain_steps=3", "encoder_train.posttrain_steps=3", "encoder_train.grpo_steps=3",
        "encoder_train.batch_size=16"]


def _units(rng, hits, seeds):
    return [{"text_recall@10": rng.random(1000) < p} for p in hits[:seeds]]


def test_paired_differences_carry_the_seed_spread_and_pair_an_untrained_row_with_every_seed():
    rng = np.random.default_rng(0)
    base = rng.random(1000) < 0.3
    better = base | (rng.random(1000) < 0.2)
    one = {"moon": [{"text_recall@10": better}], "clip": [{"text_recall@10": base}]}
    row = paired_differences(one, seed=0)[0]
    assert row.difference == pytest.approx(better.mean() - base.mean()) and 0 < row.ci_low < row.difference < row.ci_high
    assert row.per_seed == [pytest.approx(row.difference)]
    same = paired_differences({"moon": [{"text_recall@10": base}], "clip": [{"text_recall@10": base}]}, seed=0)[0]
    assert (same.difference, same.ci_low, same.ci_high) == (0.0, 0.0, 0.0)
    # Three seeds whose differences scatter: the CI widens beyond the units' bootstrap alone.
    spread = {"moon": [{"text_recall@10": better | (rng.random(1000) < p)} for p in (0.0, 0.1, 0.2)],
              "random": [{"text_recall@10": base}]}
    row3 = paired_differences(spread, seed=0)[0]
    assert (row3.a, row3.b) == ("moon", "random") and len(row3.per_seed) == 3
    assert row3.difference == pytest.approx(np.mean(row3.per_seed))
    assert row3.ci_high - row3.ci_low > 3 * (row.ci_high - row.ci_low)
    assert row3.ci_low < row3.difference < row3.ci_high


@pytest.mark.slow  # every row trained (about 2 minutes); the seeds test below keeps compare in the suite
def test_compare_reports_every_row_and_its_control(smoke_world, tmp_path):
    cfg = load_config(SMOKE, TINY)
    report = compare(cfg, tmp_path, log=lambda _: None, world=smoke_world)
    assert set(report.results) == {"random", "minilm", *ROWS} and report.seeds == 1
    rows = {(r.a, r.b, r.metric): r for r in report.differences}
    results = report.results
    row = rows[("moon", "clip", "image_search_recall@10")]
    assert row.difference == pytest.approx(results["moon"]["image_search_recall@10"] - results["clip"]["image_search_recall@10"])
    assert row.ci_low <= row.difference <= row.ci_high
    assert report.to_frame().height == len(ROWS) + 2
    for pair in (("moon_reasoning_grpo", "moon_grpo_zero_advantage"), ("moon_reasoning_grpo", "moon_grpo_imitation"),
                 ("moon_visual_expansion", "moon_visual_expansion_held"), ("moon_moe", "moon"), ("moon_sample_filtering", "moon"),
                 ("moon_fusion_raw", "moon"), ("moon_residual_layers", "moon"), ("moon_grpo_queries", "moon_reasoning_grpo")):
        assert (*pair, "text_recall@10") in rows
    probe = rows[("moon_reasoning_imitation", "moon", "probe_brand_acc")]
    assert probe.difference == pytest.approx(results["moon_reasoning_imitation"]["probe_brand_acc"] - results["moon"]["probe_brand_acc"])
    assert ("moon", "random", "i2i_recall@10") not in rows  # the floor cannot embed a view alone
    cache = tmp_path / "encoders"
    assert len(list(cache.glob("moon_co_augmented-*/co_augmentation.json"))) == 1
    # GRPO and both its controls continue the imitation row's finished stages (copied, not retrained).
    for name in ("moon_reasoning_grpo", "moon_grpo_zero_advantage", "moon_grpo_imitation", "moon_grpo_queries"):
        folder = next(cache.glob(f"{name}-*"))
        assert not (folder / "checkpoints" / "posttrain").exists() and (folder / "checkpoints" / "grpo").exists()
    assert "Paired differences" in (tmp_path / "report.md").read_text()


def test_seeds_train_each_row_again_and_a_rerun_reuses_them(smoke_world, tmp_path):
    """One trained row over two seeds keeps this in the suite (a pretraining shared between rows is
    the cache's, tested with the sweep; every row, one seed, is the slow test above)."""
    cfg = load_config(SMOKE, TINY)
    report = compare(cfg, tmp_path / "a", log=lambda _: None, world=smoke_world, seeds=2, encoders=tmp_path / "enc",
                     rows=("moon",))
    assert report.seeds == 2 and set(report.results) == {"random", "minilm", "moon"}
    assert len(report.per_seed["moon"]) == 2 and len(report.per_seed["random"]) == 1
    assert report.per_seed["moon"][0] != report.per_seed["moon"][1]  # another seed, another encoder
    assert len(list((tmp_path / "enc").glob("moon-*"))) == 2 and len(list((tmp_path / "enc").glob("pretrain-*"))) == 2
    moon_vs_random = next(d for d in report.differences if (d.a, d.b) == ("moon", "random"))
    assert len(moon_vs_random.per_seed) == 2  # the untrained row's one measurement pairs with each seed
    said = []
    again = compare(cfg, tmp_path / "b", log=said.append, world=smoke_world, seeds=2, encoders=tmp_path / "enc", rows=("moon",))
    assert not any("training" in s or "pretraining" in s for s in said)
    assert again.results == report.results and again.differences == report.differences  # per-unit values read back
    # Each trained encoder was measured once: the rerun read its kept measurement; a corrupt one is measured again.
    kept = sorted((tmp_path / "enc").glob("moon-*/measured/*.npz"))
    assert len(kept) == 2
    kept[0].write_bytes(b"not an npz")
    said.clear()
    remeasured = measured_encoder(smoke_world, kept[0].parents[1], log=said.append)
    assert "cannot read the measurement" in said[0] and remeasured.metrics in report.per_seed["moon"]
    assert measured_encoder(smoke_world, kept[0].parents[1], log=said.append).metrics == remeasured.metrics and len(said) == 1


@pytest.mark.parametrize("kwargs, message", [({"seeds": 0}, "--seeds"), ({"rows": ("moon", "mooon")}, "no row mooon")])
def test_bad_arguments_say_what_is_wrong(smoke_world, tmp_path, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        compare(load_config(SMOKE, TINY), tmp_path, log=lambda _: None, world=smoke_world, **kwargs)


def test_the_component_sweep_trains_the_comparisons_rows_and_pairs_each_with_its_controls():
    """`exchange-rate --encoders ENC` serves the encoders `encoder compare --encoders ENC` trained
    only if both ask for the same settings: every MOON variant of experiments/moon_components.toml
    is the comparison's row of that name, and the controls the sweep finds from the settings are
    the ones the comparison differences against."""
    from pathlib import Path
    from adsim.studies.compare_rows import PAIRS
    from adsim.studies.component_lifts import controls_of
    sweep = load_config(Path(SMOKE).parent / "moon_components.toml").sweep
    changes = {n: sweep.moon_variant_changes(n) for n in sweep.moon_variants}
    assert {n: ("moon", c) for n, c in changes.items()} == {n: ROWS[n] for n in changes}
    assert {row for pair in PAIRS for row in pair} <= {"random", "minilm", *ROWS}
    for component, controls in controls_of({n: c for n, (kind, c) in ROWS.items() if kind == "moon"}).items():
        assert {(component, c) for c in controls} <= set(PAIRS), component
    assert controls_of(changes) == {"moon_visual_expansion": ("moon_visual_expansion_held",),
                                    "moon_reasoning_grpo": ("moon_grpo_zero_advantage", "moon_grpo_imitation")}
