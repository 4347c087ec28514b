"""The study in one call: run_study on small data writes a complete, self-contained report."""

from __future__ import annotations

import json
import re

import pytest

from conftest import assert_one_line_error, run_cli, split_dataset, synthetic_images, write_csv_dir
from twistfm.data import DataSpec
from twistfm.errors import OptionError
from twistfm.recipes import PRESETS, RECIPES
from twistfm.workflows import run_study


def test_presets_name_their_analysed_model_and_known_recipes():
    for name, preset in PRESETS.items():
        assert preset.analyzed in preset.models, name
        assert set(preset.models.values()) <= set(RECIPES), name
    configs = PRESETS["seed"].configs(seed=5)
    assert set(configs) == {"cm1-adam", "cm1-sgd", "model-a", "model-b", "leaky"}
    assert configs["cm1-adam"].batch_size == 10 and configs["cm1-adam"].seed == 5
    assert {c.epochs for c in PRESETS["quick"].configs(seed=0, epochs=1).values()} == {1}


@pytest.mark.slow
def test_run_study_writes_a_self_contained_report(tmp_path):
    x, y = synthetic_images(1000, 4, seed=3)
    folder = write_csv_dir(tmp_path / "csv", split_dataset(x, y, 700))
    result = run_study("quick", DataSpec(csv_dir=str(folder)), runs_root=tmp_path / "runs", epochs=1,
                       command="twistfm run ...", log=None)
    page = result.report.read_text()
    for section in ("The answer", "The data", "The models", "Training curves", "Results", "Confusion matrices",
                    "Which layer encodes best", "PCA", "Clustering", "t-SNE", "Explore every image", "Galleries",
                    "What each label means", "Ambiguous images", "How to repeat this study"):
        assert f">{section}</h2>" in page, section
    assert page.count('src="data:image/png;base64,') >= 19
    # Offline: no resource is fetched from anywhere (links in text are fine, loads are not).
    assert not re.search(r'<(script|img|link)[^>]+(src|href)="https?:', page)
    summary = json.loads((result.folder.path / "summary.json").read_text())
    assert [r["model"] for r in summary["comparison"]] == ["cm1", "tfm-small"]
    assert (result.folder.path / "compare" / "comparison.md").is_file()


def test_bad_preset_and_epochs():
    with pytest.raises(OptionError, match="--preset"):
        run_study("slow")
    assert_one_line_error(run_cli("run", "--epochs", "0", "--csv-dir", "/nonexistent"), "--epochs")
