"""The report in a real browser: how fast it is readable, how fast the explorer is interactive, how big it is.

Usage: python bench/report_bench.py REPORT.html [--repeat 3]

Opens the report in Debian's headless Chromium (1400 x 900) and prints, for each repeat:

- first paint and first contentful paint of the report, and its load event;
- after navigating straight to the explorer (``#explorer``): the time until it is
  interactive (every point drawn, every control wired), and the longest main-thread task
  before and after that moment (long tasks are those over 50 ms);
- a hover's response: from the hover callback to the image drawn, the first time (its
  sprite sheet decoded) and again;
then the file's size split into figures, explorer data, sprite sheets and scripts, and
the number of points.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

_LONGTASKS = """
window.__longtasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]); })
  .observe({type: "longtask", buffered: true});
"""

_HOVER = """
const done = arguments[arguments.length - 1];
const E = twistfmExplorer, i = arguments[0];
const canvas = document.getElementById("twistfm-hover-image");
const start = performance.now();
E.hovered = -1;
E.hover({index: {indices: [i]}, geometry: {x: E.source.data.x[i], y: E.source.data.y[i]}});
(function wait() {
  if (canvas.dataset.drawn === String(i)) done(performance.now() - start); else setTimeout(wait, 1);
})();
"""


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,900",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='chrome-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_script_timeout(120)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _LONGTASKS})
    return driver


def sizes(path: Path) -> dict[str, float]:
    text = path.read_text(encoding="utf-8")
    mb = 1e6
    sprites = sum(len(m) for m in re.findall(r'<script type="text/plain" id="twistfm-sprite-\d+">[^<]*', text))
    data = sum(len(m) for m in re.findall(r'<script type="application/json" id="twistfm-explorer-[a-z]+">[^<]*', text))
    figures = sum(len(m) for m in re.findall(r'src="data:image/png;base64,[^"]*"', text))
    scripts = sum(len(m) for m in re.findall(r"<script>.*?</script>", text, flags=re.S))
    return {"total": len(text.encode()) / mb, "figures": figures / mb, "explorer data": data / mb,
            "sprite sheets": sprites / mb, "scripts": scripts / mb}


def measure(driver, url: str) -> dict[str, float]:
    driver.get(url)
    while driver.execute_script("return document.readyState") != "complete":
        time.sleep(0.05)
    paint = driver.execute_script("return Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, "
                                  "e.startTime]))")
    load = driver.execute_script("const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd")
    driver.get(url + "#explorer")
    end = time.time() + 120
    while not driver.execute_script("return !!(window.twistfmExplorer && twistfmExplorer.ready)"):
        assert time.time() < end, "the explorer never became interactive"
        time.sleep(0.05)
    ready = driver.execute_script("return twistfmExplorer.ready")
    time.sleep(3)  # let anything scheduled after the explorer is ready run, to see it in the long tasks
    tasks = driver.execute_script("return window.__longtasks")
    before = max((d for s, d in tasks if s < ready), default=0.0)
    after = max((d for s, d in tasks if s + d > ready), default=0.0)
    n = driver.execute_script("return twistfmExplorer.meta.n")
    cold = driver.execute_async_script(_HOVER, n - 1)
    warm = statistics.median(driver.execute_async_script(_HOVER, n - 1 - k) for k in range(1, 6))
    return {"first paint": paint.get("first-paint", float("nan")),
            "first contentful paint": paint.get("first-contentful-paint", float("nan")), "load event": load,
            "explorer interactive": ready, "longest task before": before, "longest task after": after,
            "hover (first, decoding its sheet)": cold, "hover (again)": warm, "points": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = args.report.resolve()
    for name, value in sizes(path).items():
        print(f"size, {name}: {value:.1f} MB")
    driver = browser()
    try:
        runs = [measure(driver, path.as_uri()) for _ in range(args.repeat)]
    finally:
        driver.quit()
    for key in runs[0]:
        values = [r[key] for r in runs]
        unit = "" if key == "points" else " ms"
        print(f"{key}: " + ", ".join(f"{v:,.0f}{unit}" for v in values) + f" (median {statistics.median(values):,.0f}{unit})")


if __name__ == "__main__":
    main()
