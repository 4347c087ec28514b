"""Tables for people and other tools: CSV and Markdown text from rows, and an analysis's tables."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from ..analysis import Analysis, Clustering
from ..analysis.decode import LabelDecoding

__all__ = ["csv_text", "markdown_table", "analysis_tables", "contingency_rows", "label_names", "label_titles", "LAYERS",
           "AMBIGUOUS", "DECODING"]

#: File names of the tables an analysis writes (beside its figures).
LAYERS, AMBIGUOUS, DECODING = "layers.csv", "ambiguous.csv", "decoding.txt"


def csv_text(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as CSV text (columns from the first row)."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows of dicts as a Markdown table."""
    if not rows:
        return ""
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(str(r[h]) for h in head) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def contingency_rows(clustering: Clustering) -> list[dict[str, Any]]:
    """One row per cluster (named as the label it is matched to; "noise" for -1) with its count of each label."""
    names = clustering.names([int(v) for v in clustering.label_values])
    rows = [{"cluster": names[int(c)], **{f"label {v}": int(n) for v, n in zip(clustering.label_values, row, strict=True)}}
            for c, row in zip(clustering.cluster_ids, clustering.table, strict=True)]
    return sorted(rows, key=lambda r: (r["cluster"] == "noise", int(r["cluster"].split()[-1]) if r["cluster"] != "noise"
                                       else 0))


def label_names(decoding: LabelDecoding | None, label_values: list[int]) -> dict[int, str]:
    """Each label's name wherever the report or the explorer shows it: ``label 0 · Shirt + T-shirt/top``.

    The classes are those the decoding names the label by (most of whose images carry it);
    a label the decoding cannot name keeps ``label 0``.
    """
    meanings = {m.label: m for m in decoding.labels} if decoding is not None else {}
    names = {}
    for value in label_values:
        m = meanings.get(int(value))
        classes = sorted(m.classes, key=lambda n: -m.shares[n]) if m is not None else []
        title = m.title if m is not None else f"label {value}"
        names[int(value)] = title + (f" · {' + '.join(classes)}" if classes else "")
    return names


def label_titles(decoding: LabelDecoding | None, label_values: list[int], short: bool = False) -> dict[int, str]:
    """Each label as headings and captions name it: ``label 1 (round)`` where the data named it, else ``label 1``.

    ``short`` gives the name alone where there is one (``round``), for captions under small images.
    """
    meanings = {m.label: m for m in decoding.labels} if decoding is not None else {}
    titles = {}
    for value in label_values:
        m = meanings.get(int(value))
        if short and m is not None and m.name:
            titles[int(value)] = m.name
        else:
            titles[int(value)] = m.title if m is not None else f"label {value}"
    return titles


def analysis_tables(analysis: Analysis) -> dict[str, str]:
    """The analysis's tables by file name: layer scores, contingencies, ambiguous images, decoding."""
    tables = {LAYERS: csv_text([asdict(r) for r in analysis.layers.rows])}
    for name, clustering in analysis.clusterings.items():
        tables[f"{name}-contingency.csv"] = csv_text(contingency_rows(clustering))
    amb = analysis.ambiguous
    n = analysis.n_train
    tables[AMBIGUOUS] = csv_text([
        {"split": "train" if i < n else "test", "index": int(i if i < n else i - n), "label": int(g),
         "neighbour_majority": int(m), "disagreement": round(float(d), 3)}
        for i, g, m, d in zip(amb.index, amb.given, amb.majority, amb.disagreement, strict=True)])
    tables[DECODING] = "\n".join(analysis.decoding.lines()) + "\n"
    return tables
