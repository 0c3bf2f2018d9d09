"""Uncertainty scores for active learning: least confidence, margin, entropy and information density.

Every score takes ``probs``, a model's predicted class probabilities (one row per
example, e.g. ``model.predict_proba(X)``), and returns one number per row where
**larger means more uncertain**, so the examples to label are the ones with the
largest scores.

>>> import numpy as np
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

__all__ = ["least_confidence", "margin", "entropy", "information_density",
           "mean_cosine_similarity", "mean_unit_vector", "NEGATIVE_MODES"]

NEGATIVE_MODES = ("clip", "shift")


# --------------------------------------------------------------------------- input checks


def _as_float_2d(array, name: str, what: str) -> np.ndarray:
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, {what}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array, {what}; got shape {array.shape} "
                         f"(for a single example use {name}[None, :])")
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad):
        raise ValueError(f"{name} must be finite (row {bad[0]} holds nan or inf); "
                         f"remove or fix those rows")
    return array


def _check_probs(probs) -> np.ndarray:
    """``probs`` as a float64 (n, C) array of probability rows, or a ValueError saying what is wrong."""
    probs = _as_float_2d(probs, "probs", "one row of class probabilities per example (n_samples, n_classes)")
    if probs.shape[1] == 0:
        raise ValueError("probs has no columns; it needs one column per class")
    bad = np.flatnonzero(((probs < 0) | (probs > 1)).any(axis=1))
    if len(bad):
        row = bad[0]
        value = probs[row][(probs[row] < 0) | (probs[row] > 1)][0]
        raise ValueError(f"probs must be in [0, 1] (row {row} holds {value:g}); "
                         "pass predict_proba output or apply a softmax")
    sums = probs.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > 1e-6)
    if len(bad):
        raise ValueError(f"probs rows must sum to 1 (row {bad[0]} sums to {sums[bad[0]]:.6g}); "
                         "pass predict_proba output or apply a softmax")
    return probs


def _check_embeddings(embeddings, name: str = "embeddings") -> np.ndarray:
    embeddings = _as_float_2d(embeddings, name, "one vector per example (n_samples, dim)")
    norms = np.linalg.norm(embeddings, axis=1)
    bad = np.flatnonzero(norms == 0)
    if len(bad):
        raise ValueError(f"{name} row {bad[0]} has zero norm, so its cosine similarity is undefined; "
                         "drop that row or use embeddings without all-zero vectors")
    return embeddings


def _unit_rows(embeddings: np.ndarray) -> np.ndarray:
    return embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)


# --------------------------------------------------------------------------- the three uncertainty scores


def least_confidence(probs) -> np.ndarray:
    """Least confidence: how far the most likely class is from certainty.

    ``score(x) = 1 - max_y p(y | x)``, in ``[0, 1 - 1/C]``.

    Parameters
    ----------
    probs : array (n_samples, n_classes)
        Class probabilities; every row in [0, 1] and summing to 1.

    Returns
    -------
    array (n_samples,), larger = more uncertain.

    >>> least_confidence([[0.6, 0.3, 0.1]])
    array([0.4])
    """
    probs = _check_probs(probs)
    return 1.0 - probs.max(axis=1)


def margin(probs) -> np.ndarray:
    """Margin, as an uncertainty: one minus the gap between the two most likely classes.

    ``score(x) = 1 - (p(y_1 | x) - p(y_2 | x))`` where ``y_1`` and ``y_2`` are the
    most and second most likely classes. Margin sampling labels the *smallest*
    margin ``p_1 - p_2``; returning ``1 - margin`` keeps the rule of this module
    (larger = more uncertain): a tie between two classes scores 1, a certain
    prediction scores 0. With a single class, ``p_2 = 0``.

    Parameters
    ----------
    probs : array (n_samples, n_classes)
        Class probabilities; every row in [0, 1] and summing to 1.

    Returns
    -------
    array (n_samples,) in [0, 1], larger = more uncertain.

    >>> margin([[0.6, 0.3, 0.1], [0.45, 0.45, 0.1]])
    array([0.7, 1. ])
    """
    probs = _check_probs(probs)
    if probs.shape[1] == 1:
        return 1.0 - probs[:, 0]
    top2 = -np.partition(-probs, 1, axis=1)[:, :2]
    return np.clip(1.0 - (top2[:, 0] - top2[:, 1]), 0.0, 1.0)


def entropy(probs) -> np.ndarray:
    """Entropy of the predicted class distribution (MaxEnt), in nats.

    ``score(x) = -sum_y p(y | x) log p(y | x)`` with the natural log and
    ``0 log 0 = 0``; it lies in ``[0, log C]``, 0 for a certain prediction and
    ``log C`` for the uniform one.

    Parameters
    ----------
    probs : array (n_samples, n_classes)
        Class probabilities; every row in [0, 1] and summing to 1.

    Returns
    -------
    array (n_samples,), larger = more uncertain.

    >>> entropy([[0.5, 0.5], [1.0, 0.0]])
    array([0.69314718, 0.        ])
    """
    probs = _check_probs(probs)
    logs = np.log(probs, out=np.zeros_like(probs), where=probs > 0)
    return np.maximum(-(probs * logs).sum(axis=1), 0.0)


# --------------------------------------------------------------------------- information density


def mean_unit_vector(pool_embeddings) -> np.ndarray:
    """The mean of the pool's embeddings after scaling each to length 1: ``(1/|P|) sum_p z_p / ||z_p||``.

    Compute it once per round and pass it as ``pool_mean`` to
    :func:`mean_cosine_similarity` or :func:`information_density`: scoring a
    few candidates then costs ``O(candidates * dim)``, however large the pool.

    >>> mean_unit_vector([[3.0, 0.0], [0.0, 2.0]])
    array([0.5, 0.5])
    """
    pool = _check_embeddings(pool_embeddings, "pool_embeddings")
    if len(pool) == 0:
        raise ValueError("pool_embeddings is empty: the mean similarity to an empty pool is undefined")
    return _unit_rows(pool).mean(axis=0)


def mean_cosine_similarity(embeddings, pool_embeddings=None, *, pool_mean=None) -> np.ndarray:
    """Mean cosine similarity of each embedding to the pool: ``(1/|P|) sum_p cos(z, z_p)``.

    Cosine similarity is linear in each unit vector, so the mean over the pool is
    one dot product with the pool's mean unit vector::

        (1/|P|) sum_p cos(z, z_p) = z_hat . ((1/|P|) sum_p z_hat_p),   z_hat = z / ||z||

    That costs ``O(N * dim)``; the explicit ``N x |P|`` similarity matrix (as in
    modAL's ``information_density``) costs ``O(N * |P| * dim)`` time and
    ``N * |P|`` memory, which is out of reach at N = 50,000.

    Parameters
    ----------
    embeddings : array (n, dim)
        The examples to score; no all-zero rows.
    pool_embeddings : array (m, dim), optional
        The pool to compare with; defaults to ``embeddings`` (each example is
        then compared with all of them, itself included).
    pool_mean : array (dim,), optional
        ``mean_unit_vector(pool_embeddings)``, if already computed; give it
        instead of ``pool_embeddings``.

    Returns
    -------
    array (n,) in [-1, 1].

    >>> mean_cosine_similarity([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).round(3)
    array([0.569, 0.569, 0.805])
    """
    embeddings = _check_embeddings(embeddings)
    if pool_mean is not None and pool_embeddings is not None:
        raise ValueError("give pool_embeddings or pool_mean, not both")
    if pool_mean is None:
        pool_mean = mean_unit_vector(embeddings if pool_embeddings is None else pool_embeddings)
    else:
        pool_mean = np.asarray(pool_mean, dtype=np.float64)
        if pool_mean.ndim != 1 or not np.all(np.isfinite(pool_mean)) or np.linalg.norm(pool_mean) > 1 + 1e-6:
            raise ValueError("pool_mean must be the finite vector mean_unit_vector(pool_embeddings), "
                             f"of length at most 1; got shape {pool_mean.shape}")
    if pool_mean.shape[0] != embeddings.shape[1]:
        raise ValueError(f"embeddings have dimension {embeddings.shape[1]} but the pool has dimension "
                         f"{pool_mean.shape[0]}; embed both with the same model")
    return np.clip(_unit_rows(embeddings) @ pool_mean, -1.0, 1.0)


def information_density(probs, embeddings, pool_embeddings=None, beta: float = 1.0,
                        negative: str = "clip", *, pool_mean=None) -> np.ndarray:
    """Information density: entropy weighted by how representative an example is of the unlabeled pool.

    ``score(z) = MaxEnt(z) * ( (1/|P_r|) sum_{p in P_r} cos(z, z_p) ) ** beta``

    where ``P_r`` is the unlabeled pool and ``MaxEnt`` is :func:`entropy`. An
    uncertain outlier scores less than an equally uncertain example in a dense
    region. The mean similarity is computed in ``O(N * dim)`` as
    ``z_hat . mean_p(z_hat_p)`` (see :func:`mean_cosine_similarity`), never as an
    ``N x |P|`` matrix.

    A negative mean similarity would make the score negative (or undefined for
    fractional ``beta``); ``negative`` says how to avoid it:

    - ``"clip"``: use ``max(0, mean cos)``, so such an example scores 0 (for ``beta > 0``;
      ``beta = 0`` gives the plain entropy, as ``x ** 0 = 1``).
    - ``"shift"``: map every similarity to ``(1 + cos) / 2`` in [0, 1] before
      averaging, i.e. use ``(1 + mean cos) / 2``.

    Parameters
    ----------
    probs : array (n, n_classes)
        Class probabilities of the examples to score.
    embeddings : array (n, dim)
        Their embeddings (any features; no all-zero rows).
    pool_embeddings : array (m, dim), optional
        The unlabeled pool ``P_r``; defaults to ``embeddings`` (the candidates are the pool).
    beta : float >= 0
        Weight of the density term; 0 gives the plain entropy.
    negative : ``"clip"`` or ``"shift"``
        How to handle a negative mean similarity, as above.
    pool_mean : array (dim,), optional
        ``mean_unit_vector(pool_embeddings)``, instead of ``pool_embeddings``.

    Returns
    -------
    array (n,) >= 0, larger = more worth labeling.

    Three equally uncertain examples; the third points away from the other two
    (its mean similarity is -0.33):

    >>> probs = [[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]]
    >>> z = [[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0]]
    >>> mean_cosine_similarity(z).round(2)
    array([ 0.33,  0.33, -0.33])
    >>> information_density(probs, z).round(3)
    array([0.23 , 0.231, 0.   ])
    >>> information_density(probs, z, negative="shift").round(3)
    array([0.462, 0.462, 0.232])
    """
    probs = _check_probs(probs)
    embeddings = _check_embeddings(embeddings)
    if len(embeddings) != len(probs):
        raise ValueError(f"probs has {len(probs)} rows but embeddings has {len(embeddings)}; "
                         "give one embedding per scored example, in the same order")
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) \
            or not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta must be a finite number >= 0 (0 = plain entropy, 1 = the usual weight), got {beta!r}")
    if negative not in NEGATIVE_MODES:
        raise ValueError(f"negative must be 'clip' or 'shift', got {negative!r}")
    similarity = mean_cosine_similarity(embeddings, pool_embeddings, pool_mean=pool_mean)
    density = np.maximum(similarity, 0.0) if negative == "clip" else (1.0 + similarity) / 2.0
    return entropy(probs) * density ** float(beta)
