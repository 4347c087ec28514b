"""The report in a real browser: how fast the explorer becomes interactive and answers each gesture, and how big it is.

Usage: python bench/report_bench.py REPORT.html [--repeat 3]

Opens the report in headless Chromium (1400 x 900, software rendering: ``--disable-gpu``)
and prints, for each repeat, in milliseconds:

- interactive: from scrolling the explorer into view to every point drawn and every
  control wired (the explorer is built only when it is seen);
- box select: from releasing a dragged box to the plot repainted and the panel filled;
- lasso: a 20-step lasso (lasso tool chosen with its button), from pressing to the plot
  repainted and the panel filled, and from releasing to that;
- colour switch, filter toggle (a legend chip clicked), search (a class typed and Enter):
  from the action to the plot repainted and the panels filled;
- the longest main-thread task after the explorer is interactive (targets: none over 1 s);
then the file's size split into figures, explorer data, sprite sheets and scripts, the
number of points, the CPU and the machine's load. The targets are issue 24's: interactive
<= 3 s, box select <= 1 s, lasso <= 1.5 s, colour switch and filter toggle <= 0.5 s,
search <= 0.3 s, report <= 35 MB.

"Repainted" is the end of the last Bokeh paint after the action, once nothing has been
painted or changed for 400 ms (that quiet time is not counted).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

_HOOKS = """
window.__longtasks = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longtasks.push([e.startTime, e.duration]); })
  .observe({type: "longtask", buffered: true});
window.__last = 0;
new MutationObserver(() => { window.__last = performance.now(); })
  .observe(document, {subtree: true, childList: true, characterData: true});
window.addEventListener("pointerup", () => { window.__up = performance.now(); }, true);
window.addEventListener("pointerdown", () => { window.__down = performance.now(); }, true);
"""

_WATCH_PAINTS = """
const view = twistfmExplorer.plotView;
if (!view.__watched) {
  const paint = view.paint.bind(view);
  view.paint = function () { const r = paint(); window.__last = Math.max(window.__last, performance.now()); return r; };
  view.__watched = true;
}
"""

_SETTLED = """
const done = arguments[arguments.length - 1], start = arguments[0];
(function wait() {
  const now = performance.now();
  if (window.__last > start && now - window.__last > 400) done(window.__last - start); else setTimeout(wait, 20);
})();
"""

_TIMED = """
const done = arguments[arguments.length - 1];
const start = performance.now();
%s
done(start);
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
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": _HOOKS})
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


def _settle(driver, start: float) -> float:
    return driver.execute_async_script(_SETTLED, start)


def _timed(driver, action_js: str) -> float:
    start = driver.execute_async_script(_TIMED % action_js)
    return _settle(driver, start)


def _plot_box(driver) -> list[float]:
    return driver.execute_script("const v = twistfmExplorer.plotView, r = v.el.getBoundingClientRect(), b = v.frame.bbox;"
                                 "return [r.left + b.left, r.top + b.top, b.width, b.height]")


def _drag(driver, points: list[tuple[float, float]]) -> tuple[float, float]:
    """Press at the first point, move through the others, release; the times (page clock) of press and release."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder

    action = ActionBuilder(driver, duration=10)
    mouse = action.pointer_action
    mouse.move_to_location(int(points[0][0]), int(points[0][1]))
    mouse.pointer_down()
    for x, y in points[1:]:
        mouse.move_to_location(int(x), int(y))
    mouse.pointer_up()
    action.perform()
    return driver.execute_script("return [window.__down, window.__up]")


def measure(driver, url: str) -> dict[str, float]:
    import math

    driver.get(url)
    while driver.execute_script("return document.readyState") != "complete":
        time.sleep(0.05)
    start = driver.execute_script("const t = performance.now();"
                                  "document.getElementById('twistfm-explorer').scrollIntoView(); return t")
    end = time.time() + 120
    while not driver.execute_script("return !!(window.twistfmExplorer && twistfmExplorer.ready)"):
        assert time.time() < end, "the explorer never became interactive"
        time.sleep(0.05)
    ready = driver.execute_script("return twistfmExplorer.ready")
    driver.execute_script(_WATCH_PAINTS)
    driver.execute_script("window.scrollTo(0, document.getElementById('twistfm-explorer').getBoundingClientRect().top"
                          " + window.scrollY - 10)")
    out = {"interactive after scrolling into view": ready - start}
    x, y, w, h = _plot_box(driver)
    down, up = _drag(driver, [(x + w * 0.3, y + h * 0.3), (x + w * 0.4, y + h * 0.4), (x + w * 0.55, y + h * 0.6)])
    out["box select (from release)"] = _settle(driver, up)
    out["box selected images"] = driver.execute_script("return twistfmExplorer.source.selected.indices.length")
    driver.execute_script("document.querySelector('[data-tool=explorer-lasso]').click()")
    ring = [(x + w * (0.5 + 0.25 * math.cos(2 * math.pi * k / 20)), y + h * (0.5 + 0.25 * math.sin(2 * math.pi * k / 20)))
            for k in range(21)]
    down, up = _drag(driver, ring)
    settled = _settle(driver, up)
    out["lasso, 20 steps (from press)"] = up - down + settled
    out["lasso, 20 steps (from release)"] = settled
    out["lasso selected images"] = driver.execute_script("return twistfmExplorer.source.selected.indices.length")
    driver.execute_script("document.querySelector('[data-tool=explorer-box]').click();"
                          "twistfmExplorer.source.selected.indices = []")
    time.sleep(0.5)
    switches = []
    for name in ("class", "group", "kmeans", "label"):
        switches.append(_timed(driver, f"const s = document.getElementById('twistfm-colour'); s.value = '{name}';"
                                       "s.dispatchEvent(new Event('change'));"))
    out["colour switch (median of 4)"] = statistics.median(switches)
    toggles = [_timed(driver, "document.querySelector('#twistfm-legend .chip').click();") for _ in range(2)]
    out["filter toggle (median of 2)"] = statistics.median(toggles)
    out["search"] = _timed(driver, "const i = document.getElementById('twistfm-search'); i.value = 'Sneaker';"
                                   "document.getElementById('twistfm-search-form').requestSubmit();")
    out["search matches"] = driver.execute_script("return twistfmExplorer.source.selected.indices.length")
    tasks = driver.execute_script("return window.__longtasks")
    out["longest task after interactive"] = max((d for s, d in tasks if s + d > ready), default=0.0)
    out["points"] = driver.execute_script("return twistfmExplorer.meta.n")
    return out


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    path = args.report.resolve()
    print(f"machine: {_cpu()}, {os.cpu_count()} cores, load average before {os.getloadavg()[0]:.2f}")
    for name, value in sizes(path).items():
        print(f"size, {name}: {value:.1f} MB")
    driver = browser()
    try:
        runs = [measure(driver, path.as_uri()) for _ in range(args.repeat)]
    finally:
        driver.quit()
    for key in runs[0]:
        values = [r[key] for r in runs]
        unit = "" if key in ("points",) or key.endswith("images") or key.endswith("matches") else " ms"
        print(f"{key}: " + ", ".join(f"{v:,.0f}{unit}" for v in values) + f" (median {statistics.median(values):,.0f}{unit})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
