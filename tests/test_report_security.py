"""Strings a user controls reach the report as text, never as markup or script.

Label names (from a table's label column), the runs folder's path and so the recorded command
line all carry a script payload; one small study is run on them, and the page is opened in
Debian's headless chromium: no script of the payload runs (no alert, no injected element or
handler), and the names still read as written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import run_cli, start_chromium, synthetic_images

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="chromium and chromium-driver are not installed"),
]

#: The payload the reliability issue names, and two more that break out of a script or an attribute.
PAYLOADS = ('"><img src=x onerror=alert(1)></script>', "</script><script>alert(2)</script>",
            "' onmouseover='alert(3)' x='")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("xss")
    x, y = synthetic_images(1200, 3, seed=4)
    table = pd.DataFrame({"label": [PAYLOADS[v] for v in y],
                          **{f"pixel{i + 1}": x.reshape(len(x), -1)[:, i] for i in range(28 * 28)}})
    table["split"] = np.where(np.arange(len(x)) < 900, "train", "test")
    table.to_csv(tmp / "names.csv", index=False)
    # A folder name can hold every character of a payload but "/", which nests the payload's tail.
    runs = tmp / PAYLOADS[0] / "runs"
    result = run_cli("run", "--epochs", "1", "--table", str(tmp / "names.csv"), "--runs", str(runs), timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    path = Path(result.stdout.strip().splitlines()[-1].removeprefix("report: "))
    assert path.is_file() and PAYLOADS[0].split("/")[0] in str(path)
    return path, path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(report, tmp_path_factory):
    from selenium.common.exceptions import NoAlertPresentException

    driver = start_chromium(tmp_path_factory.mktemp("chrome-profile"), unhandledPromptBehavior="ignore")
    driver.set_page_load_timeout(120)
    try:
        driver.get(report[0].as_uri())
        alerts = []
        try:
            alerts.append(driver.switch_to.alert.text)
            driver.switch_to.alert.dismiss()
        except NoAlertPresentException:
            pass
        yield driver, alerts
    finally:
        driver.quit()


def test_no_payload_runs_in_the_page(page) -> None:
    driver, alerts = page
    assert alerts == [], f"the page ran a payload's alert: {alerts}"
    # Hover every element once: an injected handler would run now.
    injected = driver.execute_script("""
        const bad = [];
        for (const el of document.querySelectorAll('*')) {
          for (const a of el.getAttributeNames()) {
            if (/^on/i.test(a) && /alert\\(/.test(el.getAttribute(a))) bad.push(el.tagName + ' ' + a);
          }
        }
        for (const s of document.scripts) { if (/alert\\([123]\\)/.test(s.text) && !s.type.includes('json')
            && s.type !== 'text/plain') bad.push('script: ' + s.text.slice(0, 80)); }
        for (const img of document.images) { if (img.getAttribute('src') === 'x') bad.push('img src=x'); }
        return bad;""")
    assert injected == []


def test_the_names_read_as_written(page) -> None:
    driver, _ = page
    text = driver.execute_script("return document.body.innerText")
    for payload in PAYLOADS:
        assert payload in text, f"label name {payload!r} is not shown as text"


def test_no_payload_is_written_raw(report) -> None:
    _, page = report
    # Raw in any context, these would open a tag or end the explorer's script; escaped, they cannot.
    assert "<img src=x" not in page
    assert "</script><script>alert(2)" not in page
