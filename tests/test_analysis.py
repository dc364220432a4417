"""Pure analysis functions: exchange-rate fits, power laws, power/MDE, and the HTML renderer."""

import numpy as np
import pytest

from adsim.experiments.exchange import fit_exchange_rate, rank_intermediates
from adsim.reports.html_page import markdown_to_html
from adsim.experiments.scaling import fit_power_law
from adsim.experiments.stats import RatioMetric, bootstrap_weights, minimum_detectable_effect, paired_lift, unpaired_ci_width


def test_exchange_rate_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    x = np.array([-20.0, -5, 0, 10, 25, 40, 55])
    y = 0.8 * x + 2 + rng.normal(0, 1.0, len(x))
    y_boot = y[None] + rng.normal(0, 1.0, (400, len(x)))
    r = fit_exchange_rate(x, y, y_boot)
    assert r.ci_low < 0.8 < r.ci_high and abs(r.slope - 0.8) < 0.05
    assert r.r2 > 0.99 and r.spearman == pytest.approx(1.0) and r.loo_rmse < 2.5
    noise = fit_exchange_rate(x, rng.normal(0, 10, len(x)), rng.normal(0, 10, (400, len(x))))
    assert noise.r2 < 0.8 and noise.ci_low < 0 < noise.ci_high
    ranked = rank_intermediates({"good": {"ctr": r}, "noise": {"ctr": noise}}, "ctr")
    assert [row["intermediate"] for row in ranked] == ["good", "noise"]


def test_power_law_fit_recovers_exponent():
    x = np.array([1.0, 2, 4, 8, 16, 32])
    growing = fit_power_law(x, 0.3 * x ** 0.5 + 0.1)
    saturating = fit_power_law(x, 0.9 - 0.4 * x ** -0.7)
    assert growing.ok and growing.b == pytest.approx(0.5, abs=0.02) and growing.r2 > 0.999
    assert saturating.ok and saturating.b == pytest.approx(-0.7, abs=0.05) and saturating(np.array([1e6]))[0] == pytest.approx(0.9, abs=0.01)


def test_pairing_narrows_the_ci_when_arms_are_correlated():
    rng = np.random.default_rng(1)
    users = 2000
    base = rng.gamma(2.0, 1.0, users)  # per-user heterogeneity shared by both arms
    control = RatioMetric(num=rng.poisson(base), den=np.full(users, 10.0))
    treatment = RatioMetric(num=rng.poisson(base * 1.05), den=np.full(users, 10.0))
    lift = paired_lift(control, treatment, bootstrap_weights(0, users, 500))
    assert lift.ci_high - lift.ci_low < unpaired_ci_width(control, treatment, 0, 500)
    assert minimum_detectable_effect(lift.se_relative) == pytest.approx(2.8016 * lift.se_relative, rel=1e-3)


def test_markdown_report_renders_tables_images_and_links():
    html = markdown_to_html("# Title\n\ntext with `code` and [a link](x.html)\n\n| a | b |\n| --- | ---: |\n| 1 | <2> |\n\n![plot](plots/p.png)\n", "t")
    assert "<h1>Title</h1>" in html and "<code>code</code>" in html and '<a href="x.html">a link</a>' in html
    assert "<th>a</th>" in html and "<td>&lt;2&gt;</td>" in html and '<img alt="plot" src="plots/p.png">' in html
