"""A real exchange-rate report opened in headless Chromium (from the system's packages) at a
laptop's 1280 px: the page does not run past the window, every image loads from the page alone
(copied away from its plots folder), and the screenshot read back is a rendered page, not a blank."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.support import SMOKE, run_cli

BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine")]
WIDTH, HEIGHT = 1280, 900
# Run in the page once it has loaded: what the test reads back from the DOM.
PROBE = """<script>window.addEventListener('load', () => {
  const imgs = [...document.images];
  document.body.setAttribute('data-probe', JSON.stringify({
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    images: imgs.length, broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).length,
    tables: document.querySelectorAll('table').length}));
});</script>"""


def _chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=5000", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def copied_report(tmp_path_factory):
    """The smoke exchange-rate report.html, copied on its own into an empty folder."""
    out = tmp_path_factory.mktemp("exchange")
    result = run_cli("exchange-rate", "--config", str(SMOKE), "--set", "sweep.moon_posttrain_steps=[]", "--out", str(out / "run"))
    assert result.returncode == 0, result.stderr
    alone = tmp_path_factory.mktemp("alone")
    shutil.copy(out / "run" / "report.html", alone / "report.html")
    return alone / "report.html"


def test_the_report_fits_a_laptop_window_and_its_images_load_on_their_own(copied_report, tmp_path):
    probed = tmp_path / "probed.html"
    probed.write_text(copied_report.read_text().replace("</body>", PROBE + "</body>"))
    dom = _chromium("--dump-dom", probed.as_uri()).stdout
    probe = json.loads(re.search(r"data-probe=\"([^\"]+)\"", dom).group(1).replace("&quot;", '"'))
    assert probe["images"] >= 1 and probe["broken"] == 0, probe
    assert probe["tables"] >= 2 and probe["overflow"] <= 0, probe


def test_the_screenshot_is_a_rendered_page(copied_report, tmp_path):
    from PIL import Image
    shot = tmp_path / "shot.png"
    _chromium(f"--screenshot={shot}", copied_report.as_uri())
    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        grey = image.convert("L")
        dark = sum(grey.histogram()[:128]) / (WIDTH * HEIGHT)  # text, table rules and plot ink
        assert 0.002 < dark < 0.5, dark
