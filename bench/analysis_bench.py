"""Analysis benchmark: t-SNE speed and quality (10,000 and 70,000 points), and which layer encodes best.

Usage: python bench/analysis_bench.py [--run RUN | --pixels] [--tsne-only] [--schedules [--draws N ...]]
       [--kinds native avx2]

1. Trains model-a as seed 002 did (Adam, batch 32, 5 epochs) on the full data, unless a
   trained run is given, or ``--pixels`` studies the test images' pixels instead.
2. t-SNE of the 10,000 test points (model-a's second dense layer, seed 002's choice, or the
   pixels): scikit-learn's TSNE with its defaults against twistfm's, timed in the same run,
   each with its neighbourhood preservation (the share of each point's 10 nearest neighbours
   in the encoding that stay among its 10 nearest in 2-D). Targets: >= 4x faster than
   scikit-learn, preservation at least scikit-learn's.
3. t-SNE of all 70,000 images: twistfm's embedding of the test images with the training
   images placed into it, timed, with its preservation (over all 70,000 points). Target: <= 90 s.
4. The layer table: K-means NMI and ARI, 5-NN accuracy and silhouette for every candidate
   layer, with the best layer and the seed's choice side by side.

``--schedules`` instead tries t-SNE schedules on 10,000 *training* images' pixels (five
draws by default, each with a fixed seed; the test images above are never used to choose
one), each timed beside scikit-learn's in the same run, with its preservation.

Every figure is printed for each kind of CPU (the machine as it is, and AVX2 only), each in
its own child process, one after the other (see ``bench/_kinds.py``); ``--tsne-only`` stops
after step 2.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _kinds import main_for_kinds
from sklearn.manifold import TSNE

from twistfm.analysis import AnalysisConfig
from twistfm.analysis.layers import score_layers
from twistfm.analysis.project import neighbourhood_preservation, tsne
from twistfm.data import DataSpec, load_dataset
from twistfm.encode import encode
from twistfm.recipes import recipe
from twistfm.runs import RunDir
from twistfm.workflows import train


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=None, help="a trained model-a run (default: train one)")
    parser.add_argument("--pixels", action="store_true", help="t-SNE of the test images' pixels (no model)")
    parser.add_argument("--tsne-only", action="store_true", help="stop after the 10,000-point t-SNE comparison")
    parser.add_argument("--schedules", action="store_true",
                        help="try t-SNE schedules on 10,000 training images instead (where schedules are chosen)")
    parser.add_argument("--draws", type=int, nargs="+", default=list(DRAWS),
                        help="with --schedules: which draws of training images (default: %(default)s)")
    main_for_kinds(parser, bench)


#: Schedules ``--schedules`` tries: changes to the one ``tsne`` uses (``{}``).
SCHEDULES: tuple[dict, ...] = ({}, {"momentum": 0.8}, {"knn": "sklearn"}, {"momentum": 0.8, "knn": "sklearn"},
                               {"coarse_iter": 200}, {"fine_iter": 100}, {"perplexity": 15, "fine_iter": 100},
                               {"perplexity": 30})
#: The draws of training images the schedules are tried on (``np.random.default_rng(draw)``).
DRAWS = (7, 8, 9, 10, 11)


def schedules(ds, draws: tuple[int, ...] = DRAWS) -> None:
    """Each schedule of ``SCHEDULES`` on draws of 10,000 training images' pixels, beside scikit-learn's t-SNE."""
    for draw in draws:
        pick = np.random.default_rng(draw).choice(len(ds.x_train), 10000, replace=False)
        X = ds.x_train[pick].reshape(len(pick), -1).astype(np.float32) / 255
        theirs, t_sk = timed(TSNE(n_components=2, random_state=0).fit_transform, X)
        p_sk = neighbourhood_preservation(X, theirs)
        print(f"10,000 training images' pixels (draw {draw}): scikit-learn {t_sk:.1f} s, preservation {p_sk:.4f}; "
              f"a schedule within 4x of its time must take at most {t_sk / 4:.2f} s", flush=True)
        for change in SCHEDULES:
            kwargs = {"perplexity": AnalysisConfig().perplexity, **change}
            ours, t_ours = timed(tsne, X, seed=0, **kwargs)
            p_ours = neighbourhood_preservation(X, ours.points)
            print(f"  {change or 'the schedule in use'}: {t_ours:.1f} s ({t_sk / t_ours:.2f}x), preservation "
                  f"{p_ours:.4f} ({p_ours - p_sk:+.4f})", flush=True)


def bench(args: argparse.Namespace) -> None:
    ds = load_dataset()
    if args.schedules:
        schedules(ds, tuple(args.draws))
        return
    if args.pixels:
        model, X = None, ds.x_test.reshape(len(ds.x_test), -1).astype(np.float32) / 255
        print("points: the 10,000 test images' pixels (784 values each)")
    elif args.run:
        model = RunDir.open(args.run).load_model()[0]
    else:
        result = train(recipe("seed-model-a"), DataSpec(), runs_root="runs/bench", dataset=ds, log=None)
        model = result.model
        print(f"model-a: test accuracy {result.metrics['test_acc']:.4f} ({result.run})")
    if model is not None:
        X = encode(model, ds.x_test, "dense2")

    perplexity = AnalysisConfig().perplexity  # what the study uses
    ours, t_ours = timed(tsne, X, seed=0, perplexity=perplexity)
    theirs, t_sk = timed(TSNE(n_components=2, random_state=0).fit_transform, X)
    p_ours, p_sk = neighbourhood_preservation(X, ours.points), neighbourhood_preservation(X, theirs)
    print(f"t-SNE of {X.shape[0]:,} x {X.shape[1]}: twistfm (perplexity {perplexity:g}) {t_ours:.1f} s,"
          f" preservation {p_ours:.4f}; scikit-learn "
          f"{t_sk:.1f} s, preservation {p_sk:.4f}; {t_sk / t_ours:.1f}x faster, preservation "
          f"{'at or above' if p_ours >= p_sk else 'below'} scikit-learn's ({p_ours - p_sk:+.4f})", flush=True)
    if args.tsne_only or model is None:
        return

    X_all = np.concatenate([encode(model, ds.x_train, "dense2"), X])
    test = np.arange(len(X_all)) >= len(ds.x_train)
    placed, t_all = timed(tsne, X_all, seed=0, perplexity=perplexity, fit_on=test)
    print(f"t-SNE of all {len(X_all):,} images (the test images embedded, the training images placed into it): "
          f"{t_all:.1f} s; preservation over all points {neighbourhood_preservation(X_all, placed.points):.4f}, over the "
          f"training points {neighbourhood_preservation(X_all[~test], placed.points[~test]):.4f}")

    scores = score_layers(model, ds.x_train, ds.y_train, ds.x_test, ds.y_test, seed=0)
    print(f"{'layer':<10}{'width':>7}{'dims':>6}{'NMI':>8}{'ARI':>8}{'5-NN':>8}{'silh.':>8}")
    for r in scores.rows:
        mark = " <- best" if r.layer == scores.best else (" <- seed 002's choice" if r.layer == "dense2" else "")
        print(f"{r.layer:<10}{r.width:>7}{r.dims:>6}{r.kmeans_nmi:>8.3f}{r.kmeans_ari:>8.3f}"
              f"{r.knn_acc:>8.3f}{r.silhouette or float('nan'):>8.3f}{mark}")


if __name__ == "__main__":
    main()
