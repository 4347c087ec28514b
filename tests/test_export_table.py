"""The table for other tools: one row per analysed image, readable by pandas, in Embedding Atlas's layout."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from conftest import assert_cli_error, cli, split_dataset, synthetic_images, write_csv_dir

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("table")
    x, y = synthetic_images(700, 3, seed=13)
    csv_dir = write_csv_dir(tmp / "csv", split_dataset(x, y, 500))
    assert cli("train", "cm1", "--epochs", "1", "--csv-dir", str(csv_dir), "--runs", str(tmp / "r"))[0] == 0
    run = next((tmp / "r").iterdir())
    code, _, err = cli("analyze", str(run))
    assert code == 0, err
    return run, x


def test_export_table_has_one_row_per_image_with_its_png(tmp_path, analysed):
    run, x = analysed
    code, out, err = cli("export-table", str(run), "--out", str(tmp_path / "t.parquet"))
    assert code == 0, err
    assert "embedding-atlas" in out
    df = pd.read_parquet(tmp_path / "t.parquet")
    assert len(df) == 700 and df["id"].tolist() == list(range(700))
    assert (df["split"] == "train").sum() == 500 and df.loc[500, "index"] == 0
    for column in ("label", "predicted", "correct", "class", "kmeans", "dbscan", "hdbscan", "group", "tsne_x", "tsne_y",
                   "pca_x", "pca_y", "neighbors", "image"):
        assert column in df.columns, column
    assert df["group"].iloc[:500].isna().all() and df["group"].iloc[500:].notna().all()
    first = df["neighbors"].iloc[0]
    assert len(first["ids"]) == len(first["distances"]) == 10 and 0 not in first["ids"]
    for row in (0, 650):
        image = np.asarray(Image.open(io.BytesIO(df["image"].iloc[row])))
        assert (image == x[row]).all()


def test_export_table_to_a_folder_is_refused(tmp_path, analysed):
    run, _ = analysed
    assert_cli_error(cli("export-table", str(run), "--out", str(tmp_path)), "is a folder")
