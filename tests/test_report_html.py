"""The report's text where it is pure: the precision each model trained in, and each model's validation share."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from twistfm.report.sections import _precision
from twistfm.report.sections import data as _data


def test_precision_and_its_reason_are_shown_and_older_runs_say_they_lack_it():
    shown = _precision({"precision": "bf16", "precision_reason": "this CPU has native bfloat16 (AVX-512 BF16)."})
    assert "bfloat16 (bf16)" in shown and "native bfloat16" in shown
    assert "fp32" in _precision({"precision": "fp32"})
    older = _precision({"test_acc": 0.9})
    assert "not recorded" in older


def _study(models: dict[str, float], default: float = 0.1) -> SimpleNamespace:
    return SimpleNamespace(data_source="somewhere", label_counts=[], val_split=default, test_images=np.zeros((1, 28, 28)),
                           config={"models": {k: {"val_split": v} for k, v in models.items()}},
                           models=[SimpleNamespace(label=k) for k in models])


def test_each_model_s_validation_share_is_its_own():
    text = _data(_study({"cm1": 0.2, "tfm-small": 0.1}))
    assert "20% for cm1" in text and "10% for tfm-small" in text
    same = _data(_study({"cm1": 0.2, "model-a": 0.2}))
    assert "the last 20% of the training file" in same and "10%" not in same


def test_the_data_section_says_the_images_size_and_kind():
    study = _study({"cm1": 0.2})
    assert "28&times;28 grey values" in _data(study)
    colour = SimpleNamespace(**{**vars(study), "test_images": np.zeros((1, 32, 24, 3))})
    assert "32&times;24 colour (RGB) values" in _data(colour)
