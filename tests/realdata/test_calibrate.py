"""`adsim calibrate` on a log that a known adsim config generated: the knobs come back within the
tolerances the README states, and the world built from the written config matches the log."""

import pytest

from adsim import cli
from adsim.api import load_config
from adsim.realdata.calibrate import Knobs, run_calibrate, world_day0
from adsim.realdata.log_export import export_taobao
from tests.support import SMOKE

TRUTH = ["clicks.position_decay=1.3", "clicks.ctr_shift=1.0", "world.activity_sigma=0.6", "world.price_median=50.0",
         "world.price_sigma=0.5"]
TRAFFIC = ["traffic.n_requests=20000"]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    root = tmp_path_factory.mktemp("calibrate")
    truth = load_config(SMOKE, TRUTH + TRAFFIC)
    world, imp = world_day0(truth, root / "truth")
    log = export_taobao(world, imp, root / "log")
    return truth, run_calibrate(log, "taobao", load_config(SMOKE, TRAFFIC), root / "run"), root


def test_position_decay_and_ctr_level_are_recovered(calibrated):
    truth, report, _ = calibrated
    k = report.fitted_knobs
    assert k["position_decay"] == pytest.approx(truth.clicks.position_decay, abs=0.1)
    assert k["ctr_shift"] == pytest.approx(truth.clicks.ctr_shift, abs=0.2)
    assert report.calibrated_world["ctr"] == pytest.approx(report.log["ctr"], rel=0.1)
    assert abs(report.base_world["ctr"] / report.log["ctr"] - 1) > 0.3  # the base world was far off


def test_activity_tail_and_prices_are_recovered(calibrated):
    truth, report, _ = calibrated
    k = report.fitted_knobs
    assert k["activity_sigma"] == pytest.approx(truth.world.activity_sigma, abs=0.1)
    assert k["price_median"] == pytest.approx(truth.world.price_median, rel=0.05)
    assert k["price_sigma"] == pytest.approx(truth.world.price_sigma, abs=0.1)


def test_the_written_config_loads_and_carries_the_knobs(calibrated):
    _, report, root = calibrated
    cfg = load_config(root / "run" / "calibrated.toml")
    assert Knobs.of(cfg) == Knobs(**report.fitted_knobs)
    assert cfg.world.n_users == load_config(SMOKE).world.n_users  # sizes stay the base's
    assert (root / "run" / "calibration.png").read_bytes()[:4] == b"\x89PNG"
    assert "calibrated world" in (root / "run" / "report.md").read_text()


def test_a_slot_order_that_misses_a_slot_is_one_line(calibrated, capsys):
    _, _, root = calibrated
    args = ["calibrate", "--data", str(root / "log"), "--format", "taobao", "--config", str(SMOKE), "--out",
            str(root / "bad"), "--slot-order", "slot_0,slot_1"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--slot-order must name every slot" in err[0]
