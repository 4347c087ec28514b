"""Discovery representations compared: the classifier's encoding, an images-only autoencoder, both.

Usage: python bench/discover_repr.py [--part tune|report] [--cases fashion digits seed]
       [--reps pool1 ae pool1+ae] [--ae-epochs 8] [--ae-code 32] [--ae-width 32]
       [--threshold T]

For every case of ``bench/discover_bench.py`` (train its classifiers first with
``discover_bench.py --train-only``; the ``ae`` representation alone needs none), discovery
runs with the library's count rule on each representation:

- ``pool1``: the classifier's first candidate layer (what ``discover`` uses today);
- ``ae``: the code of a convolutional autoencoder trained on the image set's training images
  only (no labels; one per image set, cached), as N2D does;
- ``pool1+ae``: both, each row of each part scaled to unit length, side by side;
- ``pool1-flip``, ``pool1-avg2``, ``pool1-flip-avg2``: the classifier's pool1 made invariant
  to what its training augmented: the sum of the encodings of each image and of its mirror
  image (invariant to the flip), average pooling of the map over 2 x 2 cells (tolerant of
  one-pixel shifts), or both. The classifier is trained again (same recipe and seed as the
  cached one: ``pool1-again`` is its plain pool1, which must give pool1's figures);
- ``con-LAYER``: layer LAYER (pool1, pool2, flatten, dense1) of tfm-small trained on the
  labels beside a contrastive objective (``bench/_contrastive.py``; one per case, cached);
- ``enc-LAYER``: the cached classifier's layer LAYER (any candidate layer, e.g. ``enc-pool2``);
- ``vote:A,B,...``: no representation of its own: each label's count is the median of the
  votes of representations A, B, ... (three each; the lower of the middle two where their
  number is even), its groups K-means with that count on A's first map (each must be in
  ``--reps`` before it).

It prints per case the counts found against the truth, and a summary per representation and
kind of case: labels whose count is exact, mean fine-class recovery, mean discovery seconds.
The classes only score.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _autoencoder import autoencoder_code, train_autoencoder
from _contrastive import train_contrastive
from _kinds import cpu_line
from discover_bench import cases, encodings, images

from twistfm.analysis.discover import THRESHOLD, discover
from twistfm.analysis.discover_count import _numbered
from twistfm.analysis.metrics import recovery_accuracy
from twistfm.data import Dataset
from twistfm.encode import encode, encode_layers
from twistfm.recipes import recipe
from twistfm.train import fit


def ae_codes(kind: str, cache: Path, epochs: int, code: int, width: int) -> tuple[np.ndarray, float]:
    """The autoencoder code of the image set's test images (trained on its training images; cached)."""
    image_set = "digits" if kind == "digits" else "fashion"
    path = cache / (f"ae-{image_set}-e{epochs}-c{code}" + (f"-w{width}" if width != 32 else "") + ".npz")
    if path.exists():
        with np.load(path) as stored:
            return stored["code"], float(stored["seconds"])
    x_train, _, x_test, _ = images(kind)
    start = time.perf_counter()
    model = train_autoencoder(x_train, code=code, width=width, epochs=epochs * (10 if image_set == "digits" else 1))
    seconds = time.perf_counter() - start
    out = autoencoder_code(model, x_test)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, code=out, seconds=seconds)
    return out, seconds


INVARIANT = ("pool1-again", "pool1-flip", "pool1-avg2", "pool1-flip-avg2")


def invariant_pool1(case, cache: Path) -> dict[str, np.ndarray]:
    """The ``INVARIANT`` encodings of the test images, from the case's classifier trained again (cached)."""
    key = hashlib.sha256(json.dumps([case.kind, case.grouping.tolist(), case.model, case.seed,
                                     "invariant pool1"]).encode()).hexdigest()[:16]
    path = cache / f"inv-{case.kind}-{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            return {k: stored[k].astype(np.float32) for k in stored.files}
    x_train, c_train, x_test, c_test = images(case.kind)
    g = case.grouping
    dataset = Dataset.from_arrays(x_train, g[c_train], x_test, g[c_test], source=case.name)
    model = fit(recipe(case.model, seed=case.seed, **({"epochs": 40} if case.kind == "digits" else {})), dataset,
                log=None).model
    plain = encode(model, x_test, "pool1")
    mirrored = encode(model, np.ascontiguousarray(x_test[:, :, ::-1]), "pool1")
    channels = model.pool1(model.block1(torch.zeros(1, 1, 28, 28))).shape[1]

    def avg2(X: np.ndarray) -> np.ndarray:
        side = int(round(np.sqrt(X.shape[1] / channels)))
        maps = torch.from_numpy(X).reshape(len(X), channels, side, side)
        return torch.nn.functional.avg_pool2d(maps, 2, ceil_mode=True).reshape(len(X), -1).numpy()

    out = {"pool1-again": plain, "pool1-flip": plain + mirrored, "pool1-avg2": avg2(plain),
           "pool1-flip-avg2": avg2(plain + mirrored)}
    out = {k: v.astype(np.float16) for k, v in out.items()}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return {k: v.astype(np.float32) for k, v in out.items()}


#: Changes whenever bench/_contrastive.py's training changes, so that its cached encodings are not reused.
CONTRASTIVE_VERSION = "tfm-small, _contrastive.py of 2026-12-04"


def con_layers(case, cache: Path, epochs: int, weight: float) -> tuple[dict[str, np.ndarray], dict]:
    """Test encodings of the contrastive classifier trained on the case's labels (cached), with its accuracy and time."""
    key = hashlib.sha256(json.dumps([case.kind, case.grouping.tolist(), CONTRASTIVE_VERSION, case.seed, epochs,
                                     weight]).encode()).hexdigest()[:16]
    path = cache / f"con-{case.kind}-{key}.npz"
    if path.exists():
        with np.load(path) as stored:
            return ({k[6:]: stored[k].astype(np.float32) for k in stored.files if k.startswith("layer:")},
                    json.loads(str(stored["info"])))
    x_train, c_train, x_test, c_test = images(case.kind)
    g = case.grouping
    start = time.perf_counter()
    model = train_contrastive(x_train, g[c_train], int(g.max()) + 1, epochs=epochs * (5 if case.kind == "digits" else 1),
                              weight=weight, seed=case.seed)
    seconds = time.perf_counter() - start
    names = ["pool1", "pool2", "flatten", "dense1", "output"]
    out = {k: v.astype(np.float16) for k, v in encode_layers(model, x_test, names)}
    info = {"train_seconds": seconds, "test_acc": float((out.pop("output").argmax(1) == g[c_test]).mean())}
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, info=json.dumps(info), **{f"layer:{k}": v for k, v in out.items()})
    return {k: v.astype(np.float32) for k, v in out.items()}, info


def vote_row(case, rep: str, founds: list, labels: np.ndarray, classes: np.ndarray, truth: list[int]) -> dict:
    """A ``vote:`` row: each label's count from the discoveries' votes, its groups on the first one's map."""
    group = np.zeros(len(labels), dtype=np.int64)
    counts = []
    for i, value in enumerate(np.unique(labels)):
        votes = sorted(v for found in founds
                       for v in (found.per_label[i].count.votes or [found.per_label[i].count.chosen] * 3))
        k = votes[(len(votes) - 1) // 2]
        mask = labels == value
        group[mask] = _numbered(founds[0].label_points[mask], k, 0)
        counts.append(k)
    exact = sum(c == t for c, t in zip(counts, truth, strict=True))
    recovery = recovery_accuracy(labels * 100 + group, classes)
    print(f"{case.name:28s} {rep:10s} counts {' '.join(map(str, counts))} (truth {' '.join(map(str, truth))}): "
          f"exact {exact}/{len(counts)}, recovery {recovery:.3f}", flush=True)
    return {"kind": case.kind, "rep": rep, "labels": len(counts), "exact": exact, "recovery": recovery,
            "seconds": float("nan")}  # not timed on its own: the discoveries it combines are timed above


def unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("tune", "report"), default="tune")
    parser.add_argument("--cases", nargs="+", choices=("seed", "fashion", "digits"), default=["fashion", "digits"])
    parser.add_argument("--groupings", nargs="+", type=int, default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--seed-models", nargs="+", default=["quick"])
    parser.add_argument("--cache", default="runs/bench/discover-cache")
    parser.add_argument("--reps", nargs="+", default=["pool1", "ae", "pool1+ae"])
    parser.add_argument("--ae-epochs", type=int, default=8)
    parser.add_argument("--ae-code", type=int, default=32)
    parser.add_argument("--ae-width", type=int, default=32, help="channels of the autoencoder's first convolution")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--con-epochs", type=int, default=8)
    parser.add_argument("--con-weight", type=float, default=1.0, help="weight of the contrastive loss")
    args = parser.parse_args()
    print(cpu_line(), flush=True)
    print(f"part {args.part}; representations {args.reps}; threshold {args.threshold}; "
          f"autoencoder {args.ae_epochs} epochs, code {args.ae_code}, width {args.ae_width}; "
          f"torch threads {torch.get_num_threads()}", flush=True)
    cache = Path(args.cache)
    rows = []
    for case in cases(args):
        wants_ae = any("ae" in r for r in args.reps)
        code, ae_seconds = (ae_codes(case.kind, cache, args.ae_epochs, args.ae_code, args.ae_width) if wants_ae
                            else (None, 0.0))
        layers, classes = None, None
        if any(r == "pool1" or r.startswith(("pool1+", "enc-")) for r in args.reps):
            layers, classes, info = encodings(case, cache)
        con, inv = None, None
        if any(r in INVARIANT for r in args.reps):
            inv = invariant_pool1(case, cache)
        if any(r.startswith("con-") for r in args.reps):
            con, con_info = con_layers(case, cache, args.con_epochs, args.con_weight)
            print(f"{case.name}: contrastive classifier test accuracy {con_info['test_acc']:.4f}, trained in "
                  f"{con_info['train_seconds']:.0f} s", flush=True)
        if classes is None:
            classes = images(case.kind)[3]
        labels = case.grouping[classes]
        truth = [len(np.unique(classes[labels == v])) for v in np.unique(labels)]
        founds = {}
        for rep in args.reps:
            if rep.startswith("vote:"):
                names = rep[5:].split(",")
                if any(name not in founds for name in names):
                    raise SystemExit(f"--reps {rep} needs {', '.join(names)} before it")
                rows.append(vote_row(case, rep, [founds[name] for name in names], labels, classes, truth))
                continue
            parts = []
            if rep in INVARIANT:
                parts.append(unit(inv[rep]))
            elif rep.startswith("con-"):
                if rep[4:] not in con:
                    raise SystemExit(f"--reps {rep}: the contrastive model's layers are {', '.join(con)}")
                parts.append(unit(con[rep[4:]]))
            elif rep.startswith("enc-"):
                parts.append(unit(layers[rep[4:]]))
            elif "pool1" in rep:
                parts.append(unit(layers[info["layers"][0]]))
            if "ae" in rep:
                parts.append(unit(code))
            X = np.hstack(parts)
            start = time.perf_counter()
            found = discover(X, labels, classes, layer=rep, threshold=args.threshold)
            seconds = time.perf_counter() - start
            founds[rep] = found
            counts = [len(lg.groups) for lg in found.per_label]
            recovery = recovery_accuracy(labels * 100 + found.group, classes)
            rows.append({"kind": case.kind, "rep": rep, "labels": len(counts), "exact": found.exact,
                         "recovery": recovery, "seconds": seconds})
            print(f"{case.name:28s} {rep:10s} counts {' '.join(map(str, counts))} (truth {' '.join(map(str, truth))}): "
                  f"exact {found.exact}/{len(counts)}, recovery {recovery:.3f}, {seconds:.1f} s"
                  + (f" (autoencoder trained in {ae_seconds:.0f} s)" if "ae" in rep else ""), flush=True)
    print("\n| cases | representation | labels | counts exact | mean fine-class recovery | mean discover s |")
    print("|---|---|---|---|---|---|")
    for kind in dict.fromkeys(r["kind"] for r in rows):
        for rep in args.reps:
            mine = [r for r in rows if r["kind"] == kind and r["rep"] == rep]
            labels, exact = sum(r["labels"] for r in mine), sum(r["exact"] for r in mine)
            print(f"| {kind} ({len(mine)}) | {rep} | {labels} | {exact} ({exact / labels:.0%}) | "
                  f"{np.mean([r['recovery'] for r in mine]):.3f} | {np.mean([r['seconds'] for r in mine]):.1f} |")


if __name__ == "__main__":
    sys.exit(main())
