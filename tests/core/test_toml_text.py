"""Configs written as TOML read back equal."""

import pytest

from adsim.api import load_config
from adsim.core.toml_text import to_toml
from tests.support import ROOT


@pytest.mark.parametrize("name", ["demo", "smoke", "scale_1m", "scaling_negatives", "moon_components"])
def test_configs_round_trip_through_toml(tmp_path, name):
    cfg = load_config(ROOT / "experiments" / f"{name}.toml")
    path = tmp_path / "c.toml"
    path.write_text(to_toml(cfg.to_dict(), "a header\non two lines"))
    assert load_config(path) == cfg
    assert path.read_text().startswith("# a header\n# on two lines\n")


def test_strings_and_odd_keys_are_quoted():
    text = to_toml({"a b": "x\"y", "t": {"k": [1, 2.5, True]}})
    assert '"a b" = "x\\"y"' in text and "[t]\nk = [1, 2.5, true]" in text
