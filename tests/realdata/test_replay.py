"""`adsim replay` end to end on generated Taobao logs: embeddings win where clicks follow them and
not where clicks ignore them; reports and bad input."""

import json
from pathlib import Path

import pytest

from adsim import cli
from adsim.core.errors import DataError
from adsim.core.config import RankerConfig
from adsim.datasets.fixtures import FixtureSpec, write_fixture
from adsim.datasets.log_table import load_prepared
from adsim.realdata.replay import run_replay
from adsim.realdata.replay_settings import ReplaySettings, parse_embeddings

SPEC = FixtureSpec(n_users=200, n_items=300, per_user_day=6)
SETTINGS = ReplaySettings(ranker=RankerConfig(batch_size=256, seq_len=20), seeds=2, n_boot=200)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for signal in ("embeddings", "none", "behaviour"):
        root = tmp_path_factory.mktemp(signal)
        data = write_fixture("taobao", root / "log", signal=signal, spec=SPEC)
        out[signal] = (run_replay(data, "taobao", {"moon": data / "item_embeddings.parquet"}, root / "run", SETTINGS), root / "run")
    return out


def test_embeddings_that_carry_the_click_signal_win_with_a_ci_clear_of_zero(runs):
    report, _ = runs["embeddings"]
    d = report.arms[1].vs_base
    assert d["auc"]["ci_low"] > 0 and d["gauc"]["ci_low"] > 0 and d["log_loss"]["ci_high"] < 0
    assert report.arms[1].items_without_embedding == 0


def test_embeddings_that_clicks_ignore_do_not_win(runs):
    d = runs["none"][0].arms[1].vs_base
    assert d["auc"]["ci_low"] < 0 and d["gauc"]["ci_low"] < 0 and d["log_loss"]["ci_high"] > 0


def test_the_report_is_written_and_says_what_its_intervals_cover(runs):
    report, folder = runs["embeddings"]
    saved = json.loads((folder / "report.json").read_text())
    assert saved["n_test"] == report.n_test == SPEC.n_users * SPEC.per_user_day  # the eighth day
    assert [a["name"] for a in saved["arms"]] == ["base", "moon", "category-share"]
    assert saved["log_features"] == ["events", "affinity", "profile", "price"] and saved["arms"][1]["reads"][-1] == "embeddings"
    assert all(len(v) == 2 for v in saved["arms"][1]["seed_values"].values())
    md = (folder / "report.md").read_text()
    assert "training seeds" in md and "do not cover" in md
    frame = report.to_frame()
    assert frame.height == 9 and frame.filter(frame["ranker"] == "base")["diff"].null_count() == 3


def test_the_ranker_reads_the_behaviour_log_and_beats_the_category_share_heuristic(runs):
    """Clicks follow favourite categories that show only in behavior_log: the ranker must read it."""
    report, _ = runs["behaviour"]
    base, heuristic = report.arms[0], report.arms[-1]
    assert heuristic.name == "category-share" and heuristic.metrics["log_loss"] is None
    assert base.metrics["auc"]["value"] >= 0.60 and heuristic.vs_base["auc"]["value"] < 0


@pytest.mark.slow
def test_at_the_fixtures_default_size_the_ranker_beats_the_heuristic_clear_of_its_ci(tmp_path):
    """The documented run (docs/guide/real-data.md): `adsim fixture --signal behaviour`, then replay
    with ablations; the base ranker's AUC CI is clear of the heuristic's, and the behaviour log is
    what carries it."""
    data = write_fixture("taobao", tmp_path / "log", signal="behaviour")
    report = run_replay(data, "taobao", {}, tmp_path / "run", ReplaySettings(ablation=True))
    arms = {a.name: a for a in report.arms}
    assert arms["base"].metrics["auc"]["value"] >= 0.60
    assert arms["category-share"].vs_base["auc"]["ci_high"] < 0
    assert arms["base-no-behaviour-log"].vs_base["auc"]["ci_high"] < 0


def test_embeddings_named_and_unnamed_and_clashes():
    assert parse_embeddings(["a=/x/e.parquet", "/y/moon.parquet"]) == {"a": Path("/x/e.parquet"), "moon": Path("/y/moon.parquet")}
    for bad in (["base=/x.parquet"], ["a=/x.parquet", "a=/y.parquet"]):
        with pytest.raises(DataError, match="distinct name"):
            parse_embeddings(bad)


@pytest.mark.parametrize("extra, expected", [
    (["--data", "{missing}"], "missing file"),
    (["--embeddings", "moon={log}/nothing.parquet"], "is a missing file"),
    (["--embeddings", "moon={log}/raw_sample.csv"], "must be a .parquet file"),
    (["--seeds", "0"], "seeds must be at least 1"),
    (["--log-features", "events,clicks"], "log feature 'clicks' is not one of events, affinity, profile, price"),
    (["--event-len", "0"], "--event-len must be between 1 and 1000"),
    (["--event-len", "1000000"], "--event-len must be between 1 and 1000"),
    (["--embeddings", "category-share={log}/item_embeddings.parquet"], "is the name of a ranker replay trains itself"),
])
def test_replay_bad_input_is_one_line(tmp_path, capsys, extra, expected):
    log = write_fixture("taobao", tmp_path / "log", spec=FixtureSpec(n_users=20, n_items=30, per_user_day=2))
    args = ["replay", "--format", "taobao", "--data", str(log), "--out", str(tmp_path / "run")]
    args += [a.format(missing=tmp_path / "none", log=log) for a in extra]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err


def test_prepare_alone_writes_the_log_replay_reads_and_bad_input_is_one_line(tmp_path, capsys):
    log = write_fixture("taobao", tmp_path / "log", signal="behaviour", spec=FixtureSpec(n_users=20, n_items=30, per_user_day=2))
    assert cli.main(["prepare", "--format", "taobao", "--data", str(log), "--out", str(tmp_path / "prep")]) == 0
    out = capsys.readouterr().out
    prepared = load_prepared(tmp_path / "prep")
    assert f"prepared {prepared.n_rows:,} impressions of 20 users in 1 parts" in out and "behaviour events" in out
    (tmp_path / "file").write_text("")
    for args, expected in ((["--data", str(tmp_path / "none")], "missing file"), (["--out", str(tmp_path / "file")], "is a file")):
        base = {"--data": str(log), "--out": str(tmp_path / "p2")} | dict(zip(args[::2], args[1::2]))
        assert cli.main(["prepare", "--format", "taobao", *[x for kv in base.items() for x in kv]]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and expected in err[0], err
