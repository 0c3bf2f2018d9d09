"""Uncertainty scores for active learning (notebook 01, section 2).

Each score maps one row ``p = model.predict_proba(x)`` of class probabilities to one
number, **larger = more uncertain**, so the examples to label are those with the largest scores:

    least confidence      1 - max_y p_y
    margin                1 - (p_(1) - p_(2))                 (the two largest probabilities)
    entropy (MaxEnt)      -sum_y p_y log p_y                  (natural log, 0 log 0 = 0)
    information density   MaxEnt(z) * (mean_{z' in pool} cos(z, z'))^beta

>>> probs = np.array([[0.5, 0.5], [0.9, 0.1], [1.0, 0.0]])
>>> least_confidence(probs)
array([0.5, 0.1, 0. ])
>>> margin(probs)
array([1. , 0.2, 0. ])
>>> entropy(probs).round(3)
array([0.693, 0.325, 0.   ])

Bad input raises a ``ValueError`` that says what is wrong and what to do:

>>> entropy([[0.5, 0.2]])
Traceback (most recent call last):
...
ValueError: probs rows must sum to 1 (row 0 sums to 0.7); pass predict_proba output or apply a softmax
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import CHUNK_ROWS, as_array, check_choice, check_float, check_ids, check_mask, check_matrix, \
    check_probs, unit_rows

__all__ = ["least_confidence", "margin", "entropy", "information_density", "mean_cosine_similarity",
           "mean_unit_vector", "UnlabeledMean", "NEGATIVE_MODES", "SCORES"]

NEGATIVE_MODES = ("clip", "shift")


# --------------------------------------------------------------------------- the three uncertainty scores


def least_confidence(probs) -> np.ndarray:
    """Least confidence ``1 - max_y p(y | x)``, in ``[0, 1 - 1/C]``; larger = more uncertain.

    >>> least_confidence([[0.6, 0.3, 0.1]])
    array([0.4])
    """
    return 1.0 - check_probs(probs).max(axis=1)


def margin(probs) -> np.ndarray:
    """Margin as an uncertainty: ``1 - (p(y_1 | x) - p(y_2 | x))`` for the two likeliest classes.

    Margin sampling labels the *smallest* gap ``p_1 - p_2``; ``1 - gap`` keeps this
    module's rule (larger = more uncertain): a tie between two classes scores 1, a
    certain prediction 0. With a single class, ``p_2 = 0``.

    >>> margin([[0.6, 0.3, 0.1], [0.45, 0.45, 0.1]])
    array([0.7, 1. ])
    """
    probs = check_probs(probs)
    if probs.shape[1] == 1:
        return 1.0 - probs[:, 0]
    top2 = -np.partition(-probs, 1, axis=1)[:, :2]
    return np.clip(1.0 - (top2[:, 0] - top2[:, 1]), 0.0, 1.0)


def entropy(probs) -> np.ndarray:
    """Entropy (MaxEnt) ``-sum_y p(y | x) log p(y | x)`` in nats, with ``0 log 0 = 0``; in ``[0, log C]``.

    >>> entropy([[0.5, 0.5], [1.0, 0.0]])
    array([0.69314718, 0.        ])
    """
    return _entropy(check_probs(probs))


def _entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy of checked probability rows (:func:`dcai_lab._checks.check_probs`)."""
    logs = np.log(probs, out=np.zeros_like(probs), where=probs > 0)
    return np.maximum(-(probs * logs).sum(axis=1), 0.0)


SCORES = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}  # the three, by name


# --------------------------------------------------------------------------- information density


def information_density(probs, embeddings, pool_embeddings=None, beta: float = 1.0, negative: str = "clip", *,
                        pool_mean=None) -> np.ndarray:
    """Entropy weighted by how typical an example is of the unlabeled pool ``P_r``.

    ``score(z) = MaxEnt(z) * ( (1/|P_r|) sum_{p in P_r} cos(z, z_p) ) ** beta``

    An uncertain outlier scores less than an equally uncertain example in a dense region.
    The mean similarity costs ``O(N * dim)`` through the pool's mean unit vector (see
    :func:`mean_cosine_similarity`), never an ``N x |P|`` matrix. A negative mean similarity
    would make the score negative; ``negative="clip"`` uses ``max(0, mean cos)``,
    ``negative="shift"`` uses ``(1 + mean cos) / 2``.

    Parameters
    ----------
    probs : array (n, n_classes), class probabilities of the examples to score.
    embeddings : array (n, dim), their embeddings (no all-zero rows).
    pool_embeddings : array (m, dim), optional; the unlabeled pool (default: ``embeddings``).
    beta : float >= 0, the weight of the density term (0 = plain entropy).
    negative : ``"clip"`` or ``"shift"``.
    pool_mean : array (dim,), optional; ``mean_unit_vector(pool_embeddings)``, instead of the pool.

    Three equally uncertain examples; the third points away from the other two:

    >>> probs = [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
    >>> z = [[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0]]
    >>> mean_cosine_similarity(z).round(2)
    array([ 0.33,  0.33, -0.33])
    >>> information_density(probs, z).round(3)
    array([0.23 , 0.231, 0.   ])
    >>> information_density(probs, z, negative="shift").round(3)
    array([0.462, 0.462, 0.232])
    """
    probs = check_probs(probs)
    z = check_matrix(embeddings, "embeddings", what="(n_samples, dim)", n_rows=len(probs), min_rows=0)
    beta = check_float(beta, "beta", min=0, hint=" (0 = plain entropy, 1 = the usual weight)")
    check_choice(negative, "negative", NEGATIVE_MODES)
    similarity = _mean_cosine(z, _pool_mean(z, pool_embeddings, pool_mean))
    density = np.maximum(similarity, 0.0) if negative == "clip" else (1.0 + similarity) / 2.0
    return _entropy(probs) * density ** beta


def mean_cosine_similarity(embeddings, pool_embeddings=None, *, pool_mean=None) -> np.ndarray:
    """Mean cosine similarity of each embedding to the pool, ``(1/|P|) sum_p cos(z, z_p)``, in O(N * dim).

    Cosine similarity is linear in each unit vector, so the mean over the pool is one dot
    product with the pool's mean unit vector::

        (1/|P|) sum_p cos(z, z_p) = z_hat . ((1/|P|) sum_p z_hat_p),   z_hat = z / ||z||

    The explicit ``N x |P|`` similarity matrix (as peer libraries build it) costs
    ``O(N |P| dim)`` time and ``N |P|`` memory. ``pool_embeddings`` defaults to
    ``embeddings``; give ``pool_mean = mean_unit_vector(pool)`` instead when it is known.

    >>> mean_cosine_similarity([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).round(3)
    array([0.569, 0.569, 0.805])
    """
    z = check_matrix(embeddings, "embeddings", what="(n_samples, dim)", min_rows=0)
    return _mean_cosine(z, _pool_mean(z, pool_embeddings, pool_mean))


def _mean_cosine(z: np.ndarray, pool_mean: np.ndarray) -> np.ndarray:
    """``z_hat . pool_mean`` for a checked matrix ``z`` and a checked mean unit vector of the same dimension."""
    return np.clip(unit_rows(z) @ pool_mean, -1.0, 1.0)


def _pool_mean(z: np.ndarray, pool_embeddings, pool_mean) -> np.ndarray:
    """The pool's mean unit vector, from ``pool_embeddings`` (default: ``z``) or as given, checked against ``z``."""
    if pool_mean is not None and pool_embeddings is not None:
        raise ValueError("give pool_embeddings or pool_mean, not both")
    if pool_mean is None and pool_embeddings is None:  # the pool is z itself, checked by the caller
        pool_mean = _unit_sum(z, "embeddings") / len(z) if len(z) else np.zeros(z.shape[1])
    elif pool_mean is None:
        pool_mean = mean_unit_vector(pool_embeddings)
    else:
        pool_mean = np.asarray(pool_mean, dtype=np.float64)
        if pool_mean.ndim != 1 or not np.all(np.isfinite(pool_mean)) or np.linalg.norm(pool_mean) > 1 + 1e-6:
            raise ValueError("pool_mean must be the finite vector mean_unit_vector(pool_embeddings), of length at "
                             f"most 1; got shape {pool_mean.shape}")
    if pool_mean.shape[0] != z.shape[1]:
        given = "pool_mean" if pool_embeddings is None else "pool_embeddings"
        raise ValueError(f"embeddings have dimension {z.shape[1]} but the pool ({given}) has dimension "
                         f"{pool_mean.shape[0]}; embed both with the same model")
    return pool_mean


def mean_unit_vector(pool_embeddings) -> np.ndarray:
    """The mean of the pool's embeddings scaled to length 1: ``(1/|P|) sum_p z_p / ||z_p||``.

    Compute it once per round and pass it as ``pool_mean``: scoring a few candidates then
    costs ``O(candidates * dim)``, however large the pool.

    >>> mean_unit_vector([[3.0, 0.0], [0.0, 2.0]])
    array([0.5, 0.5])
    """
    pool = check_matrix(pool_embeddings, "pool_embeddings", what="(m, dim), the unlabeled pool", dtype=None)
    return _unit_sum(pool, "pool_embeddings") / len(pool)


def _unit_sum(z: np.ndarray, name: str) -> np.ndarray:
    """``sum_i z_i / ||z_i||`` over the rows of a 2-D array, chunk by chunk (no full-size copy).

    The sum of unit vectors is finite only if every row is: a NaN or infinite row raises here.
    """
    total = np.zeros(z.shape[1])
    for start in range(0, len(z), CHUNK_ROWS):
        unit = unit_rows(z[start:start + CHUNK_ROWS], name)
        if not np.isfinite(unit).all():
            row = start + int(np.flatnonzero(~np.isfinite(unit).all(axis=1))[0])
            raise ValueError(f"{name} must be finite (row {row} holds NaN or infinity); fix or drop those rows")
        total += unit.sum(axis=0)
    return total


class UnlabeledMean:
    """The mean unit vector of the unlabeled pool, kept up to date as items get labeled.

    ``UnlabeledMean(embeddings, labeled)()`` equals ``mean_unit_vector(embeddings[~labeled])``.
    The active-learning loop makes one per run and passes it to every strategy as
    ``pool_mean`` (a strategy that needs it calls it). The sum over the unlabeled pool is
    computed on the first call only, in ``O(N * dim)``; :meth:`remove` then subtracts the
    newly labeled items in ``O(batch * dim)``. Expects a checked, finite matrix.

    >>> z = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    >>> running = UnlabeledMean(z, np.array([False, False, True]))
    >>> running().tolist()
    [0.5, 0.5]
    >>> running.remove([1]); running().tolist()
    [1.0, 0.0]
    """

    def __init__(self, embeddings: np.ndarray, labeled: np.ndarray) -> None:
        embeddings = as_array(embeddings, "embeddings")
        if embeddings.ndim != 2 or not (np.issubdtype(embeddings.dtype, np.floating)
                                        or np.issubdtype(embeddings.dtype, np.integer)) or embeddings.dtype == bool:
            raise ValueError(f"embeddings must be a 2-D array of numbers (n_pool, dim), got dtype {embeddings.dtype} "
                             f"and shape {embeddings.shape}")
        self.embeddings, self.labeled = embeddings, check_mask(labeled, len(embeddings), "labeled").copy()
        self._sum: np.ndarray | None = None

    def __call__(self) -> np.ndarray:
        if self._sum is None:
            self._sum = _unit_sum(self.embeddings[~self.labeled], "embeddings")
        n = int(np.count_nonzero(~self.labeled))
        if n == 0:
            raise ValueError("every pool item is labeled: the mean similarity to an empty pool is undefined")
        return self._sum / n

    def remove(self, ids) -> None:
        """The items ``ids`` got labeled: take them out of the mean."""
        ids = check_ids(ids, len(self.labeled), "ids")
        ids = ids[np.sort(np.unique(ids, return_index=True)[1])]  # each id once, in the order given
        ids = ids[~self.labeled[ids]]
        self.labeled[ids] = True
        if self._sum is not None and len(ids):
            self._sum = self._sum - unit_rows(self.embeddings[ids], "embeddings").sum(axis=0)
