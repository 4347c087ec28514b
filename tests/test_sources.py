"""The other sources (image folders, tables, NumPy files, arrays in memory) and images of any size and channels,
from the readers through the models to the report's images; every bad input is one line and exit 2."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import assert_cli_error, cli, split_dataset, synthetic_images, write_csv_dir
from sources_data import DIGIT_GROUPS, colour_digit_dataset
from twistfm.data import Dataset, DataSpec, read_image_folder, read_npz, read_table
from twistfm.data.writers import png_bytes, write_image_folder, write_image_table, write_npz, write_pixel_table
from twistfm.errors import DataError
from twistfm.models import count_parameters, create_model, layer_table, list_models, to_input
from twistfm.report.explorer import sprite_sheets
from twistfm.report.images import display_strip

SEED_COUNTS = {"cm1": 40_933, "model-a": 174_629, "model-b": 1_092_945}


def _pairs(x: np.ndarray, y: np.ndarray) -> list[tuple[bytes, int]]:
    return sorted((image.tobytes(), int(label)) for image, label in zip(x, y, strict=True))


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return colour_digit_dataset(90, 30, seed=3)[0]


@pytest.fixture(scope="module")
def grey() -> Dataset:
    x, y = synthetic_images(160, 3, seed=5)
    return split_dataset(x, y, 120)


def _png(path: Path, pixels: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)
    return path


def _folder(root: Path, sizes: dict[str, list[tuple[int, ...]]]) -> Path:
    """``root/<label>/<k>.png`` grey images of the given shapes (a shape of 3 dims is colour)."""
    rng = np.random.default_rng(0)
    for label, shapes in sizes.items():
        for k, shape in enumerate(shapes):
            _png(root / label / f"{k}.png", rng.integers(0, 256, shape, dtype=np.uint8))
    return root


# ------------------------------------------------------------------ image folders


def test_an_image_folder_with_train_and_test_reads_back_every_image_with_its_named_label(tmp_path, digits):
    folder = write_image_folder(digits, tmp_path / "digits")
    data = read_image_folder(folder)
    assert data.x_train.shape == (90, 32, 32, 3) and data.input_shape == (3, 32, 32)
    assert data.label_names == tuple(sorted(DIGIT_GROUPS))
    for split in ("train", "test"):
        assert _pairs(*data.split(split)[:2]) == _pairs(*digits.split(split)[:2])
    # the folders list the images label by label; the split is put in one random order, the same for the same seed
    assert len(set(data.y_train[:15].tolist())) > 1
    assert np.array_equal(read_image_folder(folder).x_train, data.x_train)
    assert not np.array_equal(read_image_folder(folder, seed=1).y_train, data.y_train)
    assert data.origin == {"images": str(folder.resolve()), "data_seed": 0, "test_fraction": None, "resize": None}


def test_a_folder_of_label_folders_is_split_per_label_with_the_recorded_fraction_and_seed(tmp_path, digits):
    folder = write_image_folder(digits, tmp_path / "flat", splits=False)
    data = read_image_folder(folder, test_fraction=0.25, seed=7)
    everything = _pairs(*digits.split("all")[:2])
    assert sorted(_pairs(data.x_train, data.y_train) + _pairs(data.x_test, data.y_test)) == everything
    for value in np.unique(digits.y_train):
        total = int((np.r_[digits.y_train, digits.y_test] == value).sum())
        assert int((data.y_test == value).sum()) == round(total * 0.25)
    again = DataSpec(images=str(folder), test_fraction=0.25, data_seed=7)
    assert again.load_full().fingerprint == data.fingerprint
    other = DataSpec(images=str(folder), test_fraction=0.25, data_seed=8).load_full()
    assert _pairs(other.x_test, other.y_test) != _pairs(data.x_test, data.y_test)  # another seed, another split
    resolved = again.resolve(data)
    assert (resolved.test_fraction, resolved.data_seed, resolved.shape) == (0.25, 7, (32, 32, 3))


def test_grey_folders_stay_grey_a_colour_image_makes_the_set_colour_and_integer_names_are_labels(tmp_path):
    grey = read_image_folder(_folder(tmp_path / "g", {"3": [(10, 12)] * 5, "10": [(10, 12)] * 5}))
    assert grey.x_train.ndim == 3 and grey.image_size == (10, 12) and grey.label_names is None
    assert sorted(grey.label_values.tolist()) == [3, 10]
    mixed = _folder(tmp_path / "m", {"a": [(10, 10)] * 4, "b": [(10, 10, 3)] * 4})
    data = read_image_folder(mixed)
    assert data.channels == 3
    grey_one = np.asarray(Image.open(mixed / "a" / "0.png"))
    found = [x for x in np.concatenate([data.x_train, data.x_test]) if (x[..., 0] == x[..., 2]).all()]
    assert any(np.array_equal(x, np.repeat(grey_one[..., None], 3, axis=2)) for x in found)


def test_resize_gives_every_image_the_size_asked_for(tmp_path):
    folder = _folder(tmp_path / "r", {"a": [(20, 20), (30, 24)] * 3, "b": [(16, 16)] * 6})
    data = read_image_folder(folder, resize=(12, 14))
    assert data.image_size == (12, 14)


@pytest.mark.parametrize(("build", "fragments"), [
    (lambda r: r / "missing", ["--images is not a folder"]),
    (lambda r: _png(r / "x.png", np.zeros((9, 9), np.uint8)), ["--images is a file"]),
    (lambda r: _folder(r / "d", {"train/a": [(9, 9)], "train/b": [(9, 9)]}), ["has a train/ folder but no test/ one"]),
    (lambda r: _folder(r / "d", {"train/a": [(9, 9)], "test/a": [(9, 9)], "val/a": [(9, 9)]}),
     ["val: beside train/ and test/"]),
    (lambda r: (_folder(r / "d", {"a": [(9, 9)] * 3, "b": [(9, 9)] * 3}) / "notes.md").write_text("x") and r / "d",
     ["notes.md: a file beside the label folders"]),
    (lambda r: (_folder(r / "d", {"a": [(9, 9)] * 3, "b": [(9, 9)] * 3, "b/deeper": [(9, 9)]})),
     ["deeper: a folder inside label folder 'b'"]),
    (lambda r: (_folder(r / "d", {"a": [(9, 9)] * 3, "b": [(9, 9)] * 3}) / "a" / "list.txt").write_text("x")
     and r / "d", ["list.txt: not an image file name"]),
    (lambda r: ((_folder(r / "d", {"a": [(9, 9)] * 3, "b": [(9, 9)] * 3}) / "c").mkdir() or r / "d"),
     ["label folder 'c' holds no images"]),
    (lambda r: ((_folder(r / "d", {"a": [(9, 9)] * 3, "b": [(9, 9)] * 3}) / "a" / "0.png").write_bytes(
        png_bytes(np.zeros((9, 9), np.uint8))[:40]) and r / "d"), ["0.png: not an image Pillow can read"]),
    (lambda r: (Image.fromarray(np.zeros((9, 9), np.uint8)).save(
        _folder(r / "d", {"a": [(9, 9)] * 3, "b": [(9, 9)] * 3}) / "a" / "0.png", format="GIF") or r / "d"),
     ["0.png: is a GIF image; give PNG, JPEG, BMP or WebP"]),
    (lambda r: _folder(r / "d", {"a": [(12, 12)] * 3, "b": [(12, 12), (14, 12), (12, 12)]}),
     ["1.png: is 14 x 12 pixels but", "a/0.png is 12 x 12", "--resize 12x12"]),
    (lambda r: _folder(r / "d", {"a": [(4, 9)] * 3, "b": [(4, 9)] * 3}), ["is 4 x 9 pixels; images need at least 8 x 8"]),
    (lambda r: _folder(r / "d", {"a": [(9, 9, 4)] * 3, "b": [(9, 9, 4)] * 3}), ["has transparent pixels"]),
    (lambda r: (_png(_folder(r / "d", {"a": [(9, 9)] * 3, "b": [(9, 9)] * 3}) / "a" / "0.png",
                     np.full((9, 9), 1000, np.uint16)) and r / "d"), ["has I;16 pixels", "8-bit"]),
    (lambda r: _folder(r / "d", {"1": [(9, 9)] * 3, "01": [(9, 9)] * 3}), ["labels '01' and '1' are the same number"]),
    (lambda r: _folder(r / "d", {"only": [(9, 9)] * 6}), ["only 1 distinct label"]),
])
def test_bad_image_folders_are_one_line(tmp_path, build, fragments):
    folder = build(tmp_path)
    assert_cli_error(cli("data", "info", "--images", str(folder)), *fragments)


@pytest.mark.parametrize(("args", "fragment"), [
    (["--test-fraction", "0.3"], "--test-fraction: "),
    (["--label-column", "x"], "--label-column is for a table"),
    (["--csv-dir", "."], "--csv-dir and --images both name the data"),
    (["--resize", "12"], "--resize '12': write the size as HEIGHTxWIDTH"),
])
def test_options_an_image_folder_does_not_take_are_refused(tmp_path, digits, args, fragment):
    folder = write_image_folder(digits, tmp_path / "digits")
    assert_cli_error(cli("data", "info", "--images", str(folder), *args), fragment)


def test_a_flat_folder_refuses_a_fraction_outside_0_1(tmp_path, digits):
    folder = write_image_folder(digits, tmp_path / "flat", splits=False)
    assert_cli_error(cli("data", "info", "--images", str(folder), "--test-fraction", "1.5"),
                     "--test-fraction must lie between 0 and 1")


# ------------------------------------------------------------------ tables


def test_kaggle_csv_files_gz_and_parquet_give_the_same_images_as_the_arrays(tmp_path, grey):
    write_pixel_table(grey, tmp_path / "train.csv", "train")
    write_pixel_table(grey, tmp_path / "test.csv", "test")
    write_pixel_table(grey, tmp_path / "both.csv.gz")
    write_pixel_table(grey, tmp_path / "both.parquet")
    for data in (read_table(tmp_path / "train.csv", test_table=tmp_path / "test.csv"),
                 read_table(tmp_path / "both.csv.gz"), read_table(tmp_path / "both.parquet")):
        for name in ("x_train", "y_train", "x_test", "y_test"):
            assert np.array_equal(getattr(data, name), getattr(grey, name)), name
    assert read_table(tmp_path / "both.parquet").origin["split_column"] == "split"


def test_a_hugging_face_table_reads_colour_images_named_labels_and_its_split(tmp_path, digits):
    write_image_table(digits, tmp_path / "hf.parquet")
    data = read_table(tmp_path / "hf.parquet")
    assert np.array_equal(data.x_train, digits.x_train) and np.array_equal(data.x_test, digits.x_test)
    assert np.array_equal(data.y_train, digits.y_train) and data.label_names == digits.label_names


def test_a_table_without_a_split_is_split_per_label_with_the_seed(tmp_path, grey):
    write_pixel_table(grey, tmp_path / "train.csv", "train")
    data = read_table(tmp_path / "train.csv", test_fraction=0.5, seed=2)
    assert len(data.x_test) == sum(round((grey.y_train == v).sum() * 0.5) for v in np.unique(grey.y_train))
    assert data.fingerprint == read_table(tmp_path / "train.csv", test_fraction=0.5, seed=2).fingerprint
    other = read_table(tmp_path / "train.csv", test_fraction=0.5, seed=3)
    assert _pairs(other.x_test, other.y_test) != _pairs(data.x_test, data.y_test)


def test_a_label_column_named_by_the_user_settles_two_candidates(tmp_path, grey):
    import pandas as pd

    frame = pd.read_csv(write_pixel_table(grey, tmp_path / "t.csv")).copy()
    frame.insert(0, "coarse_label", frame["label"] % 2)
    frame = frame.rename(columns={"label": "fine_label"})
    frame.to_csv(tmp_path / "two.csv", index=False)
    assert_cli_error(cli("data", "info", "--table", str(tmp_path / "two.csv")),
                     "columns 'coarse_label', 'fine_label' could each be the label", "--label-column")
    data = read_table(tmp_path / "two.csv", label_column="fine_label")
    assert np.array_equal(data.y_test, grey.y_test)
    frame = frame.rename(columns={"fine_label": "label", "coarse_label": "class"})
    frame.to_csv(tmp_path / "export.csv", index=False)  # as twistfm export-table names them: 'label' is the label
    assert np.array_equal(read_table(tmp_path / "export.csv").y_test, grey.y_test)


def _csv(tmp_path: Path, header: str, rows: list[str], name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


_HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 65))
_ROW = ",".join(["1"] + ["7"] * 64)


@pytest.mark.parametrize(("make", "fragments"), [
    (lambda t: _csv(t, "a\tb", ["1\t2"], "t.tsv"), ["a table's name must end in .csv, .csv.gz, .parquet"]),
    (lambda t: _csv(t, _ROW, [_ROW]), ["line 1 is not a header row"]),
    (lambda t: _csv(t, "label," + ",".join(f"pixel{i}" for i in range(1, 11)), ["0," + ",".join(["1"] * 10)]),
     ["10 pixel columns do not make a square image"]),
    (lambda t: _csv(t, "label," + ",".join(f"pixel{i}" for i in range(1, 193)), ["0," + ",".join(["1"] * 192)]),
     ["192 pixel columns are 3 x 8 x 8", "image column of PNG bytes"]),
    (lambda t: _csv(t, _HEADER.replace("pixel3,", "pixel99,"), [_ROW]), ["found column 'pixel99' where pixel3 belongs"]),
    (lambda t: _csv(t, _HEADER, [_ROW, _ROW.replace(",7", ",300", 1)]), ["line 3, column 2: pixel 300 is outside 0..255"]),
    (lambda t: _csv(t, _HEADER, [_ROW, _ROW[:-2] + ",x"]), ["line 3, column 65: 'x' is not an integer"]),
    (lambda t: _csv(t, _HEADER, [_ROW, _ROW + ",7"]), ["line 3: 66 columns, expected 65"]),
    (lambda t: _csv(t, _HEADER, [_ROW, "", _ROW]), ["line 3: empty row"]),
    (lambda t: _csv(t, _HEADER.replace("label", "kind"), [_ROW]), ["no label column", "--label-column NAME"]),
    (lambda t: _csv(t, _HEADER + ",split", [_ROW + ",train", _ROW + ",validation"]),
     ["line 3, column 66: split 'validation'", "only 'train' or 'test'"]),
    (lambda t: (t / "x.parquet").write_bytes(b"PAR1 not really") and t / "x.parquet",
     ["x.parquet: not a Parquet file pyarrow can read"]),
])
def test_bad_tables_are_one_line(tmp_path, make, fragments):
    assert_cli_error(cli("data", "info", "--table", str(make(tmp_path))), *fragments)


def test_bad_parquet_cells_name_the_row_and_column(tmp_path, digits):
    import pandas as pd

    write_image_table(digits, tmp_path / "hf.parquet")
    frame = pd.read_parquet(tmp_path / "hf.parquet")
    images = list(frame["image"])
    images[5] = {"bytes": b"not an image", "path": None}
    frame.assign(image=images).to_parquet(tmp_path / "bad.parquet")
    assert_cli_error(cli("data", "info", "--table", str(tmp_path / "bad.parquet")),
                     "bad.parquet: row 6, column 'image': not an image Pillow can read")
    two = frame.assign(thumb=frame["image"])
    two.to_parquet(tmp_path / "two.parquet")
    assert_cli_error(cli("data", "info", "--table", str(tmp_path / "two.parquet")),
                     "columns 'image', 'thumb' all hold encoded images; choose one with --image-column")
    assert len(read_table(tmp_path / "two.parquet", image_column="thumb").x_test) == len(digits.x_test)
    assert_cli_error(cli("data", "info", "--table", str(tmp_path / "two.parquet"), "--label-column", "nope"),
                     "no column 'nope' (--label-column)")
    assert_cli_error(cli("data", "info", "--table", str(tmp_path / "hf.parquet"), "--test-table",
                         str(tmp_path / "hf.parquet")), "--test-table: ", "holds both splits")


def test_a_pixel_table_refuses_resize_and_its_pixels_are_checked_in_parquet(tmp_path, grey):
    import pandas as pd

    write_pixel_table(grey, tmp_path / "p.parquet")
    assert_cli_error(cli("data", "info", "--table", str(tmp_path / "p.parquet"), "--resize", "32x32"),
                     "--resize: ", "leave it out")
    frame = pd.read_parquet(tmp_path / "p.parquet")
    frame["pixel9"] = frame["pixel9"].astype("int64")
    frame.loc[3, "pixel9"] = 256
    frame.to_parquet(tmp_path / "bad.parquet")
    assert_cli_error(cli("data", "info", "--table", str(tmp_path / "bad.parquet")),
                     "row 4, column 'pixel9': pixel 256 is outside 0..255")


# ------------------------------------------------------------------ NumPy files and arrays in memory


def test_a_npz_file_reads_as_its_arrays(tmp_path, digits):
    data = read_npz(write_npz(digits, tmp_path / "d.npz"))
    assert data.fingerprint == digits.fingerprint and data.label_names == digits.label_names


@pytest.mark.parametrize(("arrays", "fragment"), [
    (lambda a: {k: v for k, v in a.items() if k != "y_test"}, "no array 'y_test'"),
    (lambda a: {**a, "x_val": a["x_test"]}, "array 'x_val' is not one twistfm reads"),
    (lambda a: {**a, "y_test": np.array([object()] * len(a["y_test"]))}, "holds pickled (object) arrays"),
    (lambda a: {**a, "x_test": a["x_test"][:, :5]}, "d.npz: x_test: shape (30, 5, 32, 3)"),
])
def test_bad_npz_files_are_one_line(tmp_path, digits, arrays, fragment):
    base = {"x_train": digits.x_train, "y_train": digits.y_train, "x_test": digits.x_test, "y_test": digits.y_test}
    np.savez(tmp_path / "d.npz", **arrays(base))
    assert_cli_error(cli("data", "info", "--arrays", str(tmp_path / "d.npz")), fragment)
    (tmp_path / "z.npz").write_bytes(b"not a zip")
    assert_cli_error(cli("data", "info", "--arrays", str(tmp_path / "z.npz")), "z.npz: not a NumPy .npz archive")


def test_from_arrays_takes_any_size_from_8_and_one_or_three_channels():
    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 5)
    for shape in ((8, 8), (8, 8, 1), (20, 36, 3)):
        x = rng.integers(0, 256, (10, *shape), dtype=np.uint8)
        data = Dataset.from_arrays(x, y, x, y)
        assert data.input_shape == ((3,) if shape[-1] == 3 else (1,)) + shape[:2]
    x = rng.integers(0, 256, (10, 3, 16, 16), dtype=np.uint8)
    with pytest.raises(DataError, match=r"channels first\? use x.transpose\(0, 2, 3, 1\)"):
        Dataset.from_arrays(x, y, x, y)
    with pytest.raises(DataError, match="H, W >= 8"):
        Dataset.from_arrays(x[:, 0, :7, :7], y, x[:, 0, :7, :7], y)
    with pytest.raises(DataError, match="x_train holds 16 x 16 grey images but x_test 16 x 16 colour"):
        Dataset.from_arrays(x[:, 0], y, x.transpose(0, 2, 3, 1), y)


# ------------------------------------------------------------------ models, the model boundary, the report's images


def test_the_seeds_models_keep_their_counts_on_28x28_grey_and_every_model_takes_other_shapes():
    for name, count in SEED_COUNTS.items():
        assert count_parameters(create_model(name, 5)) == count
        assert count_parameters(create_model(name, 5, (1, 28, 28))) == count
    for name in list_models():
        for shape in ((3, 32, 32), (1, 8, 8), (3, 20, 36)):
            model = create_model(name, 4, shape).eval()
            assert model(torch.zeros(2, *shape)).shape == (2, 4), (name, shape)
            assert layer_table(model)[-1].output_shape == (4,)


def test_the_model_boundary_puts_colour_channels_first():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    x = to_input(images)
    assert x.shape == (2, 3, 9, 11)
    assert float(x[1, 2, 4, 7]) == pytest.approx(images[1, 4, 7, 2] / 255.0)
    grey = to_input(images[..., 0])
    assert grey.shape == (2, 1, 9, 11)


def test_report_images_keep_colour_and_grey_stays_dark_ink_on_white(digits):
    strip = display_strip(digits.x_test[:3], gap=2)
    assert strip.shape == (32, 3 * 32 + 4, 3)
    assert np.array_equal(strip[:, :32], digits.x_test[0])
    grey = display_strip(np.zeros((2, 9, 9), np.uint8))
    assert grey.shape == (9, 18) and (grey == 255).all()
    sheet = sprite_sheets(digits.x_test, quality=100)[0]
    pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(sheet.split(",", 1)[1]))).convert("RGB"))
    assert pixels.shape == (32, 100 * 32, 3)
    tile = pixels[:, 32:64].astype(int)
    assert np.abs(tile - digits.x_test[1].astype(int)).mean() < 6


# ------------------------------------------------------------------ through training, analysis and the report


@pytest.mark.slow
def test_the_whole_study_on_a_colour_image_folder(tmp_path):
    data = colour_digit_dataset(500, 160, seed=11)[0]
    folder = write_image_folder(data, tmp_path / "digits", splits=False)
    code, out, err = cli("run", "--images", str(folder), "--epochs", "1", "--runs", str(tmp_path / "runs"))
    assert code == 0, err
    study = next((tmp_path / "runs").iterdir())
    config = json.loads((study / "config.json").read_text())
    assert config["data"]["shape"] == [32, 32, 3] and config["data"]["test_fraction"] == 0.2
    report = (study / "report.html").read_text()
    assert "32&times;32 colour" in report and "label 1 (round)" in report
    assert '"sprites":{"tile":32' in report
    run = next(p for p in (study / "compare").iterdir() if p.name.endswith("tfm-small"))
    assert json.loads((run / "model.json").read_text())["input_shape"] == [3, 32, 32]
    assert "label 0 (curly)" in out
    code, _, err = cli("export-table", str(run), "--out", str(tmp_path / "points.parquet"))
    assert code == 0, err
    exported = read_table(tmp_path / "points.parquet")  # its label, split and image columns are found by rule
    assert exported.x_test.shape == (len(exported.x_test), 32, 32, 3)
    ours = DataSpec(images=str(folder)).load_full()
    assert _pairs(exported.x_test, exported.y_test) == _pairs(ours.x_test, ours.y_test)
    (folder / "curly" / sorted(p.name for p in (folder / "curly").iterdir())[0]).unlink()
    assert_cli_error(cli("analyze", str(run)), "the data in", "has changed since the run was trained")


def test_the_table_layouts_train_to_the_same_accuracy_as_the_csv_folder(tmp_path):
    x, y = synthetic_images(500, 3, seed=8)
    data = split_dataset(x, y, 400)
    csv = write_csv_dir(tmp_path / "csv", data)
    write_pixel_table(data, tmp_path / "train.csv", "train")
    write_pixel_table(data, tmp_path / "test.csv", "test")
    write_pixel_table(data, tmp_path / "all.parquet")
    accuracies = []
    for source in (["--csv-dir", str(csv)], ["--table", str(tmp_path / "train.csv"), "--test-table",
                                             str(tmp_path / "test.csv")], ["--table", str(tmp_path / "all.parquet")]):
        runs = tmp_path / f"runs{len(accuracies)}"
        code, _, err = cli("train", "cm1", "--epochs", "1", "--batch-size", "64", *source, "--runs", str(runs))
        assert code == 0, err
        run = next(runs.iterdir())
        accuracies.append(json.loads((run / "metrics.json").read_text())["test_acc"])
        if source[0] == "--csv-dir":  # the seed format's run files say what they always said
            assert set(json.loads((run / "config.json").read_text())["data"]) == {
                "csv_dir", "data_dir", "n_train", "n_test", "fingerprint", "shape"}
            for name, key in (("config.json", "data"), ("model.json", None)):  # as runs before the shape was kept
                document = json.loads((run / name).read_text())
                (document[key] if key else document).pop("shape" if key else "input_shape")
                (run / name).write_text(json.dumps(document))
            code, _, err = cli("encode", str(run))
            assert code == 0, err
    assert accuracies[0] == accuracies[1] == accuracies[2]
