"""Data pruning: score every training example, then keep a fraction of them (notebook 03, sections 3-6).

A pruning *score* ranks examples from easy (small) to hard (large):

- :func:`prototype_scores`, the self-supervised prototype metric of Sorscher et al. (2022):
  cluster the unit-length embeddings with spherical k-means; an example's score is its cosine
  distance to the nearest centroid (prototype), ``d_i = 1 - max_j cos(x_i, c_j)``;
- :func:`el2n_scores`, EL2N (Paul et al., 2021): ``E_models || softmax(f(x)) - onehot(y) ||_2``
  for small models trained only a few epochs;
- :func:`random_scores`: the baseline every metric has to beat.

:func:`select` then keeps a fraction from the hard or the easy end.

>>> scores = np.array([0.9, 0.1, 0.5, 0.3])
>>> select(scores, keep_fraction=0.5, keep="hard").tolist()
[0, 2]
>>> select(scores, keep_fraction=0.5, keep="easy").tolist()
[1, 3]
"""

from __future__ import annotations

import warnings

import numpy as np

from dcai_lab._checks import (check_bool, check_choice, check_fraction, check_int, check_labels, check_matrix,
                              check_seed, check_vector, unit_rows)

__all__ = ["distance_to_nearest_centroid", "nearest_centroid", "prototype_scores", "el2n_scores", "random_scores",
           "select", "KEEP"]

KEEP = ("hard", "easy")


# --------------------------------------------------------------------------- prototype metric


def distance_to_nearest_centroid(embeddings, centroids) -> np.ndarray:
    """Cosine distance from every embedding to its nearest centroid, ``1 - max_j cos(x_i, c_j)``, in [0, 2].

    >>> x = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    >>> c = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> distance_to_nearest_centroid(x, c).tolist()
    [0.0, 0.0, 1.0]
    """
    x, c = _check_pair(embeddings, centroids)
    return _distances(x, c)


def nearest_centroid(embeddings, centroids) -> np.ndarray:
    """Index of the nearest centroid (largest cosine similarity) of every embedding; ties go to the lower index.

    >>> nearest_centroid(np.array([[1.0, 0.1], [0.1, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])).tolist()
    [0, 1]
    """
    x, c = _check_pair(embeddings, centroids)
    return np.argmax(x @ c.T, axis=1).astype(np.int64)


def _check_pair(embeddings, centroids) -> tuple[np.ndarray, np.ndarray]:
    """Both as unit rows (float64), with the same number of columns."""
    x = unit_rows(check_matrix(embeddings, "embeddings", what="(n_examples, dim)"), "embeddings")
    c = unit_rows(check_matrix(centroids, "centroids", what="(n_clusters, dim)", n_cols=x.shape[1]), "centroids")
    return x, c


def _distances(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``1 - max_j x_i . c_j`` for unit rows."""
    return np.clip(1.0 - (x @ c.T).max(axis=1), 0.0, 2.0)


def prototype_scores(embeddings, n_clusters: int, seed: int = 0, niter: int = 25, n_init: int = 5,
                     return_clusters: bool = False):
    """Self-supervised prototype scores: cosine distance to the nearest spherical k-means centroid.

    The embeddings are scaled to unit length and clustered with spherical k-means (faiss):
    ``n_init`` runs, each started from k-means++ seeds (scikit-learn's ``kmeans_plusplus``,
    which spreads the first centroids apart), keeping the run with the lowest inertia
    ``sum_i d_i``. One random start often lets two centroids share a well-separated cluster
    while a third covers two; k-means++ with restarts recovers such clusters. Deterministic
    by ``seed``.

    Parameters
    ----------
    embeddings : array (n_examples, dim), finite, no all-zero row.
    n_clusters : number of prototypes, ``1 <= n_clusters <= n_examples`` (Sorscher et al. use
        about the number of classes).
    seed : seeds the k-means++ draws of every run.
    niter : k-means iterations per run; n_init : the number of runs.
    return_clusters : also return each example's cluster and the centroids.

    Returns
    -------
    scores : float64 array (n_examples,), in [0, 2]; with ``return_clusters`` also
    assignments (int64, the nearest centroid) and centroids (float32, unit rows).

    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal([5, 0], 0.1, (20, 2)), rng.normal([0, 5], 0.1, (20, 2))])
    >>> scores, clusters, centroids = prototype_scores(x, n_clusters=2, return_clusters=True)
    >>> scores.shape, sorted(np.bincount(clusters).tolist()), bool(scores.max() < 0.01)
    ((40,), [20, 20], True)
    """
    import faiss
    from sklearn.cluster import kmeans_plusplus

    x = unit_rows(check_matrix(embeddings, "embeddings", what="(n_examples, dim)"), "embeddings")
    n, d = x.shape
    n_clusters = check_int(n_clusters, "n_clusters", min=1, max=n, hint=" (at most the number of examples)")
    seed, niter, n_init = check_seed(seed), check_int(niter, "niter", min=1), check_int(n_init, "n_init", min=1)
    return_clusters = check_bool(return_clusters, "return_clusters")
    x32 = x.astype(np.float32)
    best = None
    for run in range(n_init):
        start, _ = kmeans_plusplus(x, n_clusters, random_state=np.random.RandomState([seed, run]))
        # min/max_points_per_centroid: use every point and skip faiss's "too few points" warning
        kmeans = faiss.Kmeans(d, n_clusters, spherical=True, niter=niter, verbose=False, seed=seed,
                              min_points_per_centroid=1, max_points_per_centroid=max(n, 256))
        kmeans.train(x32, init_centroids=start.astype(np.float32))
        centroids = unit_rows(kmeans.centroids, "centroids")
        scores = _distances(x, centroids)
        if best is None or scores.sum() < best[0].sum():
            best = scores, centroids
    scores, centroids = best
    if return_clusters:
        return scores, np.argmax(x @ centroids.T, axis=1).astype(np.int64), centroids.astype(np.float32)
    return scores


# --------------------------------------------------------------------------- EL2N and random


def el2n_scores(X, y, n_models: int = 5, epochs: int = 10, hidden: int = 64, seed: int = 0) -> np.ndarray:
    """EL2N (Paul et al., 2021): the error L2 norm early in training, averaged over models.

    ``EL2N(x, y) = E_models || softmax(f(x)) - onehot(y) ||_2``, in ``[0, sqrt(2)]``: 0 =
    confidently right (easy), ``sqrt(2)`` = confidently wrong (hard, or mislabelled). ``f`` is
    scikit-learn's ``MLPClassifier`` (``hidden`` ReLU units, Adam, mini-batches of 128) trained
    with ``partial_fit`` for only ``epochs`` passes, before it memorises the hard examples; on a
    bigger set each epoch has more steps, so use fewer epochs. Model ``m`` is seeded ``seed + m``.

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> s = el2n_scores(X, y, n_models=2, epochs=2)
    >>> s.shape, bool(s.min() >= 0 and s.max() <= 2 ** 0.5)
    ((150,), True)
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X = check_matrix(X, "X", what="(n_examples, n_features)")
    y = check_labels(y, "y", n=len(X), min_classes=2)
    n_models, epochs = check_int(n_models, "n_models", min=1), check_int(epochs, "epochs", min=1)
    hidden, seed = check_int(hidden, "hidden", min=1), check_seed(seed)
    classes = np.unique(y)
    onehot = (y[:, None] == classes[None, :]).astype(np.float64)
    total = np.zeros(len(X))
    for m in range(n_models):
        model = MLPClassifier(hidden_layer_sizes=(hidden,), random_state=seed + m, batch_size=min(128, len(X)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for _ in range(epochs):
                model.partial_fit(X, y, classes=classes)
        total += np.linalg.norm(model.predict_proba(X) - onehot, axis=1)
    return total / n_models


def random_scores(n: int, seed: int = 0) -> np.ndarray:
    """Uniform random scores in [0, 1): "pruning" with them keeps a random subset.

    >>> random_scores(3, seed=0).round(3).tolist()
    [0.637, 0.27, 0.041]
    """
    return np.random.default_rng(check_seed(seed)).random(check_int(n, "n", min=1, hint=" (the number of examples)"))


# --------------------------------------------------------------------------- selection


def select(scores, keep_fraction: float, keep: str = "hard", class_balanced: bool = False, labels=None) -> np.ndarray:
    """Indices of the examples to keep: a fraction from the hard (large score) or easy (small score) end.

    Keeps exactly ``round(keep_fraction * n)`` of the ``n`` examples (Python's ``round``: 2.5 -> 2).
    With ``class_balanced=True`` every class ``c`` keeps ``round(keep_fraction * n_c)`` of its own
    ``n_c`` examples. Ties are broken by position: examples are ranked by (score, index), easy
    first; ``"easy"`` takes the start of the ranking, ``"hard"`` its end, so ``"easy"`` at ``f``
    and ``"hard"`` at ``1 - f`` are complements whenever their counts add up to ``n``.

    Parameters
    ----------
    scores : finite array (n,), larger = harder.
    keep_fraction : the fraction to keep, in (0, 1].
    keep : ``"hard"`` (the paper's choice with abundant data) or ``"easy"`` (better when scarce).
    class_balanced : prune every class separately, by the same fraction.
    labels : array (n,) of class labels; required when ``class_balanced``.

    Returns
    -------
    int64 array of distinct indices into ``scores``, sorted ascending.

    >>> s = np.array([0.2, 0.8, 0.4, 0.6, 0.1, 0.9])
    >>> select(s, 1 / 3, keep="hard").tolist()
    [1, 5]
    >>> select(s, 1 / 3, keep="easy", class_balanced=True, labels=[0, 0, 0, 1, 1, 1]).tolist()
    [0, 4]
    """
    scores = check_vector(scores, "scores")
    fraction = check_fraction(keep_fraction, "keep_fraction")
    check_choice(keep, "keep", KEEP)
    if labels is not None:
        labels = check_labels(labels, "labels", n=len(scores))
    if not check_bool(class_balanced, "class_balanced"):
        return np.sort(_tail(scores, round(fraction * len(scores)), keep)).astype(np.int64)
    if labels is None:
        raise ValueError("labels must be given when class_balanced=True (one class label per score)")
    kept = [members[_tail(scores[members], round(fraction * len(members)), keep)]
            for members in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    return np.sort(np.concatenate(kept)).astype(np.int64)


def _tail(scores: np.ndarray, n_keep: int, keep: str) -> np.ndarray:
    """Positions of the ``n_keep`` hardest (largest) or easiest (smallest) of checked ``scores``, ties by position."""
    ranking = np.lexsort((np.arange(len(scores)), scores))  # ascending score, ties by position
    return ranking[:n_keep] if keep == "easy" else ranking[len(ranking) - n_keep:]
