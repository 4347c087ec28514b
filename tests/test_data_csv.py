"""The seed CSV format: exact writing, fast strict reading, and every malformed case."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from conftest import assert_one_line_error, make_dataset, needs_real_data, run_cli, synthetic_images, write_csv_dir
from twistfm.data import load_dataset, read_csv_dir, read_images_csv, read_labels_csv
from twistfm.data.csv import export_csv, write_images_csv
from twistfm.errors import DataError

HEADER = ",".join(str(i) for i in range(784))


def _row(values) -> str:
    return ",".join(str(v) for v in values)


def test_write_then_read_round_trip(tmp_path):
    x, _ = synthetic_images(50, 3)
    x[0, 0, 0], x[0, 0, 1], x[0, 0, 2] = 0, 9, 255
    write_images_csv(tmp_path / "x.csv", x)
    text = (tmp_path / "x.csv").read_text()
    assert text.startswith(HEADER + "\n")
    assert text.splitlines()[1].startswith("0,9,255,")
    np.testing.assert_array_equal(read_images_csv(tmp_path / "x.csv"), x)


def test_header_is_optional_and_crlf_accepted(tmp_path):
    rows = [list(range(0, 784 * 3, 3)) for _ in range(3)]
    rows = [[v % 256 for v in r] for r in rows]
    (tmp_path / "x.csv").write_text("\r\n".join(_row(r) for r in rows) + "\r\n")
    x = read_images_csv(tmp_path / "x.csv")
    assert x.shape == (3, 28, 28)
    assert x[0, 0, 1] == 3


def test_labels_header_detected_by_row_count(tmp_path):
    (tmp_path / "y.csv").write_text("0\n1\n0\n2\n")
    assert read_labels_csv(tmp_path / "y.csv", n_expected=3).tolist() == [1, 0, 2]
    assert read_labels_csv(tmp_path / "y.csv", n_expected=4).tolist() == [0, 1, 0, 2]
    (tmp_path / "z.csv").write_text("label\n7\n-3\n")
    assert read_labels_csv(tmp_path / "z.csv").tolist() == [7, -3]


def test_any_label_set_is_accepted(tmp_path):
    x, y = synthetic_images(40, 7)
    ds = make_dataset(x, y * 10 + 3, x[:10], y[:10] * 10 + 3)
    folder = write_csv_dir(tmp_path / "d", ds)
    back = read_csv_dir(folder)
    assert back.num_labels == 7
    assert back.label_values.tolist() == sorted(set((y * 10 + 3).tolist()))


def _bad_x(tmp_path, text: str):
    path = tmp_path / "x_train.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        read_images_csv(path)
    return str(info.value)


GOOD = _row([1] * 784)


@pytest.mark.parametrize(
    "body, fragments",
    [
        ("", ["empty"]),
        (HEADER + "\n" + GOOD + "\n" + _row([1] * 783) + "\n", ["line 3", "783 columns"]),
        (GOOD + "\n" + _row([1] * 10 + ["x"] + [1] * 773) + "\n", ["line 2", "column 11", "not an integer"]),
        (GOOD + "\n" + _row([1] * 5 + [""] + [1] * 778) + "\n", ["line 2", "column 6", "empty cell"]),
        (GOOD + "\n" + _row([1] * 5 + ["1.5"] + [1] * 778) + "\n", ["line 2", "column 6", "not an integer"]),
        (GOOD + "\n" + _row([1] * 783 + [256]) + "\n", ["line 2", "column 784", "outside 0..255"]),
        (GOOD + "\n" + _row([-1] + [1] * 783) + "\n", ["line 2", "column 1", "outside 0..255"]),
        (GOOD + "\n\n" + GOOD + "\n", ["line 2", "empty row"]),
    ],
)
def test_malformed_images_name_the_place(tmp_path, body, fragments):
    message = _bad_x(tmp_path, body)
    assert "x_train.csv" in message
    for fragment in fragments:
        assert fragment in message


def test_malformed_labels(tmp_path):
    (tmp_path / "y.csv").write_text("0\n1\n1,2\n")
    with pytest.raises(DataError, match="line 3.*2 columns"):
        read_labels_csv(tmp_path / "y.csv")
    (tmp_path / "y.csv").write_text("0\n1\nabc\n")
    with pytest.raises(DataError, match="line 3.*not an integer"):
        read_labels_csv(tmp_path / "y.csv")
    (tmp_path / "y.csv").write_text("0\n1\n2\n")
    with pytest.raises(DataError, match="3 labels but the matching x file has 5"):
        read_labels_csv(tmp_path / "y.csv", n_expected=5)


def test_missing_file_and_single_label(tmp_path, tiny_dataset):
    with pytest.raises(DataError, match="file not found"):
        read_images_csv(tmp_path / "nope.csv")
    ds = make_dataset(tiny_dataset.x_train, np.zeros(600, int), tiny_dataset.x_test, tiny_dataset.y_test)
    folder = write_csv_dir(tmp_path / "one", ds)
    with pytest.raises(DataError, match="only 1 distinct label"):
        read_csv_dir(folder)


@pytest.mark.parametrize(
    "mutate, fragments",
    [
        (lambda d: (d / "x_train.csv").unlink(), ["x_train.csv", "file not found"]),
        (lambda d: (d / "y_test.csv").write_text(""), ["y_test.csv", "empty"]),
        (lambda d: (d / "y_train.csv").write_text("0\n1\n2\n"), ["y_train.csv", "3 labels", "600 images"]),
        (lambda d: (d / "y_train.csv").write_text("0\n" + "1,1\n" * 600), ["y_train.csv", "line 2", "columns"]),
    ],
)
def test_cli_bad_csv_is_one_line_exit_2(tiny_csv_dir, mutate, fragments):
    mutate(tiny_csv_dir)
    result = run_cli("data", "info", "--csv-dir", str(tiny_csv_dir))
    assert_one_line_error(result, *fragments)


def test_cli_info_on_csv(tiny_csv_dir):
    result = run_cli("data", "info", "--csv-dir", str(tiny_csv_dir))
    assert result.returncode == 0, result.stderr
    assert "CSV files" in result.stdout


# Sums measured once on an export of the installed Fashion-MNIST (make sure the data
# stays the seeds' data: these are the seed files' exact sizes).
EXPORT = {
    "x_train.csv": (132_891_899, "b5ef3db112780d18438aee842db7ecf7b3b45e9d0352359c124d0b4ea8a2b3df"),
    "y_train.csv": (120_002, "8a5643c1b81a1d8c58b8775988abad5b9eab1022a83ea26d400b31c8b5f1d9ad"),
    "x_test.csv": (22_179_097, "480274b027de3b45ee6385a51fb5e1c507d0060588c72d5ae42ba9d3d7d26d34"),
    "y_test.csv": (20_002, "0ee3a48a24d6ec9ff7b99843cafb6f00ae1cab539e7fea59f58e5ae6173e1de6"),
}


@needs_real_data
@pytest.mark.realdata
def test_export_reproduces_seed_files_and_reads_back(tmp_path):
    result = run_cli("data", "export", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for name, (size, sha) in EXPORT.items():
        data = (tmp_path / name).read_bytes()
        assert len(data) == size, name
        assert hashlib.sha256(data).hexdigest() == sha, name
    assert (tmp_path / "class_train.csv").read_text().startswith("class\n9\n0\n0\n3\n")
    back = read_csv_dir(tmp_path)
    real = load_dataset()
    np.testing.assert_array_equal(back.x_train, real.x_train)
    np.testing.assert_array_equal(back.y_test, real.y_test)


def test_export_library_writes_classes(tmp_path):
    x, y = synthetic_images(30, 4)
    ds = make_dataset(x, y, x, y, y + 1, y + 1)
    paths = export_csv(ds, tmp_path)
    assert {p.name for p in paths} == {"x_train.csv", "y_train.csv", "class_train.csv", "x_test.csv",
                                       "y_test.csv", "class_test.csv"}
