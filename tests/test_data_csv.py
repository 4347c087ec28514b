"""The seed CSV format: exact writing, fast strict reading, and every malformed case."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

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


def test_labels_header_follows_the_rule_never_the_row_count(tmp_path):
    (tmp_path / "y.csv").write_text("0\n1\n0\n2\n")
    assert read_labels_csv(tmp_path / "y.csv", n_expected=3, x_has_header=True).tolist() == [1, 0, 2]
    assert read_labels_csv(tmp_path / "y.csv", n_expected=4, x_has_header=False).tolist() == [0, 1, 0, 2]
    assert read_labels_csv(tmp_path / "y.csv").tolist() == [0, 1, 0, 2]  # unknown x: only a name is a header
    with pytest.raises(DataError, match="4 labels but the matching x file has 3 images.*line 1 .'0'. is a header"):
        read_labels_csv(tmp_path / "y.csv", n_expected=3, x_has_header=False)
    with pytest.raises(DataError, match="3 labels but the matching x file has 4 images.*read as a header"):
        read_labels_csv(tmp_path / "y.csv", n_expected=4, x_has_header=True)
    (tmp_path / "z.csv").write_text("label\n7\n-3\n")
    assert read_labels_csv(tmp_path / "z.csv", x_has_header=False).tolist() == [7, -3]
    assert read_labels_csv(tmp_path / "z.csv", x_has_header=True).tolist() == [7, -3]
    (tmp_path / "w.csv").write_text("3\n1\n2\n")
    with pytest.raises(DataError, match="line 1 is '3', which could be a header or a label"):
        read_labels_csv(tmp_path / "w.csv", n_expected=2, x_has_header=True)


def _folder(tmp_path, x_text: str, y_text: str, name: str = "d"):
    folder = tmp_path / name
    folder.mkdir()
    for split in ("train", "test"):
        (folder / f"x_{split}.csv").write_bytes(x_text.encode() if isinstance(x_text, str) else x_text)
        (folder / f"y_{split}.csv").write_bytes(y_text.encode() if isinstance(y_text, str) else y_text)
    return folder


def test_seed_headers_and_the_label_shift_cases(tmp_path):
    x = np.arange(3 * 784).reshape(3, 784) % 256
    body = "\n".join(_row(r) for r in x) + "\n"
    assert read_csv_dir(_folder(tmp_path, HEADER + "\n" + body, "0\n1\n2\n1\n", "a")).y_train.tolist() == [1, 2, 1]
    one_based = ",".join(str(i) for i in range(1, 785))
    assert read_csv_dir(_folder(tmp_path, one_based + "\n" + body, "0\n1\n2\n1\n", "b")).x_train.shape == (3, 28, 28)
    names = ",".join(f"pixel{i}" for i in range(784))
    assert read_csv_dir(_folder(tmp_path, names + "\n" + body, "label\n1\n2\n1\n", "c")).y_train.tolist() == [1, 2, 1]
    # The seeds' header '0' and one label missing: refused, never shifted.
    with pytest.raises(DataError, match="2 labels but x_train.csv has 3 images"):
        read_csv_dir(_folder(tmp_path, HEADER + "\n" + body, "0\n1\n2\n", "d"))
    # No header anywhere and one label too many: refused, naming both readings.
    with pytest.raises(DataError, match="4 labels but x_train.csv has 3 images.*If line 1 .'0'. is a header"):
        read_csv_dir(_folder(tmp_path, body, "0\n1\n2\n1\n", "e"))


def test_a_first_row_with_one_bad_cell_is_data_not_a_header(tmp_path):
    row = ["12"] * 784
    row[4] = "12a"
    with pytest.raises(DataError, match="line 1, column 5: '12a' is not an integer"):
        read_images_csv(_write(tmp_path, ",".join(row) + "\n" + GOOD + "\n"))


def _write(tmp_path, text, name="x_train.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_bom_cr_only_and_gzip_are_read(tmp_path):
    x = np.arange(2 * 784).reshape(2, 784) % 256
    body = "\n".join(_row(r) for r in x)
    expected = x.reshape(2, 28, 28)
    np.testing.assert_array_equal(read_images_csv(_write(tmp_path, b"\xef\xbb\xbf" + body.encode())), expected)
    np.testing.assert_array_equal(read_images_csv(_write(tmp_path, b"\xef\xbb\xbf" + (HEADER + "\n" + body).encode())),
                                  expected)
    np.testing.assert_array_equal(read_images_csv(_write(tmp_path, body.replace("\n", "\r") + "\r")), expected)
    packed = tmp_path / "x_train.csv.gz"
    packed.write_bytes(gzip.compress(body.encode()))
    np.testing.assert_array_equal(read_images_csv(packed), expected)


@pytest.mark.parametrize("content, fragment", [
    (gzip.compress(b"1,2,3\n"), "is gzip-compressed; decompress it (gunzip), or name it x_train.csv.gz"),
    (b"PK\x03\x04junk", "is a zip archive"),
    ("\t".join(["1"] * 784) + "\n", "separates its values with tabs, not commas"),
    (";".join(["1"] * 784) + "\n", "separates its values with semicolons"),
    (b"1,2\x00,3\n", "contains NUL bytes"),
    (b"\x89PNG\r\n\x1a\n\xff\xfe\xfa binary", "is not a text file"),
    (",".join(["0000"] * 784) + "\n", "line 1, column 1: '0000' is not a plain integer"),
    (",".join(["+1"] * 784) + "\n", "line 1, column 1: '+1' is not a plain integer"),
])
def test_files_that_are_not_seed_csv_say_what_they_look_like(tmp_path, content, fragment):
    with pytest.raises(DataError) as info:
        read_images_csv(_write(tmp_path, content))
    assert fragment in str(info.value)


def test_both_plain_and_gzip_files_are_refused(tmp_path, tiny_csv_dir):
    (tiny_csv_dir / "x_test.csv.gz").write_bytes(gzip.compress((tiny_csv_dir / "x_test.csv").read_bytes()))
    with pytest.raises(DataError, match="both x_test.csv and x_test.csv.gz exist"):
        read_csv_dir(tiny_csv_dir)
    (tiny_csv_dir / "x_test.csv").unlink()
    assert read_csv_dir(tiny_csv_dir).x_test.shape == (200, 28, 28)


def test_a_named_pipe_is_refused_without_waiting(tmp_path, tiny_csv_dir):
    (tiny_csv_dir / "x_train.csv").unlink()
    os.mkfifo(tiny_csv_dir / "x_train.csv")
    result = run_cli("data", "info", "--csv-dir", str(tiny_csv_dir), timeout=60)
    assert_one_line_error(result, "x_train.csv", "not a regular file")


@st.composite
def _csv_case(draw):
    n = draw(st.integers(1, 4))
    return {
        "seed": draw(st.integers(0, 2**16)), "n": n,
        "x_header": draw(st.booleans()), "y_header": draw(st.sampled_from([None, "0", "label"])),
        "bom": draw(st.sampled_from(["", "x", "y", "xy"])), "crlf": draw(st.booleans()),
        "y_extra": draw(st.integers(-1, 1)), "bad": draw(st.sampled_from([None, "12a", "", "256", "-1", "1.5", "y:abc"])),
        "bad_row": draw(st.integers(0, n - 1)), "bad_col": draw(st.integers(0, 783)),
    }


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_csv_case())
@example(case={"seed": 0, "n": 2, "x_header": False, "y_header": None, "bom": "", "crlf": False, "y_extra": 1,
               "bad": "y:abc", "bad_row": 0, "bad_col": 0})  # a name on y's line 1 is its header
def test_csv_reader_gives_a_clear_error_or_exactly_the_right_arrays(tmp_path_factory, case):
    """Header / no header x BOM x CRLF x missing or extra labels x one bad cell: never a wrong result."""
    rng = np.random.default_rng(case["seed"])
    n = case["n"]
    x = rng.integers(0, 256, (n, 784))
    y = rng.integers(0, 3, n)
    y[:2] = [0, 1][: min(2, n)] if n > 1 else y[:1]
    rows = [[str(v) for v in r] for r in x]
    labels = [str(v) for v in y]
    bad = case["bad"]
    if bad is not None and not bad.startswith("y:"):
        rows[case["bad_row"]][case["bad_col"]] = bad
    if bad == "y:abc":
        labels[case["bad_row"]] = "abc"
    if case["y_extra"] < 0:
        labels = labels[:-1]
    labels += ["2"] * max(case["y_extra"], 0)
    eol = "\r\n" if case["crlf"] else "\n"
    x_text = ([HEADER] if case["x_header"] else []) + [",".join(r) for r in rows]
    y_text = ([case["y_header"]] if case["y_header"] else []) + labels
    x_bytes = ("\ufeff" if "x" in case["bom"] else "") + eol.join(x_text) + eol
    y_bytes = ("\ufeff" if "y" in case["bom"] else "") + eol.join(y_text) + eol
    folder = _folder(tmp_path_factory.mktemp("case"), x_bytes, y_bytes)
    # The documented rule, applied to the y lines as written: a name is a header; with a header
    # in x, '0' is the seeds' header and any other number is refused.
    first = y_text[0] if y_text else ""
    y_header = first.isalpha() or (case["x_header"] and first == "0")  # "label", or "abc" written on line 1
    expected = y_text[1:] if y_header else y_text
    x_bad = bad is not None and not bad.startswith("y:")
    refused = (x_bad or "abc" in expected or len(expected) != n or len(set(expected)) < 2
               or (case["x_header"] and not y_header and first.lstrip("-").isdigit()))
    try:
        ds = read_csv_dir(folder)
    except DataError as exc:
        assert "\n" not in str(exc)
        assert refused, f"a readable folder was refused: {exc}"
        return
    assert not refused, "a folder the rule refuses was read"
    np.testing.assert_array_equal(ds.x_train.reshape(n, 784), x)
    np.testing.assert_array_equal(ds.y_train, [int(v) for v in expected])
    if case["y_extra"] == 0 and (case["y_header"] is None) != case["x_header"]:
        np.testing.assert_array_equal(ds.y_train, y)  # as written: the labels are exactly the true ones


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
        (lambda d: (d / "y_train.csv").write_text("0\n1\n2\n"), ["y_train.csv", "2 labels", "600 images", "header"]),
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
