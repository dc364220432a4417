import dataclasses

import pytest

from adsim.core.config import ExperimentConfig, load_config
from adsim.core.errors import ConfigError

from conftest import ROOT, SMOKE


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
