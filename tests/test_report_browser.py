"""The report and its explorer in a real browser (Debian's headless chromium).

One small study (real data when installed, else synthetic CSV) is run once; the tests then
check what a reader sees: no console errors, every figure displayed at a readable size,
every image in the explorer, hover showing the image, the legend hiding exactly one group,
cluster colours following their labels, sorted legends, wheel zoom off, one projection
switch keeping the colouring, selection and tap panels, and nothing fetched from a network.
Screenshots are saved to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from conftest import REAL_DATA, run_cli, split_dataset, synthetic_images, write_csv_dir
from twistfm.report.figures import MIN_SCALE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver are not installed"),
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
N_TRAIN, N_TEST = 3000, 10000


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("study")
    args = ["run", "--epochs", "1", "--n-train", str(N_TRAIN), "--runs", str(tmp / "runs")]
    if not REAL_DATA:
        x, y = synthetic_images(N_TRAIN + N_TEST, 4, seed=9)
        args += ["--csv-dir", str(write_csv_dir(tmp / "csv", split_dataset(x, y, N_TRAIN)))]
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
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _wait(browser, script: str, timeout: float = 60) -> None:
    end = time.time() + timeout
    while not browser.execute_script(script):
        assert time.time() < end, f"timed out waiting for: {script}"
        time.sleep(0.1)


def _open_explorer(browser, report: Path) -> None:
    browser.get(report.as_uri() + "#explorer")
    _wait(browser, "return document.getElementById('twistfm-explorer')?.dataset.ready === 'true'")


def _visible(browser) -> int:
    return browser.execute_script("const b = twistfmExplorer.filter.booleans;"
                                  "return b ? b.filter(Boolean).length : twistfmExplorer.meta.n")


def test_report_loads_without_console_errors_or_network(browser, report):
    browser.get(report.as_uri())
    _wait(browser, "return document.readyState === 'complete'")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "report-top.png"))
    _open_explorer(browser, report)
    log = browser.get_log("browser")
    # Errors of any source, and the page's own warnings (the browser's notes on its software WebGL are neither).
    problems = [e for e in log if e["level"] == "SEVERE" or (e["level"] == "WARNING" and e["source"] == "console-api")]
    assert problems == [], problems
    assert browser.title.startswith("Twisted Fashion-MNIST study")
    assert browser.execute_script("return document.querySelectorAll('nav.toc li').length") >= 14
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in fetched if not u.startswith(("file:", "data:"))] == []


def test_every_figure_is_displayed_at_a_readable_size(browser, report):
    browser.get(report.as_uri())
    _wait(browser, "return document.readyState === 'complete'")
    images = browser.find_elements("css selector", "figure img")
    alts = {img.get_attribute("alt") for img in images}
    for expected in ("Validation and test accuracy per epoch", "PCA, coloured by label", "t-SNE, coloured by label",
                     "The most ambiguous test images", "Random test images of each label", "tfm-small: test confusion matrix",
                     "cm1: loss", "One row per group: its most typical images, then borderline ones",
                     "The criterion over the whole set"):
        assert expected in alts, expected
    for img in images:
        browser.execute_script("arguments[0].scrollIntoView()", img)
        natural, shown = browser.execute_script(
            "return [arguments[0].naturalWidth, arguments[0].getBoundingClientRect().width]", img)
        assert natural > 0 and img.is_displayed(), img.get_attribute("alt")
        if "thumbs" not in (img.find_element("xpath", "../..").get_attribute("class") or ""):
            assert shown / natural >= MIN_SCALE - 1e-3, (img.get_attribute("alt"), natural, shown)


def test_the_answer_shows_groups_of_images_beside_each_label(browser, report):
    browser.get(report.as_uri())
    answers = browser.find_elements("css selector", "#summary .answer")
    assert len(answers) >= 2
    for answer in answers:
        assert answer.find_elements("css selector", ".thumbs img"), answer.text
        assert "Blind:" in answer.text


def test_explorer_holds_every_image_and_hover_shows_it(browser, report):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    _open_explorer(browser, report)
    assert browser.execute_script("return twistfmExplorer.meta.n") == N_TRAIN + N_TEST
    assert browser.execute_script("return twistfmExplorer.source.data.x.length") == N_TRAIN + N_TEST
    plot = browser.find_element("id", "twistfm-plot")
    browser.execute_script("arguments[0].scrollIntoView()", plot)
    rect = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height]",
                                  plot)
    drawn = None
    for fy in (0.5, 0.4, 0.6, 0.3, 0.7):
        for fx in (0.5, 0.4, 0.6, 0.3, 0.7):
            action = ActionBuilder(browser)
            action.pointer_action.move_to_location(int(rect[0] + fx * rect[2]), int(rect[1] + fy * rect[3]))
            action.perform()
            time.sleep(0.3)
            drawn = browser.execute_script("return document.getElementById('twistfm-hover-image').dataset.drawn")
            if drawn:
                break
        if drawn:
            break
    browser.save_screenshot(str(ARTIFACTS / "explorer-hover.png"))
    assert drawn is not None, "hovering the points drew no image"
    ink = browser.execute_script("const c = document.getElementById('twistfm-hover-image');"
                                 "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
                                 "let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++; return dark")
    assert ink > 50, "the hovered image is blank"
    assert "image" in browser.find_element("id", "twistfm-hover-text").text


def test_legend_click_hides_exactly_that_group(browser, report):
    _open_explorer(browser, report)
    chips = browser.find_elements("css selector", "#twistfm-legend .chip")
    assert _visible(browser) == N_TRAIN + N_TEST
    first = chips[0]
    count = int(first.text.rsplit("(", 1)[1].rstrip(")").replace(",", ""))
    first.click()
    assert _visible(browser) == N_TRAIN + N_TEST - count
    browser.find_elements("css selector", "#twistfm-legend .chip")[0].click()
    assert _visible(browser) == N_TRAIN + N_TEST


def test_legends_are_sorted_and_cluster_colours_follow_their_labels(browser, report):
    _open_explorer(browser, report)
    fields = browser.execute_script("return twistfmExplorer.meta.fields")
    by_name = {f["name"]: f for f in fields}
    label_colours = by_name["label"]["colours"]
    for name in ("kmeans", "dbscan", "hdbscan"):
        f = by_name[name]
        for i, colour in enumerate(f["colours"][: len(label_colours)]):
            assert colour == label_colours[i], (name, i)
            assert f["categories"][i] == f"cluster {by_name['label']['categories'][i].split()[-1]}"
    for name in ("label", "kmeans", "class") if "class" in by_name else ("label", "kmeans"):
        select = browser.find_element("id", "twistfm-colour")
        browser.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                               select, name)
        texts = [c.text.rsplit(" (", 1)[0] for c in browser.find_elements("css selector", "#twistfm-legend .chip")]
        keys = [tuple(int(t) if t.isdigit() else t for t in __import__("re").split(r"(\d+)", x)) for x in texts]
        assert keys == sorted(keys), texts


def test_wheel_zoom_is_off_and_switching_projection_keeps_the_colouring(browser, report):
    _open_explorer(browser, report)
    assert browser.execute_script("return twistfmExplorer.plot.toolbar.active_scroll") is None
    colour = browser.find_element("id", "twistfm-colour")
    browser.execute_script("arguments[0].value = 'kmeans'; arguments[0].dispatchEvent(new Event('change'))", colour)
    palette = browser.execute_script("return twistfmExplorer.mapper.palette")
    projection = browser.find_element("id", "twistfm-projection")
    browser.execute_script("arguments[0].value = 'pca'; arguments[0].dispatchEvent(new Event('change'))", projection)
    assert browser.execute_script("return twistfmExplorer.mapper.palette") == palette
    assert colour.get_attribute("value") == "kmeans"
    assert browser.execute_script("return [twistfmExplorer.plot.below[0].axis_label,"
                                  "twistfmExplorer.plot.left[0].axis_label]") == ["PC1", "PC2"]
    browser.save_screenshot(str(ARTIFACTS / "explorer-pca-kmeans.png"))


def test_selection_fills_the_grid_with_counts_and_tap_shows_neighbours(browser, report):
    _open_explorer(browser, report)
    browser.execute_script("twistfmExplorer.source.selected.indices = Array.from({length: 40}, (_, i) => i * 7)")
    panel = browser.find_element("id", "twistfm-selection")
    assert panel.text.startswith("40 images selected")
    assert browser.find_elements("css selector", "#twistfm-selection table.counts")
    total = browser.execute_script("return [...document.querySelectorAll('#twistfm-selection table.counts')][0]"
                                   ".querySelectorAll('tr').length")
    assert total >= 2
    browser.execute_script("twistfmExplorer.source.selected.indices = [5]")
    assert "nearest images" in panel.text
    assert browser.find_elements("id", "twistfm-neighbours")
    browser.save_screenshot(str(ARTIFACTS / "explorer-neighbours.png"))
