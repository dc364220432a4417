"""Reports: Markdown rendered to HTML, lifts, and the typed reports' JSON and frame views."""

import json

import pytest

from adsim.reports.ab_report import ABReport, ArmLifts, ArmSummary, CrnWidths, Power, ab_markdown
from adsim.reports.render.html_page import markdown_to_html
from adsim.stats.estimates import Lift
from adsim.reports.render.markdown import fmt, lift_table


def test_markdown_report_renders_tables_images_and_links():
    html = markdown_to_html("# Title\n\ntext with `code` and [a link](x.html)\n\n| a | b |\n| --- | ---: |\n| 1 | <2> |\n\n![plot](plots/p.png)\n", "t")
    assert "<h1>Title</h1>" in html and "<code>code</code>" in html and '<a href="x.html">a link</a>' in html
    assert "<th>a</th>" in html and "<td>&lt;2&gt;</td>" in html and '<img alt="plot" src="plots/p.png">' in html


def test_lift_point_has_no_interval_and_formats_as_a_dash():
    lift = Lift.point(0.5, 0.6)
    assert lift.relative == pytest.approx(0.2) and lift.ci_low is None and not lift.significant
    assert fmt(None) == fmt(float("nan")) == "–" and fmt(0.1234, pct=True) == "+12.34%"
    assert "| auc | 0.5 | 0.6 | +20.00% | – | – |" in lift_table({"auc": lift})
    assert Lift.from_json(lift.to_json()) == lift


def _lift(c, t, lo, hi):
    return Lift(control=c, treatment=t, absolute=t - c, relative=t / c - 1, ci_low=lo, ci_high=hi, abs_ci_low=lo * c,
                abs_ci_high=hi * c, p_value=0.01, se_relative=0.05)


def _report() -> ABReport:
    arm = ArmSummary(encoder="random", encoder_args={}, click_stream=0, metrics={"ctr": 0.01}, model_metrics={},
                     intermediate_metrics={"text_recall@10": 0.2, "text_recall@1": 0.1})
    lifts = ArmLifts(lift={"ctr": _lift(0.01, 0.012, 0.1, 0.3), "ranker_auc": Lift.point(0.6, 0.65)},
                     slices={"modality=image": {"ctr": _lift(0.01, 0.011, -0.1, 0.3), "rpm": _lift(10, 12, 0.0, 0.4)}},
                     days={}, power={"ctr": Power(0.05, 0.14)}, crn={"ctr": CrnWidths(0.2, 0.25, 0.36)})
    return ABReport(name="t", seed=1, config_hash="abc", n_requests_served=10, n_serving_days=1, n_users=5, n_bootstrap=100,
                    arms={"control": arm, "treatment": arm}, lifts={"treatment": lifts}, lift_arm="treatment")


def test_ab_report_json_frame_and_markdown():
    report = _report()
    data = json.loads(json.dumps(report.to_json()))
    assert data["lift"]["ctr"]["ci_low"] == 0.1 and data["lifts"]["treatment"]["ranker_auc"]["ci_low"] is None
    assert data["slices"]["treatment"]["modality=image"]["rpm"]["relative"] == pytest.approx(0.2)
    assert data["power"]["treatment"]["ctr"] == {"se_relative": 0.05, "mde_relative": 0.14}
    assert set(data) >= {"arms", "lift", "lifts", "slices", "days", "power", "crn", "lift_arm", "n_bootstrap"}
    frame = report.to_frame()
    assert frame.height == 4 and set(frame["scope"]) == {"all", "modality=image"}
    assert frame.filter(frame["metric"] == "ranker_auc")["ci_low"][0] is None  # a point value has no CI
    md = ab_markdown(report)
    assert "| ctr | 0.01 | 0.012 | +20.00% | [+10.00%, +30.00%] | 0.01 |" in md
    assert "| text_recall@10 |" in md and "text_recall@1 |" not in md


def test_html_embeds_images_beside_it_and_lets_wide_tables_scroll(tmp_path):
    from PIL import Image
    (tmp_path / "plots").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "plots" / "p.png")
    html = markdown_to_html("| a |\n| --- |\n| 1 |\n\n![plot](plots/p.png)\n\n![gone](plots/missing.png)\n", "t", tmp_path)
    assert 'src="data:image/png;base64,' in html and 'src="plots/missing.png"' in html  # a copied page keeps its plots
    assert "<div class='wide'><table>" in html and ".wide{overflow-x:auto" in html


def test_every_report_has_json_and_frame_views():
    import dataclasses
    from adsim.reference import _report_classes
    tops = [c for c in _report_classes() if c.__name__.endswith("Report")]
    assert len(tops) >= 12
    missing = [c.__name__ for c in tops if not (callable(getattr(c, "to_json", None)) and callable(getattr(c, "to_frame", None)))]
    assert not missing, f"reports without to_json() and to_frame(): {missing}"
    undocumented = [c.__name__ for c in tops if (c.__doc__ or "").startswith(c.__name__ + "(")]  # dataclass's stand-in
    assert all(dataclasses.is_dataclass(c) for c in tops) and not undocumented, undocumented
