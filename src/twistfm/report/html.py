"""The study report: one self-contained HTML file that reads top to bottom like the study.

It is built from a :class:`StudyReport` (the trained models, the comparison and the
:class:`~twistfm.analysis.Analysis` of one model, with their figures as PNG bytes); it
reads no file. Every figure is a PNG data URI and the explorer is inline, so the file works
offline and can be mailed as it is. The explorer is built only when it is scrolled into
view, so the page is readable at once.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..analysis import Analysis
from ..atomic import write_text
from ..data import LabelSummary
from . import sections as S
from .answer import THUMBNAILS, answer, inside
from .blocks import format_value
from .explorer import CSS as EXPLORER_CSS
from .explorer import ExplorerPart

__all__ = ["ModelReport", "StudyReport", "build_report", "format_value", "THUMBNAILS", "CSS"]

CSS = """
:root{--ink:#1d232a;--muted:#56616b;--line:#e3e7eb;--accent:#0072B2;--bg:#fbfcfd}
*{box-sizing:border-box}
body{margin:0;font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{background:#10212e;color:#fff;padding:2.2rem 0 1.6rem}header p{color:#c9d6df;margin:.3rem 0 0}
.wrap{max-width:1180px;margin:0 auto;padding:0 1.5rem}
h1{font-size:2rem;margin:0}h2{font-size:1.45rem;margin:2.6rem 0 .8rem;padding-top:.6rem;border-top:1px solid var(--line)}
h3{font-size:1.1rem;margin:1.6rem 0 .5rem}
nav.toc{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8rem 1.2rem;margin:1.6rem 0}
nav.toc ol{columns:2;margin:.3rem 0;padding-left:1.2rem}nav.toc a{color:var(--accent);text-decoration:none}
figure{margin:1rem 0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6rem;text-align:center}
figure img{max-width:100%;height:auto}figcaption{color:var(--muted);font-size:.9rem;margin-top:.4rem}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1rem}.grid .wide{grid-column:1/-1}
table{border-collapse:collapse;background:#fff;font-size:.9rem;margin:.6rem 0}
th,td{border-bottom:1px solid var(--line);padding:.35rem .6rem;text-align:right}th{background:#f1f4f7;font-weight:600}
td:first-child,th:first-child{text-align:left}tr.best td{background:#eaf4fb;font-weight:600}
pre{background:#10212e;color:#e8eef2;border-radius:8px;overflow-x:auto;font-size:.82rem;padding:.8rem}
.answer{background:#fff;border-left:4px solid var(--accent);padding:.6rem 1rem;margin:.6rem 0;border-radius:4px}
.answer .meaning{font-size:1.15rem;font-weight:600}.answer p{margin:.25rem 0;color:var(--muted);font-size:.95rem}
.thumbs{display:flex;flex-wrap:wrap;gap:1rem;margin-top:.35rem}.thumbs figure{margin:0;padding:.3rem;border:none}
.thumbs img{image-rendering:pixelated;height:42px;width:auto;max-width:none;cursor:zoom-in}
.thumbs img.big{height:auto;width:756px;max-width:100%;cursor:zoom-out}.thumbs figcaption{font-size:.85rem;margin:0}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(200px,1fr));gap:.8rem;margin:1rem 0}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}.card b{display:block;font-size:1.5rem}
.muted{color:var(--muted)}.note{background:#fff8e6;border:1px solid #f0d9a0;border-radius:6px;padding:.5rem .8rem}
.table-wrap{max-width:100%;overflow-x:auto}.table-wrap table{margin:.6rem 0}
.precision{font-size:.92rem;margin:.3rem 0 .6rem}
main{overflow-wrap:anywhere}
@media (max-width:760px){
  .wrap{padding:0 .8rem}h1{font-size:1.5rem}
  nav.toc ol{columns:1}
  .grid{grid-template-columns:minmax(0,1fr)}
  .cards{grid-template-columns:repeat(2,minmax(0,1fr))}
  table{font-size:.82rem}th,td{padding:.3rem .4rem}
}
"""


@dataclass(frozen=True, kw_only=True)
class ModelReport:
    """One trained model as the report shows it.

    Attributes
    ----------
    label : str
        The model's name in the study (e.g. ``"cm1-adam"``).
    summary : str
        Its Keras-style layer table.
    metrics : dict
        Its ``metrics.json``.
    figures : dict
        Training figures (PNG bytes) by name (:data:`figures.LOSS`, ...).
    """

    label: str
    summary: str
    metrics: dict[str, Any]
    figures: dict[str, bytes]


@dataclass(frozen=True, kw_only=True)
class StudyReport:
    """Everything the report shows.

    Attributes
    ----------
    title, command : str
        The page title and the command that repeats the study.
    config : dict
        The study's configuration (shown in full).
    data_source : str
    label_counts : list of LabelSummary
    val_split : float
        The share of training images held out for validation (the last ones, in file order).
    models : list of ModelReport
    comparison : list of dict
        Rows of the comparison table, one per trained run.
    stats : list of dict
        Per model: its test accuracy over its seeds (see :func:`twistfm.workflows.comparison_stats`).
    comparison_figure : bytes
    analyzed : str
        Label of the analysed model.
    analysis : Analysis
    analysis_figures : dict
        The analysis figures (PNG bytes) by name.
    test_images : ndarray of uint8
        The test images (for the thumbnails beside each label's meaning).
    explorer : ExplorerPart or None
    elapsed_seconds : float
    notes : list of str
    """

    title: str
    command: str
    config: dict[str, Any]
    data_source: str
    label_counts: list[LabelSummary]
    val_split: float
    models: list[ModelReport]
    comparison: list[dict[str, Any]]
    stats: list[dict[str, Any]]
    comparison_figure: bytes
    analyzed: str
    analysis: Analysis
    analysis_figures: dict[str, bytes]
    test_images: np.ndarray
    explorer: ExplorerPart | None = None
    elapsed_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _sections(study: StudyReport) -> list[tuple[str, str, str]]:
    """Each section of the report, in order: its id, its title and its HTML."""
    sections = [("summary", "The answer", answer), ("data", "The data", S.data), ("models", "The models", S.models),
                ("training", "Training curves", S.training), ("comparison", "Results", S.comparison),
                ("confusion", "Confusion matrices", S.confusion), ("layers", "Which layer encodes best", S.layers)]
    if study.analysis.discovery is not None:
        sections.append(("inside", "What the network sees inside each label", inside))
    sections += [("pca", "PCA", S.pca), ("clustering", "Clustering", S.clustering), ("tsne", "t-SNE", S.tsne)]
    if study.explorer:
        sections.append(("explorer", "Explore every image", S.explorer))
    sections += [("galleries", "Galleries", S.galleries), ("meaning", "What each label means", S.meaning),
                 ("ambiguous", "Ambiguous images", S.ambiguous), ("repeat", "How to repeat this study", S.repeat)]
    return [(sid, title, render(study)) for sid, title, render in sections]


#: Clicking (or Enter on) a strip of thumbnails enlarges it; again, shrinks it.
_ENLARGE = """document.addEventListener("click", (e) => { if (e.target.matches(".thumbs img")) {
  const big = e.target.classList.toggle("big"); e.target.setAttribute("aria-pressed", String(big)); } });
document.addEventListener("keydown", (e) => { if (e.key === "Enter" && e.target.matches(".thumbs img")) e.target.click(); });"""


def build_report(path, study: StudyReport):
    """Write the self-contained report to ``path`` and return it."""
    sections = _sections(study)
    toc = "".join(f'<li><a href="#{sid}">{html.escape(title)}</a></li>' for sid, title, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{html.escape(title)}</h2>{content}</section>'
                   for sid, title, content in sections)
    scripts = study.explorer.scripts if study.explorer else ""
    page = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{html.escape(study.title)}</title>'
            f"<style>{CSS}{EXPLORER_CSS if study.explorer else ''}</style></head><body><header><div class=wrap>"
            f"<h1>{html.escape(study.title)}</h1><p>What does the mystery label mean? A study by twistfm.</p></div>"
            f'</header><main class=wrap><nav class="toc"><b>Contents</b><ol>{toc}</ol></nav>{body}</main>'
            f"<script>{_ENLARGE}</script>{scripts}</body></html>")
    write_text(path, page)
    return path
