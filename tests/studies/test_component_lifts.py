"""MOON components over replicate sweeps: controls found from the variants' settings, lifts over the
baseline and the control combined across replicates that each train their own encoders."""

import json

import pytest

from adsim.core.config import load_config
from adsim.core.errors import ConfigError
from adsim.studies.component_lifts import controls_of
from adsim.studies.exchange_sweep import run_exchange_rate
from tests.support import SMOKE


@pytest.mark.parametrize("changes, expected", [
    ({"moon": {}, "grpo": {"reasoning": "grpo"}, "zero": {"reasoning": "grpo", "grpo_control": "zero-advantage"},
      "imit": {"reasoning": "grpo", "grpo_control": "imitation"}}, {"grpo": ("zero", "imit")}),
    ({"ve": {"visual_expansion": 2}, "held": {"visual_expansion": 2, "visual_expansion_photos": "held"}}, {"ve": ("held",)}),
    ({"ve": {"visual_expansion": 2, "visual_expansion_photos": "added"},
      "held": {"visual_expansion": 2, "visual_expansion_photos": "held"}}, {"ve": ("held",)}),  # a knob left at off
    ({"moon": {}, "held": {"visual_expansion": 2, "visual_expansion_photos": "held"}}, {}),  # its treated twin is absent
    ({"moon": {}, "moe": {"moe_experts": 4}}, {}),  # no control knob: measured against the baseline only
])
def test_a_control_is_the_variant_with_the_same_settings_and_a_control_knob_on(changes, expected):
    assert controls_of(changes) == expected


@pytest.mark.slow
def test_retrained_replicates_combine_each_component_against_baseline_and_control(tmp_path):
    cfg = load_config(SMOKE, ["encoder_train.pretrain_steps=3", "encoder_train.posttrain_steps=3", "encoder_train.grpo_steps=2",
                              "encoder_train.batch_size=16", "sweep.moon_posttrain_steps=[]", "traffic.n_requests=600",
                              'sweep.variants={a={encoder="latent-noise", encoder_args={noise=0.5}}}',
                              'sweep.moon_variants={moon={}, grpo={reasoning="grpo"}, '
                              'zero={reasoning="grpo", grpo_control="zero-advantage"}}', 'sweep.baseline="moon"'])
    report = run_exchange_rate(cfg, tmp_path / "run", log=lambda _: None, replicates=2, retrain=True, encoders=tmp_path / "enc")
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "enc").iterdir())
    assert names.count("moon") == 2 and names.count("grpo") == 2 and names.count("zero") == 2  # one per training seed
    assert set(report.components) == {"grpo", "zero"}
    assert set(report.components["grpo"]) == {"moon", "zero"} and set(report.components["zero"]) == {"moon"}
    ctr = report.components["grpo"]["zero"]["ctr"]
    assert len(ctr.replicate_lifts) == 2 and ctr.combined.ci_low <= ctr.combined.mean <= ctr.combined.ci_high
    assert ctr.combined.mean == pytest.approx(sum(ctr.replicate_lifts) / 2)
    assert ctr.base.relative == pytest.approx(ctr.replicate_lifts[0])
    on_disk = json.loads((tmp_path / "run" / "report.json").read_text())
    assert on_disk["components"]["grpo"]["zero"]["ctr"]["replicate_lifts"] == ctr.replicate_lifts
    assert on_disk["components_retrained"] is True
    text = (tmp_path / "run" / "report.md").read_text()
    assert "MOON components over 2 replicate sweeps" in text and "every replicate trained its own encoders" in text


@pytest.mark.parametrize("kwargs", [{"replicates": 1, "retrain": True}, {"replicates": 2, "retrain": True, "variants": {}}])
def test_retrain_without_replicates_is_one_clear_error(tmp_path, smoke_world, kwargs):
    with pytest.raises(ConfigError, match="--retrain needs --replicates >= 2"):
        run_exchange_rate(load_config(SMOKE), tmp_path, log=lambda _: None, world=smoke_world, **kwargs)
