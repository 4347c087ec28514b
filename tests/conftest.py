"""Shared fixtures: small synthetic data, the real dataset when installed, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twistfm.data import Dataset
from twistfm.data.csv import write_images_csv, write_labels_csv
from twistfm.data.fashion_mnist import ARCHIVES, DEBIAN_DIR, search_dirs

REAL_DATA = any(all((d / n).is_file() for n in ARCHIVES.values()) for d, _ in search_dirs()) or DEBIAN_DIR.is_dir()
needs_real_data = pytest.mark.skipif(not REAL_DATA, reason="Fashion-MNIST archives are not installed")


def synthetic_images(n: int, num_labels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images whose label is drawn as a bright bar at a label-specific place, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_labels, n)
    x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for label in range(num_labels):
        row = 2 + (label * 24) // max(1, num_labels - 1) if num_labels > 1 else 14
        x[y == label, row:row + 3, 4:24] = 230
    return x, y


def make_dataset(x_train, y_train, x_test, y_test, class_train=None, class_test=None) -> Dataset:
    """A Dataset from arrays, as a user's CSV folder would give (classes only when passed)."""
    return Dataset(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, class_train=class_train,
                   class_test=class_test, source="synthetic")


def split_dataset(x, y, n_train: int) -> Dataset:
    """The first ``n_train`` images for training, the rest for testing."""
    return make_dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:])


@pytest.fixture
def tiny_dataset() -> Dataset:
    x_train, y_train = synthetic_images(600, 3, seed=1)
    x_test, y_test = synthetic_images(200, 3, seed=2)
    return make_dataset(x_train, y_train, x_test, y_test)


def write_csv_dir(folder: Path, dataset: Dataset) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        write_images_csv(folder / f"x_{split}.csv", getattr(dataset, f"x_{split}"))
        write_labels_csv(folder / f"y_{split}.csv", getattr(dataset, f"y_{split}"))
    return folder


@pytest.fixture
def tiny_csv_dir(tmp_path, tiny_dataset) -> Path:
    return write_csv_dir(tmp_path / "csv", tiny_dataset)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the installed console script ``twistfm`` as a user would."""
    exe = Path(sys.executable).with_name("twistfm")
    full_env = {**os.environ, "CI": "1", **(env or {})}
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, env=full_env, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit code 2, one line on stderr starting with 'error:', no traceback, naming the fragments."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def cli(*args: str) -> tuple[int, str, str]:
    """Run the command line in this process (fast): its exit code, stdout and stderr."""
    import contextlib
    import io

    from twistfm.cli import app
    from twistfm.console import run_guarded

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_guarded(lambda: app(list(args), standalone_mode=False))
    return code, out.getvalue(), err.getvalue()


def assert_cli_error(result: tuple[int, str, str], *fragments: str, code: int = 2) -> None:
    """An in-process :func:`cli` result: the exit code, one line on stderr, no traceback, the fragments."""
    returncode, _, stderr = result
    assert returncode == code, (returncode, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: " if code == 2 else "stopped: "), lines[0]
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def start_chromium(profile: Path, **capabilities: object):
    """Debian's headless chromium through chromedriver, with a fresh profile and the given capabilities."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or shutil.which("chromium-browser")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    for name, value in capabilities.items():
        options.set_capability(name, value)
    return webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=options)
