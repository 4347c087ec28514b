"""The report and its explorer in a real browser (Debian's headless chromium).

One small study (real data when installed, else synthetic CSV) is run once; the tests then
drive the page as a reader would (click, drag, type, keys) and check what it then shows:
no console errors, nothing fetched from a network, every figure displayed at a readable
size, the answer's numbers agreeing with the sections, every image in the explorer, hover,
the legend and the filters (their counts, the selection and the density following them),
box select by default and a lasso in one selection, tap ringing a point and its neighbours
with distances, search, "show only", CSV export, enlarging a thumbnail, keyboard focus, the
colours' distances and contrast, and the phone layout. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from conftest import REAL_DATA, run_cli, split_dataset, start_chromium, synthetic_images, write_csv_dir
from twistfm.report.figures import MIN_SCALE

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver are not installed"),
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
N_TRAIN, N_TEST = 3000, 3000


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    given = os.environ.get("TWISTFM_TEST_REPORT")  # a report built before (to check the tests against a broken one)
    if given:
        return Path(given)
    tmp = tmp_path_factory.mktemp("study")
    args = ["run", "--epochs", "1", "--n-train", str(N_TRAIN), "--n-test", str(N_TEST), "--runs", str(tmp / "runs")]
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
    driver = start_chromium(tmp_path_factory.mktemp("chrome-profile"), **{"goog:loggingPrefs": {"browser": "ALL"}})
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _wait(browser, script: str, timeout: float = 60) -> None:
    end = time.time() + timeout
    while not browser.execute_script(script):
        assert time.time() < end, f"timed out waiting for: {script}"
        time.sleep(0.1)


def _poll(browser, script: str, timeout: float):
    """The script's first truthy value within ``timeout`` seconds, else None (for trying several places in turn)."""
    end = time.time() + timeout
    while time.time() < end:
        value = browser.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    return None


def _open_explorer(browser, report: Path) -> None:
    """Load the report afresh (a new page, not a jump within the old one) at its explorer, and wait until it is ready."""
    browser.get("about:blank")
    browser.get(report.as_uri() + "#explorer")
    _wait(browser, "return document.getElementById('twistfm-explorer')?.dataset.ready === 'true'")


def _visible(browser) -> int:
    """The points drawn on the map (both renderers' filters), which must be the count the explorer says it shows."""
    drawn, shown = browser.execute_script(
        "const E = twistfmExplorer, n = (f) => f.booleans ? f.booleans.filter(Boolean).length : E.meta.n;"
        "return [n(E.frontFilter) + n(E.backFilter), E.shown]")
    assert drawn == shown
    return drawn


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
                     "The most ambiguous test images", "Random test images of each label",
                     "tfm-small: test confusion matrix: counts, then the share of each true label's images",
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
        thumbs = answer.find_elements("css selector", ".thumbs img")
        assert thumbs, answer.text
        assert all(img.get_attribute("alt").startswith("label ") for img in thumbs)  # read out by screen readers
        assert "Found blind" in answer.text


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
            drawn = _poll(browser, "return document.getElementById('twistfm-hover-image').dataset.drawn", 1.0)
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
            assert f["categories"][i] == "cluster " + re.match(r"label (\d+)", by_name["label"]["categories"][i])[1]
    for name in ("label", "kmeans", "class") if "class" in by_name else ("label", "kmeans"):
        select = browser.find_element("id", "twistfm-colour")
        browser.execute_script("arguments[0].value = arguments[1]; arguments[0].dispatchEvent(new Event('change'))",
                               select, name)
        texts = [c.text.rsplit(" (", 1)[0] for c in browser.find_elements("css selector", "#twistfm-legend .chip")]
        keys = [tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", x)) for x in texts]
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


def test_selection_fills_the_grid_with_counts(browser, report):
    _open_explorer(browser, report)
    browser.execute_script("twistfmExplorer.source.selected.indices = Array.from({length: 40}, (_, i) => i * 7)")
    panel = browser.find_element("id", "twistfm-selection")
    _wait(browser, "return document.getElementById('twistfm-selection-count')?.textContent.startsWith('40 images selected')",
          10)
    tables = browser.find_elements("css selector", "#twistfm-selection table.counts")
    assert tables
    rows = tables[0].find_elements("css selector", "tr")[1:]
    assert sum(int(r.find_elements("css selector", "td")[1].text.replace(",", "")) for r in rows) == 40
    assert browser.find_elements("id", "twistfm-grid")
    assert panel.is_displayed()


# ---------------------------------------------------------------- driving the explorer as a user


def _plot_box(browser) -> list[float]:
    """The plot's frame (where the points are) in viewport pixels: left, top, width, height."""
    return browser.execute_script("const v = twistfmExplorer.plotView, r = v.el.getBoundingClientRect(), b = v.frame.bbox;"
                                  "return [r.left + b.left, r.top + b.top, b.width, b.height]")


def _drag(browser, points: list[tuple[float, float]]) -> None:
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    action = ActionBuilder(browser, duration=20)
    action.pointer_action.move_to_location(int(points[0][0]), int(points[0][1]))
    action.pointer_action.pointer_down()
    for x, y in points[1:]:
        action.pointer_action.move_to_location(int(x), int(y))
    action.pointer_action.pointer_up()
    action.perform()


def _ready_at_plot(browser, report: Path, colouring: str = "label") -> list[float]:
    """Open the explorer afresh, colour it, scroll the plot fully into view; the plot frame's box."""
    from selenium.webdriver.support.ui import Select

    _open_explorer(browser, report)
    Select(browser.find_element("id", "twistfm-colour")).select_by_value(colouring)
    browser.execute_script("document.getElementById('twistfm-plot').scrollIntoView({block: 'center'})")
    return _plot_box(browser)


def _count(browser) -> int:
    """The count the selection panel states (its first number)."""
    _wait(browser, "return !!document.getElementById('twistfm-selection-count')", 10)
    text = browser.find_element("id", "twistfm-selection-count").text
    return int(re.match(r"([\d,]+) images", text)[1].replace(",", ""))


def _table(browser, field: str) -> dict[str, int]:
    rows = browser.find_elements("css selector", f"#twistfm-selection table.counts[data-field='{field}'] tr")[1:]
    return {r.find_elements("css selector", "td")[0].text: int(r.find_elements("css selector", "td")[1].text.replace(",", ""))
            for r in rows}


def _chips(browser, where: str) -> dict[str, int]:
    """Chip name -> the count it shows, in the legend ('#twistfm-legend') or one filter ('[data-field=...]')."""
    out = {}
    for chip in browser.find_elements("css selector", f"{where} .chip"):
        text = chip.get_attribute("textContent")
        name, count = text.rsplit(" (", 1)
        out[name] = int(count.rstrip(")").replace(",", ""))
    return out


def _box_select(browser, box, fx=(0.15, 0.85), fy=(0.15, 0.85)) -> int:
    x, y, w, h = box
    _drag(browser, [(x + fx[0] * w, y + fy[0] * h), (x + 0.5 * (fx[0] + fx[1]) * w, y + 0.5 * (fy[0] + fy[1]) * h),
                    (x + fx[1] * w, y + fy[1] * h)])
    _wait(browser, "return twistfmExplorer.source.selected.indices.length > 0", 20)
    return _count(browser)


def test_selection_and_chip_counts_follow_the_filters(browser, report):
    box = _ready_at_plot(browser, report)
    selected = _box_select(browser, box)
    assert 0 < selected == browser.execute_script("return twistfmExplorer.source.selected.indices.length")
    by_label = _table(browser, "label")
    assert sum(by_label.values()) == selected
    hidden = max(by_label, key=by_label.get)  # hide the label with most images in the selection
    chip = browser.find_element("xpath", f"//div[@id='twistfm-legend']//button[starts-with(., '{hidden} (')]")
    chip.click()
    _wait(browser, "return document.getElementById('twistfm-selection-count').textContent.startsWith("
                   f"'{selected - by_label[hidden]:,} images')", 10)
    assert _count(browser) == selected - by_label[hidden]
    assert hidden not in _table(browser, "label")
    assert f"{by_label[hidden]:,} more are hidden by the filters" in browser.find_element("id", "twistfm-selection-count").text
    shown = _visible(browser)
    # Every filter's chips now count only the images shown (the hidden label's own chip keeps its count, struck out).
    for field in ("predicted", "correct"):
        assert sum(_chips(browser, f"#twistfm-filters details[data-field='{field}']").values()) == shown, field
    legend = _chips(browser, "#twistfm-legend")
    assert sum(v for k, v in legend.items() if k != hidden) == shown
    browser.save_screenshot(str(ARTIFACTS / "explorer-filtered-selection.png"))
    browser.find_element("xpath", f"//div[@id='twistfm-legend']//button[starts-with(., '{hidden} (')]").click()
    _wait(browser, f"return document.getElementById('twistfm-selection-count').textContent.startsWith('{selected:,} images')",
          10)


def test_box_select_is_the_default_drag_and_a_lasso_selects_once_inside_its_path(browser, report):
    box = _ready_at_plot(browser, report)
    pressed = {b.text: b.get_attribute("aria-pressed") for b in browser.find_elements("css selector", "[data-tool]")}
    assert pressed["Box select"] == "true" and pressed["Pan"] == "false"
    browser.find_element("css selector", "[data-tool=explorer-lasso]").click()
    pressed = {b.text: b.get_attribute("aria-pressed") for b in browser.find_elements("css selector", "[data-tool]")}
    assert pressed["Lasso select"] == "true" and pressed["Box select"] == "false"
    browser.execute_script("window.__changes = 0; twistfmExplorer.source.selected.connect("
                           "twistfmExplorer.source.selected.properties.indices.change, () => window.__changes++)")
    x, y, w, h = box
    ring = [(x + w * (0.5 + 0.3 * math.cos(2 * math.pi * k / 20)), y + h * (0.5 + 0.3 * math.sin(2 * math.pi * k / 20)))
            for k in range(21)]
    _drag(browser, ring)
    _wait(browser, "return twistfmExplorer.source.selected.indices.length > 0", 20)
    assert browser.execute_script("return window.__changes") == 1  # one selection for the gesture, none per move
    outside = browser.execute_script("""
        const E = twistfmExplorer, v = E.plotView, r = v.el.getBoundingClientRect(), ring = arguments[0];
        const inside = (px, py) => { let c = false;
          for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
            const [xi, yi] = ring[i], [xj, yj] = ring[j];
            if ((yi > py) !== (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi) c = !c; }
          return c; };
        return [...E.source.selected.indices].filter((i) => !inside(r.left + v.frame.x_scale.compute(E.source.data.x[i]),
                                                                   r.top + v.frame.y_scale.compute(E.source.data.y[i])))
                                             .length""", [[int(a), int(b)] for a, b in ring])
    assert outside <= 2  # pointer positions are whole pixels
    assert _count(browser) == browser.execute_script("return twistfmExplorer.source.selected.indices.length")
    browser.find_element("css selector", "[data-tool=explorer-box]").click()


def test_tap_rings_the_point_and_its_neighbours_and_lists_their_distances(browser, report):
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    _ready_at_plot(browser, report)
    i, sx, sy = browser.execute_script("""
        const E = twistfmExplorer, v = E.plotView, r = v.el.getBoundingClientRect(), n = E.meta.n;
        for (let i = Math.floor(n / 3); i < n; i++) {
          const sx = r.left + v.frame.x_scale.compute(E.source.data.x[i]);
          const sy = r.top + v.frame.y_scale.compute(E.source.data.y[i]);
          if (sx > r.left + v.frame.bbox.left + 20 && sx < r.left + v.frame.bbox.right - 20 &&
              sy > r.top + v.frame.bbox.top + 20 && sy < r.top + v.frame.bbox.bottom - 20) return [i, sx, sy];
        }""")
    action = ActionBuilder(browser)
    action.pointer_action.move_to_location(int(round(sx)), int(round(sy)))
    action.pointer_action.click()
    action.perform()
    _wait(browser, "return !!document.getElementById('twistfm-neighbour-list')", 10)
    tapped = browser.execute_script("return twistfmExplorer.state.tapped")
    assert browser.execute_script("return twistfmExplorer.marks.data.x[0] === twistfmExplorer.source.data.x[arguments[0]]",
                                  tapped)
    k = browser.execute_script("return twistfmExplorer.meta.neighbours_k")
    marks = browser.execute_script("const d = twistfmExplorer.marks.data; return [d.x.length, d.text, d.colour]")
    assert marks[0] == k + 1 and marks[1] == [""] + [str(r + 1) for r in range(k)]
    assert marks[2][0] != marks[2][1]  # the tapped point is ringed apart from its neighbours
    # The point under the pointer (or one drawn on the same pixel) is the one ringed and described.
    near = browser.execute_script("const E = twistfmExplorer, a = arguments[0], b = arguments[1];"
                                  "return Math.hypot(E.source.data.x[a] - E.source.data.x[b], E.source.data.y[a] - "
                                  "E.source.data.y[b]) / (E.plot.x_range.end - E.plot.x_range.start)", i, tapped)
    assert near < 0.01, (i, tapped)
    items = browser.find_elements("css selector", "#twistfm-neighbour-list li")
    assert len(items) == k
    distances = [float(re.search(r"distance ([\d.]+)", li.text)[1]) for li in items]
    assert distances == sorted(distances) and distances[-1] > 0
    expected = browser.execute_script("const E = twistfmExplorer, i = arguments[0], k = E.meta.neighbours_k;"
                                      "return Array.from({length: k}, (_, j) => E.neighbours[i * k + j])", tapped)
    assert [int(li.get_attribute("data-index")) for li in items] == expected
    # Nothing fades: a tap marks, it does not select.
    assert browser.execute_script("return twistfmExplorer.source.selected.indices.length") == 0
    panel_top = browser.execute_script("return document.getElementById('twistfm-selection').getBoundingClientRect().top")
    assert panel_top < browser.execute_script("return window.innerHeight")  # the answer is in view, not below the fold
    browser.save_screenshot(str(ARTIFACTS / "explorer-neighbours.png"))


def _search(browser, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = browser.find_element("id", "twistfm-search")
    field.clear()
    field.send_keys(text, Keys.ENTER)


def test_search_finds_an_image_a_label_a_class_and_a_group(browser, report):
    _ready_at_plot(browser, report)
    _search(browser, "test 5")
    _wait(browser, "return !!document.getElementById('twistfm-neighbour-list')", 10)
    assert browser.find_element("id", "twistfm-selection-count").text.startswith("test image 5 ")
    assert browser.execute_script("return twistfmExplorer.marks.data.x.length") > 1
    legend = _chips(browser, "#twistfm-legend")
    label = next(iter(legend))
    number = re.match(r"label \d+", label)[0]
    _search(browser, number)
    _wait(browser, "return document.getElementById('twistfm-selection-count')?.textContent.includes('match')", 10)
    assert _count(browser) == legend[label]
    assert _table(browser, "label") == {label: legend[label]}
    fields = {f["name"]: f for f in browser.execute_script("return twistfmExplorer.meta.fields")}
    for name in ("class", "group"):
        if name not in fields:
            continue
        from selenium.webdriver.support.ui import Select

        Select(browser.find_element("id", "twistfm-colour")).select_by_value(name)
        chips = _chips(browser, "#twistfm-legend")
        category = fields[name]["categories"][-1]
        query = category if name == "class" else re.match(r"label \d+ · group \d+", category)[0].replace(" · ", " ")
        _search(browser, query)
        _wait(browser, f"return document.getElementById('twistfm-selection-count')?.textContent.includes({query!r})", 10)
        assert _count(browser) == chips[category], (name, query)
    _search(browser, "no such thing")
    _wait(browser, "return document.getElementById('twistfm-selection').textContent.includes('Nothing shown matches')", 10)


def test_show_only_the_selection_and_download_it_as_csv(browser, report, tmp_path):
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    box = _ready_at_plot(browser, report)
    selected = _box_select(browser, box, (0.3, 0.7), (0.3, 0.7))
    ids = sorted(browser.execute_script("return [...twistfmExplorer.source.selected.indices]"))
    browser.find_element("id", "twistfm-only").click()
    _wait(browser, f"return twistfmExplorer.shown === {selected}", 10)
    assert _visible(browser) == selected
    assert sum(_chips(browser, "#twistfm-legend").values()) == selected
    browser.find_element("id", "twistfm-csv").click()
    target = tmp_path / "twistfm-selection.csv"
    end = time.time() + 20
    while not (target.is_file() and target.read_text(encoding="utf-8").endswith("\n")):
        assert time.time() < end, "the CSV was not downloaded"
        time.sleep(0.1)
    rows = list(csv.DictReader(target.read_text(encoding="utf-8").splitlines()))
    assert [int(r["id"]) for r in rows] == ids
    labels = browser.execute_script("const E = twistfmExplorer, f = E.meta.fields[0];"
                                    "return arguments[0].map((i) => f.categories[E.codes.label[i]])", ids[:20])
    assert [r["label"] for r in rows[:20]] == labels
    assert {r["split"] for r in rows} <= {"train", "test"}
    browser.find_element("id", "twistfm-show-all").click()
    _wait(browser, f"return twistfmExplorer.shown === {N_TRAIN + N_TEST}", 10)


def test_clicking_a_thumbnail_enlarges_it_and_escape_closes_it(browser, report):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    box = _ready_at_plot(browser, report)
    _box_select(browser, box)
    grid = browser.find_element("id", "twistfm-grid")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", grid)
    first, second = browser.execute_script("const s = [...twistfmExplorer.source.selected.indices].sort((a, b) => a - b);"
                                           "return [s[0], s[1]]")
    width = grid.rect["width"]
    offset = (int(-width / 2 + width / 8 * 1.5), int(-grid.rect["height"] / 2 + 5))  # the second image of the first row
    ActionChains(browser).move_to_element_with_offset(grid, *offset).click().perform()
    _wait(browser, "return document.getElementById('twistfm-enlarged').open", 10)
    _wait(browser, f"return document.getElementById('twistfm-enlarged').dataset.drawn === '{second}'", 10)
    assert browser.find_element("css selector", "#twistfm-enlarged p").text.startswith(
        browser.execute_script("return `${twistfmExplorer.meta.split_names[twistfmExplorer.split[arguments[0]]]} image "
                               "${twistfmExplorer.index[arguments[0]]}`", second))
    size = browser.execute_script("return document.querySelector('#twistfm-enlarged canvas').getBoundingClientRect().width")
    assert size >= 200
    del first
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    _wait(browser, "return !document.getElementById('twistfm-enlarged').open", 10)


def test_density_view_counts_the_images_shown(browser, report):
    _ready_at_plot(browser, report)
    browser.find_element("id", "twistfm-density").click()
    _wait(browser, "return twistfmExplorer.densityRenderer.visible && twistfmExplorer.densityTotal > 0", 10)
    assert browser.execute_script("return twistfmExplorer.densityTotal") == N_TRAIN + N_TEST
    chip = browser.find_elements("css selector", "#twistfm-legend .chip")[0]
    hidden = int(chip.text.rsplit("(", 1)[1].rstrip(")").replace(",", ""))
    chip.click()
    _wait(browser, f"return twistfmExplorer.densityTotal === {N_TRAIN + N_TEST - hidden}", 10)
    browser.save_screenshot(str(ARTIFACTS / "explorer-density.png"))
    browser.find_elements("css selector", "#twistfm-legend .chip")[0].click()
    browser.find_element("id", "twistfm-density").click()
    _wait(browser, "return !twistfmExplorer.densityRenderer.visible", 10)


def test_enter_on_a_legend_chip_toggles_it_and_keeps_the_focus(browser, report):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _ready_at_plot(browser, report)
    chip = browser.find_elements("css selector", "#twistfm-legend .chip")[1]
    code = chip.get_attribute("data-code")
    browser.execute_script("arguments[0].focus()", chip)
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    focused = "const a = document.activeElement; return [a.closest('#twistfm-legend') !== null, a.dataset.code, " \
              "a.getAttribute('aria-pressed')]"
    _wait(browser, f"const a = document.activeElement; return a.dataset.code === '{code}' && "
                   "a.getAttribute('aria-pressed') === 'false'", 10)
    assert browser.execute_script(focused) == [True, code, "false"]
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    _wait(browser, "return document.activeElement.getAttribute('aria-pressed') === 'true'", 10)
    assert browser.execute_script(focused) == [True, code, "true"]
    assert browser.find_element("id", "twistfm-hover-text").get_attribute("aria-live") == "polite"


def test_grey_points_are_drawn_under_the_coloured_ones(browser, report):
    _ready_at_plot(browser, report)
    fields = {f["name"]: f for f in browser.execute_script("return twistfmExplorer.meta.fields")}
    name = "group" if "group" in fields else "dbscan"
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("id", "twistfm-colour")).select_by_value(name)
    order, front, back, none = browser.execute_script("""
        const E = twistfmExplorer, codes = E.codes[arguments[0]], r = E.plot.renderers.map((x) => x.name);
        const count = (f, want) => f.booleans.reduce((n, b, i) => n + (b ? 1 : 0) * ((codes[i] < 0) === want ? 1 : 0), 0);
        return [[r.indexOf('explorer-back'), r.indexOf('explorer-front')],
                [count(E.frontFilter, true), count(E.frontFilter, false)],
                [count(E.backFilter, true), count(E.backFilter, false)], codes.filter((c) => c < 0).length]""", name)
    assert order[0] < order[1]  # the grey renderer is drawn first, so under the coloured points
    assert front == [0, N_TRAIN + N_TEST - none] and back == [none, 0]


def test_colours_shown_together_are_distinct_and_visible(browser, report):
    from twistfm.report.palette import BACKGROUND, MIN_CONTRAST, MIN_DELTA_E, contrast_ratio, delta_e

    _open_explorer(browser, report)
    for f in browser.execute_script("return twistfmExplorer.meta.fields"):
        colours = f["colours"]
        assert all(contrast_ratio(c, BACKGROUND) >= MIN_CONTRAST for c in colours), f["name"]
        gaps = [delta_e(a, b) for a, b in itertools.combinations(colours, 2)]
        assert not gaps or min(gaps) >= MIN_DELTA_E, (f["name"], min(gaps))


def test_the_answer_agrees_with_the_sections_and_names_reach_the_explorer(browser, report):
    _open_explorer(browser, report)
    card = int(browser.find_element("css selector", ".card[data-fact=kinds] b").text)
    thumbs = len(browser.find_elements("css selector", "#summary .answer .thumbs figure"))
    inside = int(browser.find_element("css selector", "#inside b[data-fact=kinds]").text)
    assert card == thumbs == inside
    meanings = [m.text for m in browser.find_elements("css selector", "#summary .answer .meaning")]
    legend = list(_chips(browser, "#twistfm-legend"))
    assert [m.replace(" = ", " · ", 1) for m in meanings] == legend
    for text in browser.find_elements("css selector", "#twistfm-legend .chip"):
        count = text.text.rsplit("(", 1)[1].rstrip(")")
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", count), count
    intro = browser.find_element("css selector", "#summary").text
    assert "a percentage is the share of that class's images that carry the label" in intro
    strip = browser.find_element("css selector", "#summary .thumbs img")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", strip)
    small = strip.rect["height"]
    strip.click()
    _wait(browser, "return document.querySelector('#summary .thumbs img').getAttribute('aria-pressed') === 'true'", 10)
    assert strip.rect["height"] >= 3 * small  # enlarged in place
    assert strip.rect["x"] + strip.rect["width"] <= browser.execute_script("return window.innerWidth")


def test_phone_layout_fits_the_screen(browser, report):
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
    try:
        _open_explorer(browser, report)
        browser.execute_script("document.getElementById('twistfm-plot').scrollIntoView()")
        width = browser.execute_script("return window.innerWidth")
        assert width == 390
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        plot, side = browser.execute_script(
            "const p = document.getElementById('twistfm-plot').getBoundingClientRect(),"
            " s = document.getElementById('twistfm-side').getBoundingClientRect();"
            "return [[p.left, p.right, p.bottom], [s.left, s.right, s.top]]")
        assert plot[0] >= 0 and plot[1] <= width and plot[1] - plot[0] >= 0.85 * width
        assert side[2] >= plot[2] - 1 and side[1] <= width  # the panels go below the plot, not beside it
        for element in browser.find_elements("css selector", "main table, main pre, figure, .card, .explorer-controls"):
            right = browser.execute_script("const r = arguments[0].getBoundingClientRect();"
                                           "return arguments[0].closest('.table-wrap, pre') ? "
                                           "arguments[0].closest('.table-wrap, pre').getBoundingClientRect().right : r.right",
                                           element)
            assert right <= width + 0.5, element.get_attribute("outerHTML")[:120]
        boxes = browser.execute_script("return [...document.querySelectorAll('nav.toc li')].map((li) => {"
                                       "const r = li.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]})")
        for a, b in itertools.combinations(boxes, 2):
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)  # contents entries never overlap
        browser.save_screenshot(str(ARTIFACTS / "phone-explorer.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
