"""Finding, verifying, downloading and reading the Fashion-MNIST archives."""

from __future__ import annotations

import functools
import gzip
import http.server
import struct
import threading

import numpy as np
import pytest

from conftest import assert_one_line_error, needs_real_data, run_cli
from twistfm.data import fashion_mnist as fm
from twistfm.data import load_twisted
from twistfm.data.twisted import CLASS_NAMES, MYSTERY_OF_CLASS, classes_of_label, twist
from twistfm.errors import DataError


def _idx_images(n: int) -> bytes:
    return struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + bytes(range(256)) * (n * 784 // 256) + bytes(n * 784 % 256)


def test_read_idx_gzip_and_raw(tmp_path):
    raw = _idx_images(4)
    (tmp_path / "a").write_bytes(raw)
    (tmp_path / "a.gz").write_bytes(gzip.compress(raw))
    a, b = fm.read_idx(tmp_path / "a"), fm.read_idx(tmp_path / "a.gz")
    assert a.shape == (4, 28, 28) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"\x00\x00\x09\x03" + b"\x00" * 12, "magic"),
        (_idx_images(4)[:-10], "truncated or corrupted"),
        (gzip.compress(_idx_images(4))[:-20], "corrupted gzip"),
        (b"\x00\x00\x08", "magic"),
    ],
)
def test_read_idx_rejects_bad_files(tmp_path, content, fragment):
    (tmp_path / "bad").write_bytes(content)
    with pytest.raises(DataError, match=fragment):
        fm.read_idx(tmp_path / "bad")


def test_mapping_is_the_measured_one():
    assert twist(np.arange(10)).tolist() == [0, 2, 2, 4, 4, 1, 0, 3, 3, 4]
    assert classes_of_label(4) == ["Dress", "Coat", "Ankle boot"]
    assert len(CLASS_NAMES) == len(MYSTERY_OF_CLASS) == 10


def test_search_order_and_explicit_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TWISTFM_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    origins = [origin for _, origin in fm.search_dirs(tmp_path / "explicit")]
    assert origins == ["--data-dir", "$TWISTFM_DATA", "cache", "debian"]
    with pytest.raises(DataError, match="missing train-images"):
        (tmp_path / "explicit").mkdir()
        fm.locate_archives(tmp_path / "explicit")


def test_no_network_no_files_names_both_remedies(tmp_path, monkeypatch):
    monkeypatch.delenv("TWISTFM_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "nothing")
    with pytest.raises(DataError) as info:
        fm.locate_archives(mirrors=("http://127.0.0.1:9/",))
    assert "apt-get install dataset-fashion-mnist" in str(info.value)
    assert "--data-dir" in str(info.value)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(folder):
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def test_download_rejects_and_removes_a_corrupted_archive(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in fm.ARCHIVES.values():
        (mirror / name).write_bytes(gzip.compress(b"not the real thing"))
    server, url = _serve(mirror)
    try:
        with pytest.raises(DataError, match="SHA-256"):
            fm.download_archives(tmp_path / "cache", mirrors=(url,))
    finally:
        server.shutdown()
    assert not list((tmp_path / "cache").glob("*.gz")), "a corrupted download must be deleted"
    assert not list((tmp_path / "cache").glob(".*tmp")), "no temporary file may be left behind"


@needs_real_data
@pytest.mark.realdata
def test_download_verifies_a_good_archive(tmp_path):
    real = fm.locate_archives(download=False)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in fm.ARCHIVES.values():
        (mirror / name).write_bytes((real.directory / name).read_bytes())
    server, url = _serve(mirror)
    try:
        archives = fm.download_archives(tmp_path / "cache", mirrors=(url,))
    finally:
        server.shutdown()
    assert archives.origin == "download"
    for name in fm.ARCHIVES.values():
        fm.verify_archive(tmp_path / "cache" / name)


# The mystery label of each class as the seed data measured it, written out by name so the
# check does not go through the mapping under test.
_MEASURED = {"T-shirt/top": 0, "Shirt": 0, "Sandal": 1, "Pullover": 2, "Trouser": 2, "Sneaker": 3, "Bag": 3,
             "Dress": 4, "Coat": 4, "Ankle boot": 4}


@needs_real_data
@pytest.mark.realdata
def test_real_twisted_counts_and_labels():
    x, y, c = load_twisted("train")
    assert x.shape == (60000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [12000, 6000, 12000, 12000, 18000]
    # The first ten training images are an ankle boot, three T-shirts around a dress, a pullover,
    # a sneaker, a pullover and two sandals.
    assert y[:10].tolist() == [4, 0, 0, 4, 0, 2, 3, 2, 1, 1]
    assert (y == np.array([_MEASURED[CLASS_NAMES[k]] for k in c])).all()
    _, y_test, _ = load_twisted("test")
    assert np.bincount(y_test).tolist() == [2000, 1000, 2000, 2000, 3000]


def test_corrupted_archive_in_data_dir_is_refused(tmp_path):
    for name in fm.ARCHIVES.values():
        (tmp_path / name).write_bytes(gzip.compress(b"x"))
    assert_one_line_error(run_cli("data", "info", "--data-dir", str(tmp_path)), "SHA-256")


def test_cli_version_and_help():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("twistfm ")
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("data", "models", "train", "compare"):
        assert command in result.stdout


@needs_real_data
@pytest.mark.realdata
def test_cli_data_info_real():
    result = run_cli("data", "info")
    assert result.returncode == 0, result.stderr
    assert "Dress, Coat, Ankle boot" in result.stdout
    assert "60000" in result.stdout
