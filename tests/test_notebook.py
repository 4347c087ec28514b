"""examples/seed-study.ipynb: committed without outputs, and run top to bottom on small data in a real kernel.

The notebook's cell tagged ``parameters`` is replaced by small counts and one epoch (as
papermill does), then nbclient executes every cell in a Jupyter kernel; the test reads what
each cell showed: figures as PNG, results as HTML tables, the explorer in an iframe, nothing
on stderr.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from conftest import needs_real_data

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "seed-study.ipynb"
SMALL = "N_TRAIN = 600\nN_TEST = 200\nEPOCHS = 1"


def _code_cells(nb) -> list:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_the_example_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cells = _code_cells(nb)
    assert all(cell.outputs == [] and cell.execution_count is None for cell in cells)
    assert [i for i, cell in enumerate(cells) if "parameters" in cell.metadata.get("tags", [])] == [0]
    assert 8 <= len(cells) <= 16  # about a dozen


def _shown(cell) -> set[str]:
    """The kinds of output a cell showed: MIME types, 'stderr', 'stdout', 'error'."""
    kinds = set()
    for out in cell.outputs:
        if out.output_type == "stream":
            kinds.add(out.name)
        elif out.output_type == "error":
            kinds.add("error")
        else:
            kinds.update(out.get("data", {}))
    return kinds


def _html(cell) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in cell.outputs)


@pytest.mark.realdata
@pytest.mark.slow
@needs_real_data
def test_the_example_notebook_runs_top_to_bottom_on_small_data(tmp_path):
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = _code_cells(nb)
    cells[0].source = SMALL
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert list(tmp_path.iterdir()) == []  # in memory: nothing written where the notebook runs
    for cell in cells:
        assert not _shown(cell) & {"error", "stderr"}, (cell.source, cell.outputs)
    by_source = {cell.source.split("\n")[0]: cell for cell in cells}

    def cell(start: str):
        return next(c for first, c in by_source.items() if first.startswith(start))

    assert "<table" in _html(cell("import pandas"))
    run = _html(cell("cm1 = twistfm.train"))
    assert "<table" in run and "model-a" in run and "data:image/png" in run
    assert "<table" in _html(cell("runs = {"))
    for start in ("model_a.plot_history()", "display(analysis.plot", "for label in data.label_values"):
        assert "image/png" in _shown(cell(start)), start
    pngs = sum("image/png" in out.get("data", {}) for out in cell("from IPython.display import display").outputs)
    assert pngs == 2
    assert "<table" in _html(cell("encoding = twistfm.encode"))
    assert "what each label means" in _html(cell("analysis = twistfm.analyse"))
    assert "typical images" in _html(cell("analysis.discovery"))
    meaning = cell("for line in analysis.meaning")
    lines = "".join(out.text for out in meaning.outputs if out.output_type == "stream").splitlines()
    assert lines[1] == "label 1 = Sandal (100%)" and len(lines) == 5
    assert "image/png" in _shown(meaning)
    assert _html(cell("analysis.explore()")).startswith("<iframe srcdoc=")
