"""The report and explorer in a real browser (Debian's headless chromium).

One small study (real data when installed, else synthetic CSV) is run once; the tests then
check that the report loads with no console errors, every figure is displayed, the
explorer holds every test image, and hovering a point shows its image. Screenshots are
saved to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from conftest import REAL_DATA, run_cli, split_dataset, synthetic_images, write_csv_dir

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver are not installed"),
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
N_TEST = 10000

# Finds elements through Bokeh's shadow roots.
DEEP = """
const selector = arguments[0];
const out = [];
function walk(root) {
  for (const el of root.querySelectorAll(selector)) out.push(el);
  for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
}
walk(document);
return out;
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("study")
    args = ["run", "--epochs", "1", "--n-train", "3000", "--runs", str(tmp / "runs")]
    if not REAL_DATA:
        x, y = synthetic_images(3000 + N_TEST, 4, seed=9)
        ds = split_dataset(x, y, 3000)
        args += ["--csv-dir", str(write_csv_dir(tmp / "csv", ds))]
    result = run_cli(*args, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    path = Path(result.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert path.is_file()
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chrome-profile')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, report: Path):
    browser.get(report.as_uri())
    for _ in range(120):
        if browser.execute_script("return document.readyState") == "complete" and browser.execute_script(
                "return window.Bokeh !== undefined && Bokeh.documents.length > 0"):
            break
        time.sleep(0.5)
    time.sleep(2)


def test_report_loads_without_console_errors(browser, report):
    _open(browser, report)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report-top.png"))
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors
    assert browser.title.startswith("Twisted Fashion-MNIST study")
    assert browser.execute_script("return document.querySelectorAll('nav.toc li').length") >= 12


def test_every_figure_is_displayed(browser, report):
    _open(browser, report)
    images = browser.find_elements("css selector", "figure img")
    alts = {img.get_attribute("alt") for img in images}
    for expected in ("Validation and test accuracy per epoch", "PCA, coloured by label", "t-SNE, coloured by K-means cluster",
                     "PCA, coloured by DBSCAN cluster", "Random images per label", "Mean image per K-means cluster",
                     "Images of each original class (columns) per label (rows)", "tfm-small: test confusion matrix",
                     "cm1: loss", "k-distance curve"):
        assert expected in alts, expected
    for img in images:
        browser.execute_script("arguments[0].scrollIntoView()", img)
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img), \
            img.get_attribute("alt")
        assert img.is_displayed()


def test_explorer_holds_every_test_image_and_hover_shows_it(browser, report):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    _open(browser, report)
    count = browser.execute_script(
        "const m = [...Bokeh.documents[0].all_models].find(m => m.data !== undefined && m.data.img !== undefined);"
        "return m ? m.data.img.length : -1;")
    assert count == N_TEST
    browser.execute_script("document.getElementById('explorer').scrollIntoView()")
    time.sleep(1)
    canvases = [c for c in browser.execute_script(DEEP, "canvas") if c.size["width"] > 400 and c.is_displayed()]
    assert canvases, "the explorer draws on a canvas"
    rect = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height]",
                                  canvases[0])
    found = None
    for fy in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
        for fx in (0.4, 0.3, 0.5, 0.2, 0.6, 0.1, 0.7):
            action = ActionBuilder(browser)
            action.pointer_action.move_to_location(int(rect[0] + fx * rect[2] * 0.8), int(rect[1] + fy * rect[3]))
            action.perform()
            time.sleep(0.3)
            tips = [t for t in browser.execute_script(DEEP, 'img[width="84"]') if t.is_displayed()]
            if tips:
                found = tips[0]
                break
        if found:
            break
    browser.save_screenshot(str(ARTIFACTS / "explorer-hover.png"))
    assert found is not None, "hovering the points showed no image"
    assert found.get_attribute("src").startswith("data:image/png;base64,")
    assert browser.execute_script("return arguments[0].naturalWidth", found) == 28
