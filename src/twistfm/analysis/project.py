"""2-D projections of an encoding: PCA, t-SNE (openTSNE, tuned for speed), UMAP when installed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from ..errors import OptionError
from ..schema import Typed

__all__ = ["Projection", "pca", "principal_components", "reduce_pca", "tsne", "umap", "neighbourhood_preservation",
           "umap_available", "PRESERVATION_K", "BH_POINTS"]

#: Neighbours compared by :func:`neighbourhood_preservation`.
PRESERVATION_K = 10
#: Iterations that move the points placed into an existing t-SNE embedding.
PLACE_ITER = 50
#: Up to this many fitted points, t-SNE's gradient is Barnes-Hut's rather than FFT-interpolated.
BH_POINTS = 4000
#: t-SNE reduces an encoding to principal components first only when it is wider than this.
TSNE_PCA_ABOVE = 1000
#: Up to this many fitted points, t-SNE's neighbours are exact; beyond, approximate (Annoy).
EXACT_NEIGHBOURS_UP_TO = 20000


@dataclass(frozen=True, kw_only=True)
class Projection(Typed):
    """Points in 2-D and how they were made.

    Attributes
    ----------
    method : str
        ``"pca"``, ``"tsne"`` or ``"umap"``.
    points : ndarray of float32, shape (N, 2)
    params : dict
    explained_variance : list of float or None
        PCA only: the share of variance each component explains.
    """

    method: str
    points: np.ndarray
    params: dict[str, Any]
    explained_variance: list[float] | None = None

    @property
    def title(self) -> str:
        """The method's name as people write it."""
        return {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}.get(self.method, self.method)

    @property
    def axes(self) -> tuple[str, str]:
        """Axis labels: principal components for PCA, the method's dimensions otherwise."""
        if self.method == "pca":
            return ("PC1", "PC2")
        return (f"{self.title} 1", f"{self.title} 2")


def reduce_pca(X: np.ndarray, n: int, seed: int = 0, fit_on: np.ndarray | None = None) -> tuple[np.ndarray, PCA]:
    """``X`` on its first ``n`` principal components, and the seeded PCA that put it there.

    Every PCA reduction of twistfm is made here. The PCA is fitted on the rows ``fit_on``
    selects and then projects every row; without ``fit_on`` it is fitted on every row and
    projects them in the same pass (scikit-learn's ``fit_transform``, whose numbers are not
    those of fitting and projecting in two steps: a few last bits with the full solver, more
    with the randomised one). Callers that fit on every row in two steps pass a mask of every row.

    Parameters
    ----------
    X : ndarray, shape (N, d)
    n : int
        Components kept (at most ``d`` and the number of fitted rows).
    seed : int, default=0
        The PCA's ``random_state`` (its randomised solver's seed).
    fit_on : ndarray of bool, optional
        The rows the PCA is fitted on.

    Returns
    -------
    points : ndarray, shape (N, n)
        In ``X``'s floating dtype (float32 stays float32).
    model : sklearn.decomposition.PCA
        The fitted PCA (for its ``explained_variance_ratio_``, or to project other rows).
    """
    model = PCA(n_components=n, random_state=seed)
    if fit_on is None:
        return model.fit_transform(X), model
    return model.fit(X[fit_on]).transform(X), model


def _every_row(X: np.ndarray, fit_on: np.ndarray | None) -> np.ndarray:
    """``fit_on`` as a mask of rows, every row when None."""
    return np.ones(len(X), bool) if fit_on is None else np.asarray(fit_on, bool)


def principal_components(X: np.ndarray, n: int, seed: int = 0, fit_on: np.ndarray | None = None) -> np.ndarray:
    """The first ``n`` principal components of ``X`` as float32 (fewer where it has fewer features or points),
    fitted on the points ``fit_on`` selects when given."""
    fit_on = _every_row(X, fit_on)
    n = min(n, X.shape[1], int(np.sum(fit_on)))
    return reduce_pca(X, n, seed, fit_on)[0].astype(np.float32)


def pca(X: np.ndarray, seed: int = 0, fit_on: np.ndarray | None = None) -> Projection:
    """The first two principal components (of the points ``fit_on`` selects, when given)."""
    points, model = reduce_pca(X, 2, seed, _every_row(X, fit_on))
    return Projection(method="pca", points=points.astype(np.float32), params={"seed": seed},
                      explained_variance=[float(v) for v in model.explained_variance_ratio_])


def _affinities(X: np.ndarray, perplexity: float, knn: str, n_jobs: int, seed: int) -> tuple[Any, str]:
    """openTSNE's affinities of the fitted points ``X``, with the neighbour search used."""
    from openTSNE import affinity

    if len(X) > EXACT_NEIGHBOURS_UP_TO:
        return affinity.PerplexityBasedNN(X, perplexity=perplexity, method="annoy", n_jobs=n_jobs,
                                          random_state=seed), "annoy"
    if knn == "sklearn":
        return affinity.PerplexityBasedNN(X, perplexity=perplexity, method="exact", n_jobs=n_jobs,
                                          random_state=seed), knn
    from .knn import MatmulKNN

    index = MatmulKNN(X, min(len(X) - 1, int(3 * perplexity)), n_jobs=n_jobs)
    return affinity.PerplexityBasedNN(perplexity=perplexity, knn_index=index, n_jobs=n_jobs), knn


def _optimize(embedding: Any, gradient: str, early_iter: int, coarse_iter: int, fine_iter: int, momentum: float) -> Any:
    """openTSNE's embedding after early exaggeration, then the coarse and fine iterations (see :func:`tsne`)."""
    embedding = embedding.optimize(n_iter=early_iter, exaggeration=12, momentum=0.5)
    if gradient == "fft":
        embedding = embedding.optimize(n_iter=coarse_iter, momentum=momentum, ints_in_interval=2)
        return embedding.optimize(n_iter=fine_iter, momentum=momentum)
    return embedding.optimize(n_iter=coarse_iter + fine_iter, momentum=momentum)


def tsne(X: np.ndarray, seed: int = 0, perplexity: float = 30.0, n_jobs: int = -1, pca_dims: int = 100,
         early_iter: int = 75, coarse_iter: int = 125, fine_iter: int = 75, fit_on: np.ndarray | None = None,
         place_iter: int = PLACE_ITER, momentum: float = 0.92, knn: str = "matmul") -> Projection:
    """t-SNE to 2-D with openTSNE, scheduled to be fast on a laptop CPU.

    An encoding wider than ``TSNE_PCA_ABOVE`` is first reduced to ``pca_dims`` principal
    components (a reduction to 50 lost 0.02-0.03 of neighbourhood preservation on 784 pixels,
    measured on training images that no reported figure uses); affinities use exact nearest
    neighbours up to ``EXACT_NEIGHBOURS_UP_TO`` fitted points (approximate beyond); the layout
    starts from PCA. After ``early_iter`` early-exaggeration iterations (momentum 0.5),
    ``coarse_iter`` iterations of the FFT-interpolated gradient run on a grid half as fine
    (four times cheaper), then ``fine_iter`` on the full grid. Up to ``BH_POINTS`` fitted
    points the gradient is Barnes-Hut's (the grid's fixed cost dominates small maps), for
    ``coarse_iter + fine_iter`` iterations after the early ones.

    Parameters
    ----------
    X : ndarray, shape (N, d)
    seed : int, default=0
    perplexity : float, default=30
        Lowered to the largest the number of points allows (``params["perplexity"]``).
    n_jobs : int, default=-1
        Threads (-1: all cores).
    fit_on : ndarray of bool, optional
        Embed these points only, then place the others into it (openTSNE's ``transform``:
        each starts at the median of its nearest fitted points and moves for ``place_iter``
        iterations, at openTSNE's momentum, while the fitted points stay).
    momentum : float, default=0.92
        The fitted points' momentum after early exaggeration: chosen over openTSNE's 0.8 on
        five draws of 10,000 training images (``bench/analysis_bench.py --schedules``).
    knn : {"matmul", "sklearn"}, default="matmul"
        The exact neighbour search: float32 matrix products
        (:func:`twistfm.analysis.knn.exact_neighbours`) or scikit-learn's float64 one (what
        discovery's maps use). Beyond ``EXACT_NEIGHBOURS_UP_TO`` points, Annoy's instead.
    """
    from openTSNE import TSNEEmbedding, initialization

    if knn not in ("matmul", "sklearn"):
        raise OptionError(f"tsne: knn={knn!r} is not known; use 'matmul' or 'sklearn'")
    fit_on = _every_row(X, fit_on)
    n_fit = int(fit_on.sum())
    used = perplexity if n_fit >= 3 * perplexity + 2 else max(2.0, (n_fit - 2) / 3)
    if pca_dims and X.shape[1] > max(pca_dims, TSNE_PCA_ABOVE) and n_fit > pca_dims:
        X = reduce_pca(X, pca_dims, seed, fit_on)[0]
    X = np.ascontiguousarray(X, dtype=np.float64)
    affinities, searched = _affinities(X[fit_on], used, knn, n_jobs, seed)
    gradient = "bh" if n_fit <= BH_POINTS else "fft"
    embedding = TSNEEmbedding(initialization.pca(X[fit_on], random_state=seed), affinities,
                              negative_gradient_method=gradient, n_jobs=n_jobs, random_state=seed)
    embedding = _optimize(embedding, gradient, early_iter, coarse_iter, fine_iter, momentum)
    points = np.empty((len(X), 2), dtype=np.float32)
    points[fit_on] = np.asarray(embedding)
    if n_fit < len(X):
        points[~fit_on] = np.asarray(embedding.transform(X[~fit_on], n_iter=place_iter), dtype=np.float32)
    return Projection(method="tsne", points=points,
                      params={"seed": seed, "perplexity": used, "perplexity_asked": perplexity, "pca_dims": pca_dims,
                              "early_exaggeration_iter": early_iter, "coarse_iter": coarse_iter, "fine_iter": fine_iter,
                              "gradient": gradient, "fitted_points": n_fit, "placed_points": len(X) - n_fit,
                              "place_iter": place_iter, "momentum": momentum, "knn": searched})


def umap_available() -> bool:
    """Whether the optional ``umap-learn`` package is installed."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def umap(X: np.ndarray, seed: int = 0) -> Projection:
    """UMAP to 2-D (needs the optional extra: ``pip install twistfm[umap]``)."""
    if not umap_available():
        raise OptionError("UMAP needs the optional package: pip install 'twistfm[umap]'")
    import umap as umap_lib

    points = umap_lib.UMAP(n_components=2, random_state=seed).fit_transform(X)
    return Projection(method="umap", points=np.asarray(points, dtype=np.float32), params={"seed": seed})


def neighbourhood_preservation(X: np.ndarray, points: np.ndarray, k: int = PRESERVATION_K) -> float:
    """Mean share of each point's k nearest neighbours in ``X`` that stay among its k nearest in 2-D."""
    high = NearestNeighbors(n_neighbors=k + 1).fit(X).kneighbors(X, return_distance=False)[:, 1:]
    low = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points, return_distance=False)[:, 1:]
    kept = [len(np.intersect1d(a, b, assume_unique=True)) for a, b in zip(high, low, strict=True)]
    return float(np.mean(kept) / k)
