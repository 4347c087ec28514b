"""Schema fuzzing of every run file: each field replaced by a wrong type, a NaN, or removed, gives
one clear line and exit 2 from the command that reads it, never a traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import cli, split_dataset, synthetic_images, write_csv_dir
from twistfm.data import DataSpec
from twistfm.errors import TwistfmError
from twistfm.train import TrainConfig
from twistfm.workflows import load_analysis, train

_WRONG = {str: 12345, int: "x", float: "x", bool: "yes", list: {"a": 1}, dict: [1], type(None): [1]}


def _paths(obj: Any, prefix: tuple = (), depth: int = 2) -> Iterator[tuple]:
    """Every key path of a JSON object, down to ``depth`` levels (list items by index, the first only)."""
    items = obj.items() if isinstance(obj, dict) else ([(0, obj[0])] if isinstance(obj, list) and obj else [])
    for key, value in items:
        path = (*prefix, key)
        yield path
        if depth > 1 and isinstance(value, (dict, list)):
            yield from _paths(value, path, depth - 1)


def _mutations(obj: Any, depth: int = 2, skip: tuple[str, ...] = (), optional: tuple[str, ...] = ()
               ) -> Iterator[tuple[str, Any]]:
    """(description, mutated object) for each key path: a wrong type, a NaN, and (for keys) removal, except of the
    ``optional`` keys (fields added later, which files written before them lack)."""
    for path in _paths(obj, depth=depth):
        if any(part in skip for part in path):
            continue
        *head, last = path
        parent = obj
        for part in head:
            parent = parent[part]
        value = parent[last]
        for kind, new in (("wrong type", _WRONG.get(type(value), None)), ("NaN", float("nan")), ("missing", ...)):
            if kind == "missing" and (not isinstance(parent, dict) or last in optional):
                continue
            copy = json.loads(json.dumps(obj))
            target = copy
            for part in head:
                target = target[part]
            if new is ...:
                del target[last]
            else:
                target[last] = new
            yield f"{'.'.join(map(str, path))}: {kind}", copy


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished, analysed run and an interrupted one with a checkpoint."""
    tmp = tmp_path_factory.mktemp("runs")
    x, y = synthetic_images(700, 3, seed=31)
    csv = write_csv_dir(tmp / "csv", split_dataset(x, y, 500))
    code, _, err = cli("train", "cm1", "--epochs", "1", "--csv-dir", str(csv), "--runs", str(tmp / "done"))
    assert code == 0, err
    done = next((tmp / "done").iterdir())
    code, _, err = cli("analyze", str(done))
    assert code == 0, err

    class Stop(Exception):
        pass

    def stop(event):
        if event.kind == "epoch" and event.epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        train(TrainConfig(model="cm1", epochs=2), DataSpec(csv_dir=str(csv)), runs_root=tmp / "cut", callbacks=[stop],
              log=None)
    return done, next((tmp / "cut").iterdir())


def _fuzz(run: Path, name: str, command: list[str], tmp_path: Path, depth: int = 2, skip: tuple[str, ...] = (),
          optional: tuple[str, ...] = ()) -> None:
    original = json.loads((run / name).read_text())
    failures = []
    for i, (what, mutated) in enumerate(_mutations(original, depth, skip, optional)):
        copy = tmp_path / f"case{i}"
        shutil.copytree(run, copy, symlinks=True)
        (copy / name).write_text(json.dumps(mutated))
        args = [str(copy) if a == "RUN" else a for a in command]
        code, _, err = cli(*args)
        lines = [line for line in err.splitlines() if line.strip()]
        if code != 2 or len(lines) != 1 or not lines[0].startswith("error: ") or "Traceback" in err:
            failures.append(f"{name} {what}: exit {code}, {err.strip()[-300:]!r}")
        shutil.rmtree(copy)
    assert failures == []


def test_config_json(runs, tmp_path):
    _fuzz(runs[0], "config.json", ["encode", "RUN"], tmp_path, optional=("shape",))


def test_model_json(runs, tmp_path):
    _fuzz(runs[0], "model.json", ["layers", "RUN"], tmp_path, optional=("input_shape",))


def test_metrics_json_and_history_csv(runs, tmp_path):
    done = tmp_path / "done"
    shutil.copytree(runs[0], done, symlinks=True)
    (done / "figures" / "loss.png").unlink()  # so that --resume redraws the figures from metrics and history
    metrics = json.loads((done / "metrics.json").read_text())
    checked = {"test_acc", "test_loss", "train_acc", "val_acc", "epochs", "training_seconds", "train_images_per_second",
               "test_inference_seconds", "confusion", "parameters"}
    _fuzz(done, "metrics.json", ["train", "--resume", "RUN"], tmp_path / "m",
          skip=tuple(k for k in metrics if k not in checked))
    history = (done / "history.csv").read_text().splitlines()
    for broken in ([history[0], history[1].replace(history[1].split(",")[1], "abc")],
                   [history[0].replace("train_loss", "loss"), history[1]], [history[0], history[1] + ",7"]):
        (done / "history.csv").write_text("\n".join(broken) + "\n")
        code, _, err = cli("train", "--resume", str(done))
        assert code == 2 and "history.csv" in err and "Traceback" not in err, err


def test_checkpoint_json(runs, tmp_path):
    _fuzz(runs[1], "checkpoint.json", ["train", "--resume", "RUN"], tmp_path, depth=3)


def test_analysis_json(runs, tmp_path):
    """No command reads analysis.json back yet but the library does: only TwistfmError may come out."""
    run = runs[0]
    document = json.loads((run / "analysis" / "analysis.json").read_text())
    failures = []
    for what, mutated in _mutations(document, depth=2, skip=("params", "scores", "matched", "recovery")):
        copy = tmp_path / "case"
        shutil.copytree(run, copy, symlinks=True)
        (copy / "analysis" / "analysis.json").write_text(json.dumps(mutated))
        try:
            load_analysis(copy)
            failures.append(f"{what}: read without complaint")
        except TwistfmError as exc:
            assert "\n" not in str(exc)
        except Exception as exc:  # noqa: BLE001 - what we are looking for
            failures.append(f"{what}: {type(exc).__name__}: {exc}")
        shutil.rmtree(copy)
    assert failures == []
