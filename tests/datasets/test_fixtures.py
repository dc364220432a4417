"""`adsim fixture`: every format writes its files; bad choices are one line."""

import pytest

from adsim import cli
from adsim.core.errors import ConfigError
from adsim.datasets.fixtures import write_fixture


@pytest.mark.parametrize("fmt, files", [
    ("taobao", {"raw_sample.csv", "ad_feature.csv", "user_profile.csv", "behavior_log.csv", "item_embeddings.parquet"}),
    ("amazon", {"All_Beauty.jsonl", "meta_All_Beauty.jsonl", "item_embeddings.parquet", "img"}),
    ("query-set", {"queries.jsonl", "item_embeddings.parquet", "query_embeddings.parquet"}),
])
def test_each_format_writes_its_files(tmp_path, capsys, fmt, files):
    assert cli.main(["fixture", "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    assert {p.name for p in (tmp_path / fmt).iterdir()} == files
    assert str(tmp_path / fmt) in capsys.readouterr().out


def test_fixtures_are_byte_identical_per_seed(tmp_path):
    a, b = write_fixture("taobao", tmp_path / "a", seed=3), write_fixture("taobao", tmp_path / "b", seed=3)
    assert (a / "raw_sample.csv").read_bytes() == (b / "raw_sample.csv").read_bytes()
    c = write_fixture("taobao", tmp_path / "c", seed=4)
    assert (a / "raw_sample.csv").read_bytes() != (c / "raw_sample.csv").read_bytes()


@pytest.mark.parametrize("fmt, signal, expected", [("criteo", "none", "format must be one of"),
                                                   ("taobao", "strong", "signal must be one of")])
def test_bad_choices_are_one_error(tmp_path, fmt, signal, expected):
    with pytest.raises(ConfigError, match=expected):
        write_fixture(fmt, tmp_path, signal=signal)
