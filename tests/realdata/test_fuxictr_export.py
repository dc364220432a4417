"""`adsim export`: a prepared Taobao log in FuxiCTR's format, its sequences the causal join replay reads."""

import numpy as np
import polars as pl
import pytest
import yaml

from adsim import cli
from adsim.core.errors import DataError
from adsim.datasets import log_table, taobao
from adsim.datasets.fixtures import FixtureSpec, write_taobao
from adsim.realdata.fuxictr_export import CATEGORICAL, export_fuxictr

SMALL = FixtureSpec(n_users=30, n_items=40, per_user_day=3, signal="behaviour")


def test_rows_split_as_replay_and_histories_are_the_events_strictly_before(tmp_path):
    log = log_table.prepare(taobao.log_source(write_taobao(tmp_path / "tb", SMALL)), tmp_path / "prep", seed=0)
    rows = export_fuxictr(log, tmp_path / "fx", max_len=5)
    train = pl.read_csv(tmp_path / "fx" / "train.csv", infer_schema=False)
    assert rows == {"train": 30 * 7 * 3, "test": 30 * 3} and train.height == rows["train"]
    assert train.columns[:2] == ["clk", "userid"] and set(CATEGORICAL) <= set(train.columns)
    part, ev = log.read_part(log.parts()[0]), log.behaviour_part(log.parts()[0])
    assert len(log.parts()) == 1  # so train.csv's rows are the part's training rows, in order
    for k, i in enumerate(np.flatnonzero(part.split == 0)[:25]):  # a loop over events: the user's, strictly before, last 5
        before = [j for j in range(len(ev.user)) if ev.user[j] == part.user[i] and ev.time[j] < part.time[i]][-5:]
        for column, values in (("cate_his", ev.category), ("brand_his", ev.brand), ("btag_his", ev.kind)):
            assert (train[column][k] or "") == "^".join(str(values[j]) for j in before)  # one token per event, 0 kept
    assert (ev.brand == 0).any()  # the fixture has events without a brand: alignment is tested
    config = yaml.safe_load((tmp_path / "fx" / "dataset_config.yaml").read_text())["adsim_taobao"]
    assert config["train_data"].endswith("train.csv") and config["feature_cols"][-1]["share_embedding"] == "btag"
    assert yaml.safe_load((tmp_path / "fx" / "model_config.yaml").read_text())["DIN_adsim_taobao"]["model"] == "DIN"


def test_a_log_without_behaviour_is_one_error(tmp_path):
    folder = write_taobao(tmp_path / "tb", SMALL)
    (folder / "behavior_log.csv").unlink()
    log = log_table.prepare(taobao.log_source(folder), tmp_path / "prep", seed=0)
    with pytest.raises(DataError, match="needs a behaviour log"):
        export_fuxictr(log, tmp_path / "fx")


@pytest.mark.parametrize("extra, expected", [(["--max-len", "0"], "--max-len"), (["--data", "{missing}"], "missing file")])
def test_bad_export_input_is_one_line(tmp_path, capsys, extra, expected):
    folder = write_taobao(tmp_path / "tb", SMALL)
    args = ["export", "--data", str(folder), "--out", str(tmp_path / "fx")] + [a.format(missing=tmp_path / "no") for a in extra]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
