"""The report's answer: what each label means, the groups found blind inside it, and how they were found.

:func:`answer` opens the report (the key figures as cards, then one block per label: its
meaning, thumbnails of the groups found inside it and one sentence on how); :func:`inside`
is the section on those groups. Labels are named as the data named them
(``label 1 (round)``). :class:`Facts` holds the numbers stated in more than one place.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..analysis import Analysis
from ..analysis.discover import WEAK
from . import figures as F
from .blocks import figure, grid, plural, table, thumbnails
from .tables import label_names, label_titles

if TYPE_CHECKING:
    from .html import StudyReport

__all__ = ["Facts", "facts_of", "answer", "inside", "THUMBNAILS"]

#: Thumbnails per group shown beside each label's meaning at the top of the report.
THUMBNAILS = 6


@dataclass(frozen=True)
class Facts:
    """The numbers the report states in more than one place, computed once: every card and section reads them here."""

    labels: list[int]
    names: dict[int, str]
    titles: dict[int, str]
    classes: dict[int, list[str]]
    groups: dict[int, int]
    discovery_layer: str | None

    @property
    def n_classes(self) -> int:
        return len({c for cs in self.classes.values() for c in cs})

    @property
    def kinds(self) -> int | None:
        return sum(self.groups.values()) if self.groups else None

    @property
    def exact(self) -> int:
        return sum(self.groups.get(v) == len(self.classes[v]) for v in self.labels if self.classes[v])


def facts_of(analysis: Analysis) -> Facts:
    """The facts of ``analysis`` the report states."""
    values = [m.label for m in analysis.decoding.labels]
    discovery = analysis.discovery
    return Facts(labels=values, names=label_names(analysis.decoding, values),
                 titles=label_titles(analysis.decoding, values),
                 classes={m.label: sorted(m.classes, key=lambda n: -m.shares[n]) for m in analysis.decoding.labels},
                 groups={lg.label: len(lg.groups) for lg in discovery.per_label} if discovery else {},
                 discovery_layer=discovery.layer if discovery else None)


def answer(study: StudyReport) -> str:
    """The answer: the cards, then each label's meaning beside the groups found inside it and how it was found."""
    best = max(study.comparison, key=lambda r: float(r["test_acc"]))
    analysis = study.analysis
    facts = facts_of(analysis)
    kinds = facts.kinds
    cards = [("best test accuracy", f"{float(best['test_acc']):.2%}", str(best["model"]), "accuracy"),
             ("mystery labels", str(len(facts.labels)), f"together named by {facts.n_classes} original classes" if
              facts.n_classes else "no original class is known", "labels"),
             ("groups found blind", str(kinds) if kinds is not None else "-",
              "inside the labels' test images, from the encoding alone"
              + (f"; the check finds {facts.n_classes} classes" if facts.n_classes else "")
              if kinds is not None else "discovery was not run", "kinds"),
             ("study time", f"{study.elapsed_seconds / 60:.1f} min", "on this machine", "time")]
    out = '<div class="cards">' + "".join(
        f'<div class="card" data-fact="{key}"><span class="muted">{t}</span><b>{v}</b><span class="muted">'
        f"{html.escape(sub)}</span></div>" for t, v, sub, key in cards) + "</div>"
    out += ("<p>Each label is named by the original Fashion-MNIST classes most of whose images carry it (the check, "
            "which uses the classes); beside it, the groups found inside it <em>blind</em>, without the classes. "
            "Under each name, a percentage is the share of that class's images that carry the label.</p>"
            if facts.n_classes else
            "<p>The original classes of these images are not known, so no label is named by them: each label is "
            "shown with the groups found inside it <em>blind</em>, from the images and labels alone.</p>")
    groups = {lg.label: lg for lg in analysis.discovery.per_label} if analysis.discovery else {}
    for meaning in analysis.decoding.labels:
        lg = groups.get(meaning.label)
        thumbs = _group_thumbnails(study.test_images, facts.titles[meaning.label], lg) if lg is not None else ""
        classes = facts.classes[meaning.label]
        shares = "; ".join(f"{meaning.shares[c]:.0%} of {c} images carry it" for c in classes)
        out += (f'<div class="answer" data-label="{meaning.label}"><div class="meaning">'
                f"{html.escape(facts.names[meaning.label].replace(' · ', ' = ', 1))}</div>"
                f"<p>{html.escape(shares)}{'.' if shares else ''}</p>"
                f"<p>{html.escape(_how_found(meaning.label, lg, analysis, facts))}</p>{thumbs}</div>")
    return out


def _group_thumbnails(images, title: str, lg) -> str:
    """A strip of each group's most typical images, captioned, for the label ``title`` names."""
    return '<div class="thumbs">' + "".join(
        f"<figure>{thumbnails(images[g.typical[:THUMBNAILS]], _group_caption(title, k, g))}"
        f"<figcaption>{html.escape(_group_caption(title, k, g))}</figcaption></figure>"
        for k, g in enumerate(lg.groups)) + "</div>"


def _group_caption(title: str, k: int, group) -> str:
    """A group's caption: its label's title, its size and, where the classes are known, the class most of it is."""
    seen = f", looks like {group.looks_like} ({group.share:.0%} of the group)" if group.looks_like else ""
    return f"{title}, group {k + 1}: {group.size:,} images{seen}"


def _how_found(label: int, lg, analysis: Analysis, facts: Facts) -> str:
    """One sentence on how the meaning of ``label`` was found: the blind groups first, then the check."""
    recovery = ", ".join(f"{k} {v:,}" for k, v in analysis.decoding.recovery.items())
    check = f"the check by each image's original class ({recovery})"
    n_classes = len(facts.classes[label])
    if lg is None:
        return f"Named by {check}: {plural(n_classes, 'class', 'classes')}."
    if not n_classes:
        return (f"Found blind in the encoding of {facts.discovery_layer}: its test images form "
                f"{plural(facts.groups[label], 'group')}; no original class is known to check them.{_weak(lg)}")
    agree = ("as many as the classes" if facts.groups[label] == n_classes else
             "more than the classes: a class splits into look-alike groups" if facts.groups[label] > n_classes else
             "fewer than the classes: look-alike classes merge")
    ari = f"; ARI against the classes {lg.ari:.2f}" if lg.ari is not None else ""
    return (f"Found blind in the encoding of {facts.discovery_layer}: its test images form "
            f"{plural(facts.groups[label], 'group')}; {check} names {plural(n_classes, 'class', 'classes')}"
            f" ({agree}{ari}).{_weak(lg)}")


def _weak(lg) -> str:
    """A sentence where a label's count could have gone otherwise: its votes disagree, or (a count without votes) it
    sits near the threshold; empty where it is clear."""
    count = lg.count
    if not count.weak:
        return ""
    if count.contested:
        by_threshold, on_maps, on_encoding = count.votes
        return (f" The count is weak: its three votes disagree (the largest k reaching the threshold "
                f"{count.threshold:g}: {by_threshold}; the dip test on the maps: {on_maps}, on the encoding: "
                f"{on_encoding}), and {count.chosen}, their median, is shown; look at the groups' images before taking "
                "the split as found.")
    score = dict(zip(count.ks, count.scores, strict=True))
    above = [k for k in count.ks if k > count.chosen and score[k] >= count.threshold - WEAK]
    if above:
        other = f"{above[0]} groups reach {score[above[0]]:.2f}, just under"
    else:
        other = f"{count.chosen} groups reach {score[count.chosen]:.2f}, just over"
    return (f" The count is weak: {other} the threshold {count.threshold:g}, so another threshold close to it would "
            f"count differently; look at the groups' images before taking the split as found.")


def inside(study: StudyReport) -> str:
    """What the network sees inside each label: the groups found blind, how they were counted, their figures."""
    discovery = study.analysis.discovery
    facts = facts_of(study.analysis)
    named = any(m.name for m in study.analysis.decoding.labels)  # a label the data named is shown by its name
    figs = study.analysis_figures
    rows = [{"label": facts.titles[lg.label] if named else lg.label, "groups found blind": facts.groups[lg.label],
             "original classes (the check)": len(facts.classes[lg.label]) if facts.classes[lg.label] else "-",
             "ARI groups vs classes": lg.ari, "groups (size, looks like: share of the group)": "; ".join(
                 f"{g.size:,}" + (f" {g.looks_like}: {g.share:.0%}" if g.looks_like else "") for g in lg.groups)}
            for lg in discovery.per_label]
    overall = discovery.overall
    exact = (f" The blind count equals the classes in {facts.exact} of {len(discovery.per_label)} labels."
             if facts.n_classes else "")
    return (f"<p>Without the original classes, the test images of each label are split into groups in the encoding "
            f"of <b>{html.escape(discovery.layer)}</b> (an early layer, which keeps the differences the label merges; "
            f"the maps and the clustering below use {html.escape(study.analysis.layer)}): "
            f"{_method(discovery.params)} (a label of one kind keeps one group){_small_labels(discovery.params)}. "
            "Together the labels hold "
            f"<b data-fact=\"kinds\">{facts.kinds}</b> groups found blind"
            f"{f'; the check names {facts.n_classes} original classes' if facts.n_classes else ''}.{exact} "
            f"Ignoring the labels, {_overall_method(overall)} finds {overall.chosen}"
            f"{': look-alike kinds merge into families there' if overall.chosen < facts.kinds else ''}. "
            "The original classes, where known, only name and score the groups: each group is named by the class most "
            "of its images are, with that class's share of the group.</p>" + table(rows)
            + figure(figs.get(F.GROUPS), "One row per group: its most typical images, then borderline ones")
            + grid(figure(figs.get(F.CRITERION), "The criterion inside each label"),
                    figure(figs.get(F.CRITERION_ALL), "The criterion over the whole set")))


def _overall_method(overall) -> str:
    """How the whole set was counted with the labels ignored, in words."""
    if overall.rule == "silhouette":
        return ("one map of all test images, made from half of them and counted by the best silhouette of the "
                f"other half (one group below {overall.threshold:g}),")
    return "the same criterion on one map of all test images"


def _small_labels(params: dict) -> str:
    """The clause on labels too small for a held-out count, where the discovery recorded the limit ("" otherwise)."""
    if params.get("least_mapped") is None:
        return ""
    return (f"; a label of fewer than {params['least_mapped']} images has too few to hold any out and is kept as one "
            "group")


def _method(params: dict) -> str:
    """How the groups were counted, in words, from the discovery's own parameters."""
    dims = f"its {params['pca_dims']} principal components"
    if params.get("count") == "held-out":
        held_out = (f"{dims} are mapped to 2-D by a t-SNE made from a random half of the label's images, the other half "
                    f"placed into it; ")
        largest = (f"the largest number of groups whose {params['criterion']} (the map's strength measured on the "
                   f"placed images only, averaged over {params['maps']} maps) reaches {params['threshold']:g}")
        if params.get("dip_level") is None:
            return held_out + "the number of groups is " + largest
        return (held_out + f"the number of groups is the median of three votes: {largest}; and the groups found by "
                "halving with 2-means while Hartigan's dip test rejects one mode along the line through the two "
                f"centres (level {params['dip_level']:g}), on the placed images of the maps and on the encoding")
    return (f"{dims} are embedded in 2-D by one t-SNE per label, and the number of groups is the largest whose "
            f"{params.get('criterion', 'K-means prediction strength')} reaches {params['threshold']:g}")
