"""Data pruning: score every training example, then keep only a fraction of them.

A pruning *score* ranks examples from easy (small score) to hard (large score):

- :func:`prototype_scores`: the self-supervised prototype metric of Sorscher et al. (2022),
  "Beyond neural scaling laws". Cluster the embeddings with spherical k-means; an
  example's score is its cosine distance to the nearest cluster centre (prototype).
  Typical examples sit near a prototype (easy); unusual ones far away (hard).
- :func:`el2n_scores`: EL2N of Paul et al. (2021), "Deep learning on a data diet".
  Train a small model for a few epochs only; an example's score is how far the
  model's predicted probabilities are from its one-hot label.
- :func:`random_scores`: the baseline every metric has to beat.

:func:`select` then keeps a fraction of the examples from the hard or the easy end.

>>> import numpy as np
>>> scores = np.array([0.9, 0.1, 0.5, 0.3])
>>> select(scores, keep_fraction=0.5, keep="hard").tolist()
[0, 2]
>>> select(scores, keep_fraction=0.5, keep="easy").tolist()
[1, 3]
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = [
    "normalize_rows",
    "distance_to_nearest_centroid",
    "nearest_centroid",
    "prototype_scores",
    "el2n_scores",
    "random_scores",
    "select",
]


# --------------------------------------------------------------------------- validation helpers


def _check_embeddings(embeddings, name: str = "embeddings") -> np.ndarray:
    """A finite 2-D float array with no all-zero row (a zero row has no direction)."""
    x = np.asarray(embeddings)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_examples, n_features), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite; found {int(np.sum(~np.isfinite(x)))} NaN or infinite values")
    zero = np.flatnonzero(~np.any(x != 0, axis=1))
    if len(zero):
        raise ValueError(f"{name} must have no all-zero rows (cosine distance needs a direction); "
                         f"rows {zero[:5].tolist()}{' ...' if len(zero) > 5 else ''} are all zero")
    return x


def _check_same_width(x: np.ndarray, c: np.ndarray) -> None:
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"centroids must have as many columns as embeddings ({x.shape[1]}), got {c.shape[1]}")


def _check_fraction(keep_fraction) -> float:
    if isinstance(keep_fraction, bool) or not isinstance(keep_fraction, numbers.Real):
        raise ValueError(f"keep_fraction must be a number in (0, 1], got {keep_fraction!r}")
    if not 0 < keep_fraction <= 1:  # also rejects NaN
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    return float(keep_fraction)


# --------------------------------------------------------------------------- prototype metric


def normalize_rows(embeddings: np.ndarray) -> np.ndarray:
    """Scale every row to unit length (L2 norm 1), as float32.

    >>> normalize_rows(np.array([[3.0, 4.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929]]
    """
    x = _check_embeddings(embeddings)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def distance_to_nearest_centroid(embeddings: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Cosine distance from every embedding to its nearest centroid.

    .. math:: d_i = 1 - \\max_j \\frac{x_i \\cdot c_j}{\\|x_i\\| \\, \\|c_j\\|}

    0 means "points exactly at a centroid", 2 "points exactly away from every centroid".

    >>> x = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    >>> c = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> distance_to_nearest_centroid(x, c).tolist()
    [0.0, 0.0, 1.0]
    """
    x = _check_embeddings(embeddings)
    c = _check_embeddings(centroids, "centroids")
    _check_same_width(x, c)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    c = c / np.linalg.norm(c, axis=1, keepdims=True)
    cosine = x @ c.T                       # (n_examples, n_clusters)
    return np.clip(1.0 - cosine.max(axis=1), 0.0, 2.0)


def nearest_centroid(embeddings: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid (largest cosine similarity) of every embedding; ties go to the lower index.

    >>> nearest_centroid(np.array([[1.0, 0.1], [0.1, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])).tolist()
    [0, 1]
    """
    x = _check_embeddings(embeddings)
    c = _check_embeddings(centroids, "centroids")
    _check_same_width(x, c)
    return np.argmax(x @ (c / np.linalg.norm(c, axis=1, keepdims=True)).T, axis=1)


def prototype_scores(embeddings: np.ndarray, n_clusters: int, seed: int = 0, niter: int = 25,
                     return_clusters: bool = False):
    """Self-supervised prototype scores: cosine distance to the nearest spherical k-means centroid.

    The embeddings are L2-normalised and clustered with ``faiss.Kmeans(d, n_clusters,
    spherical=True)`` (k-means on the unit sphere; the centroids have unit length).
    The score of example ``i`` is ``1 - cos(x_i, c_nearest)``, see
    :func:`distance_to_nearest_centroid`: small = prototypical (easy), large = atypical (hard).

    Parameters
    ----------
    embeddings : array (n_examples, n_features), finite, no all-zero row.
    n_clusters : number of prototypes, ``1 <= n_clusters <= n_examples``. Sorscher et al.
        use about the number of classes; more clusters make the score more local.
    seed : seed of faiss's k-means initialisation (the result is deterministic).
    niter : k-means iterations.
    return_clusters : also return each example's cluster and the centroids.

    Returns
    -------
    scores : float64 array (n_examples,), in [0, 2].
    assignments : int64 array (n_examples,), the nearest centroid of each example
        (only when ``return_clusters``).
    centroids : float32 array (n_clusters, n_features), unit rows (only when ``return_clusters``).

    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal([5, 0], 0.1, (20, 2)), rng.normal([0, 5], 0.1, (20, 2))])
    >>> scores, clusters, centroids = prototype_scores(x, n_clusters=2, return_clusters=True)
    >>> scores.shape, sorted(np.bincount(clusters).tolist()), bool(scores.max() < 0.01)
    ((40,), [20, 20], True)
    """
    import faiss

    x = normalize_rows(embeddings)
    n, d = x.shape
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral):
        raise ValueError(f"n_clusters must be an integer in [1, {n}] (the number of examples), got {n_clusters!r}")
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be in [1, {n}] (at most the number of examples), got {n_clusters}")
    # min/max_points_per_centroid: use every point and skip faiss's "too few points" warning.
    kmeans = faiss.Kmeans(d, int(n_clusters), spherical=True, seed=int(seed), niter=int(niter), verbose=False,
                          min_points_per_centroid=1, max_points_per_centroid=max(n, 256))
    kmeans.train(x)
    centroids = kmeans.centroids.copy()
    scores = distance_to_nearest_centroid(embeddings, centroids)
    if return_clusters:
        return scores, nearest_centroid(embeddings, centroids).astype(np.int64), centroids
    return scores


# --------------------------------------------------------------------------- EL2N


def el2n_scores(X: np.ndarray, y: np.ndarray, n_models: int = 5, epochs: int = 10, hidden: int = 64,
                seed: int = 0) -> np.ndarray:
    """EL2N scores (Paul et al., 2021): the error L2 norm early in training, averaged over models.

    .. math:: \\mathrm{EL2N}(x, y) = \\mathbb{E}_{\\text{models}} \\, \\| \\mathrm{softmax}(f(x)) - \\mathrm{onehot}(y) \\|_2

    The model is scikit-learn's ``MLPClassifier`` (one hidden layer of ``hidden`` ReLU units,
    softmax output, Adam with its default learning rate 0.001, mini-batches of 128) trained
    with ``partial_fit`` for only ``epochs`` passes over ``(X, y)``: "early in training",
    before it memorises the hard examples. On the 1,797 digits, 10 epochs (about 140 steps)
    reach about 92% training accuracy, against 100% when trained to convergence; on a
    bigger set each epoch has more steps, so use fewer epochs (e.g. 2 for 10,000 examples). Each of the
    ``n_models`` models has its own initialisation and batch order (seeds ``seed``,
    ``seed + 1``, ...). Scores are in ``[0, sqrt(2)]``: 0 = confidently right (easy),
    ``sqrt(2)`` = confidently wrong (hard, or mislabelled).

    Parameters
    ----------
    X : array (n_examples, n_features), e.g. pixels in [0, 1].
    y : labels (n_examples,), at least two classes.
    n_models : number of independently trained models to average over.
    epochs : passes over the data per model.
    hidden : hidden units of the MLP.
    seed : seed of the first model.

    >>> from sklearn.datasets import load_iris
    >>> X, y = load_iris(return_X_y=True)
    >>> s = el2n_scores(X, y, n_models=2, epochs=2)
    >>> s.shape, bool(s.min() >= 0 and s.max() <= 2 ** 0.5)
    ((150,), True)
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n_examples, n_features), got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite (no NaN or infinite values)")
    if y.shape != (len(X),):
        raise ValueError(f"y must be a 1-D array with one label per row of X ({len(X)}), got shape {y.shape}")
    for name, value in (("n_models", n_models), ("epochs", epochs), ("hidden", hidden)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"y must hold at least two classes, got {classes.tolist()}")
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
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer (the number of examples), got {n!r}")
    return np.random.default_rng(seed).random(int(n))


# --------------------------------------------------------------------------- selection


def _tail(scores: np.ndarray, n_keep: int, keep: str) -> np.ndarray:
    """Positions of the ``n_keep`` hardest (largest) or easiest (smallest) scores.

    Examples are ranked once, by score and then by position (a total order), easy first;
    "easy" takes the start of that ranking and "hard" its end.
    """
    ranking = np.lexsort((np.arange(len(scores)), scores))  # ascending score, ties by position
    return ranking[:n_keep] if keep == "easy" else ranking[len(ranking) - n_keep:]


def select(scores: np.ndarray, keep_fraction: float, keep: str = "hard", class_balanced: bool = False,
           labels: np.ndarray | None = None) -> np.ndarray:
    """Indices of the examples to keep: a fraction from the hard (large score) or easy (small score) end.

    Keeps exactly ``round(keep_fraction * n)`` of the ``n`` examples (Python's ``round``:
    a half goes to the even number, so 2.5 -> 2). With ``class_balanced=True`` every
    class ``c`` keeps ``round(keep_fraction * n_c)`` of its own ``n_c`` examples, so the
    total is ``sum_c round(keep_fraction * n_c)``, which can differ from
    ``round(keep_fraction * n)`` by up to half the number of classes.

    Ties are broken by position: examples are ranked by (score, index), easy first;
    ``keep="easy"`` takes the start of the ranking, ``keep="hard"`` its end. So
    ``keep="easy"`` at ``f`` and ``keep="hard"`` at ``1 - f`` are complements
    whenever their counts add up to ``n``.

    Parameters
    ----------
    scores : finite array (n,), larger = harder.
    keep_fraction : fraction to keep, in (0, 1].
    keep : ``"hard"`` (largest scores, the paper's choice with abundant data)
        or ``"easy"`` (smallest scores, better with scarce data).
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
    scores = np.asarray(scores)
    if scores.ndim != 1 or len(scores) == 0:
        raise ValueError(f"scores must be a non-empty 1-D array, got shape {scores.shape}")
    if not np.issubdtype(scores.dtype, np.number) or np.issubdtype(scores.dtype, np.complexfloating):
        raise ValueError(f"scores must be real numbers, got dtype {scores.dtype}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores must be finite (no NaN or infinite values)")
    fraction = _check_fraction(keep_fraction)
    if keep not in ("hard", "easy"):
        raise ValueError(f"keep must be 'hard' or 'easy', got {keep!r}")
    if not class_balanced:
        if labels is not None and len(labels) != len(scores):
            raise ValueError(f"labels must have one entry per score ({len(scores)}), got {len(labels)}")
        return np.sort(_tail(scores, round(fraction * len(scores)), keep)).astype(np.int64)
    if labels is None:
        raise ValueError("labels must be given when class_balanced=True (one class label per score)")
    labels = np.asarray(labels)
    if labels.shape != scores.shape:
        raise ValueError(f"labels must have one entry per score ({len(scores)}), got shape {labels.shape}")
    kept = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        kept.append(members[_tail(scores[members], round(fraction * len(members)), keep)])
    return np.sort(np.concatenate(kept)).astype(np.int64)
