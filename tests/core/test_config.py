import dataclasses
import re

import pytest

from adsim.core.config import ExperimentConfig, load_config
from adsim.core.errors import ConfigError
from tests.support import ROOT, SMOKE


def test_demo_toml_is_the_builtin_default():
    assert load_config(ROOT / "experiments" / "demo.toml") == ExperimentConfig()


def test_contract_keys_are_present():
    cfg = load_config(SMOKE)
    assert isinstance(cfg.seed, int)
    for key in ("n_items", "n_users", "n_advertisers", "image_size"):
        assert getattr(cfg.world, key) > 0
    assert cfg.traffic.n_requests > 0
    assert sum(cfg.traffic.modality_mix.shares()) == pytest.approx(1.0)


def test_overrides_apply_with_toml_types():
    cfg = load_config(SMOKE, ["world.n_items=123", "seed=5", "traffic.modality_mix={text=1.0, image=0.0, multimodal=0.0}",
                              "world.budgets=true", "name=hello"])
    assert (cfg.world.n_items, cfg.seed, cfg.traffic.modality_mix.text, cfg.world.budgets, cfg.name) == (123, 5, 1.0, True, "hello")


@pytest.mark.parametrize("override, message", [
    ("world.n_itemz=5", "world.n_itemz: unknown key"),
    ("world.n_items=-5", "world.n_items: must be >= 10"),
    ("world.n_items=1.5", "world.n_items: expected an integer"),
    ("world.budgets=1", "world.budgets: expected bool"),
    ("traffic.modality_mix.text=0.7", "traffic.modality_mix: shares must sum to 1"),
    ("world=3", "world: expected a table"),
    ("seed", "expected dotted.key=value"),
])
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(SMOKE, [override])


def test_malformed_and_missing_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[world\nn_items = 3")
    with pytest.raises(ConfigError, match="malformed TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_hash_changes_with_any_setting():
    base = ExperimentConfig()
    other = dataclasses.replace(base, world=dataclasses.replace(base.world, n_users=base.world.n_users + 1))
    assert base.hash() == ExperimentConfig().hash() != other.hash()


@pytest.mark.parametrize("override, message", [
    ('arms.treatment.overrides={ranking={alpha=1}}', "arms.treatment.overrides.ranking: not a stage section"),
    ('arms.treatment.overrides={auction={alpha=9}}', "arms.treatment.overrides.auction.alpha: must be <= 5"),
    ('arms.treatment.overrides={ranker={seq_lenn=3}}', "arms.treatment.overrides.ranker.seq_lenn: unknown key"),
    ('arms.treatment.overrides={relevance={threshold="high"}}', "arms.treatment.overrides.relevance.threshold: expected a number"),
    ("arms.treatment.click_stream=-1", "arms.treatment.click_stream: must be >= 0"),
])
def test_bad_arm_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(SMOKE, [override])


@pytest.mark.parametrize("override, message", [
    ("encoder_train.matryoshka_dims=[32, 256]", "encoder_train.matryoshka_dims: must be sizes <= embedding_dim"),
    ("encoder_train.matryoshka_dims=[32, 64]", "encoder_train.matryoshka_dims: must be sizes <= embedding_dim that include it"),
    ("encoder_train.heads=3", "encoder_train: hidden and vision_hidden must be multiples of heads"),
    ("encoder_train.vision=cnn", "encoder_train.vision: must be one of"),
    ("encoder_train.learning_rate=0", "encoder_train.learning_rate: must be > 0"),
    ("encoder_train.hard_negative_share=1.5", "encoder_train.hard_negative_share: must be <= 1"),
    ("encoder_train.batch_size=2", "encoder_train.batch_size: must be >= 4"),
])
def test_bad_encoder_training_settings_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_config(SMOKE, [override])


@pytest.mark.parametrize("override, message", [
    ("sweep.moon_posttrain_steps=[]", "sweep: a sweep needs at least 3 variants"),
    ("sweep.primary=revenue", "sweep: unknown downstream metric"),
    ('sweep.variants.control={encoder="random"}', "sweep.variants: 'control' is the config's control arm"),
    ("scaling.values=[1, 1, 2]", "scaling.values: need at least 3 distinct positive values"),
    ("relevance.learning_rate=-1", "relevance.learning_rate: must be > 0"),
    ("relevance.batch_size=0", "relevance.batch_size: must be >= 1"),
    ("traffic.n_days=1", "traffic.n_days: must be >= 2"),
])
def test_bad_study_and_stage_settings_name_the_key(override, message):
    extra = ['sweep.variants={a={encoder="random"}}'] if override.startswith("sweep.moon") else []
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_config(SMOKE, extra + [override])


def test_sweep_families_expand_into_named_variants():
    cfg = load_config(SMOKE, ['sweep.families={noise={base={noise=1.0}, grid={visual_noise=[0.2, 0.6], text_noise=[0.4, 0.8]}}, '
                              'moon={of="moon_post50", grid={dim=[32, 64], bits=[8]}}}', "sweep.moon_posttrain_steps=[50]"])
    members = cfg.sweep.family_variants()
    assert len(members) == 4 and members["noise_visual_noise0.6_text_noise0.4"].encoder_args == \
        {"noise": 1.0, "visual_noise": 0.6, "text_noise": 0.4}
    assert {"moon_dim32_bits8", "moon_dim64_bits8", "moon_post50"} <= cfg.sweep.variant_names()
    trained = cfg.sweep.families["moon"].members("moon", {"path": "/m"})
    assert trained["moon_dim32_bits8"] == {"path": "/m", "dim": 32, "bits": 8}


def test_drawn_families_draw_new_members_per_replicate_within_the_grid_range():
    cfg = load_config(SMOKE, ['sweep.families={d={draws=5, base={noise=1.0}, grid={visual_noise=[0.2, 1.4], kind=["a", "b"]}}}'])
    f = cfg.sweep.families["d"]
    first, again, other = (cfg.sweep.family_variants(seed) for seed in ((7, 0), (7, 0), (7, 1)))
    assert list(first) == [f"d_draw{k:02d}" for k in range(5)] == list(other) and first == again
    assert first != other and cfg.sweep.n_family_members() == 5 == f.size
    assert all(0.2 <= a.encoder_args["visual_noise"] <= 1.4 and a.encoder_args["kind"] in ("a", "b")
               and a.encoder_args["noise"] == 1.0 for a in first.values())
    assert cfg.sweep.family_of("d_draw03") == "d" and cfg.sweep.family_of("moon_post150_step25") == "moon"
    assert cfg.sweep.family_of("all_0.3") is None  # a listed variant


@pytest.mark.parametrize("family, message", [
    ('{m={of="nope", grid={dim=[32]}}}', "is not a MOON variant the sweep trains"),
    ('{m={grid={}}}', "non-empty list"),
    ('{m={grid={noise=[]}}}', "non-empty list"),
    ('{m={base={noise=1.0}, grid={noise=[0.1]}}}', "set in both base and grid"),
    ('{m={grid={nois=[0.1]}}}', "nois: unknown key"),
    ('{m={of="moon_post150", grid={bits=[3]}}}', "bits: must be one of [4, 6, 8]"),
])
def test_bad_families_are_one_clear_error(family, message):
    from encoders.registry import check_encoders
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_encoders(load_config(SMOKE, [f"sweep.families={family}"]))
