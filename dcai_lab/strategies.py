"""Selection strategies for pool-based active learning (notebook 01, sections 4-5).

Every strategy has the same signature::

    strategy(model, X_pool, labeled, batch_size, rng, *, candidates=None, embeddings=None, pool_mean=None)

- ``model``: a fitted classifier with ``predict_proba`` (ignored by ``random`` and ``core_set``).
- ``X_pool``: the features of the whole pool, shape (N, d). Row ``i`` is **pool id** ``i``.
- ``labeled``: boolean mask (N,), True for the pool ids already labeled.
- ``batch_size``: how many pool ids to return; ``rng``: a ``numpy.random.Generator``.
- ``candidates``: the pool ids to choose from (e.g. SEALS's candidate pool); None = every unlabeled id.
- ``embeddings``: vectors for ``information_density`` and ``core_set`` (default: ``X_pool``).
- ``pool_mean``: for ``information_density``, the mean unit vector of the unlabeled pool, or a
  function returning it (the loop passes a :class:`~dcai_lab.uncertainty.UnlabeledMean`).

It returns exactly ``batch_size`` distinct, unlabeled pool ids, most wanted first. Ties go to
the lowest pool id, or (``ties="random"``) are broken at random with ``rng``. A strategy checks
only what it reads (shapes, the candidates' rows), so a round costs O(candidates), and
:func:`dcai_lab.active.run_active_learning` checks the whole pool once.

>>> from sklearn.linear_model import LogisticRegression
>>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
>>> labeled = np.array([True, False, False, False, False, True])
>>> model = LogisticRegression().fit(X[labeled], [0, 1])
>>> entropy_sampling(model, X, labeled, 2, np.random.default_rng(0)).tolist()   # nearest x = 2.5
[2, 3]
>>> core_set_sampling(None, X, labeled, 1, np.random.default_rng(0)).tolist()   # farthest from 0 and 5
[2]
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dcai_lab._checks import as_array, check_choice, check_ids, check_int, check_labels, check_mask, check_matrix, \
    check_model, check_rng, check_vector, some
from dcai_lab.coreset import k_center_greedy
from dcai_lab.uncertainty import UnlabeledMean, entropy, information_density, least_confidence, margin

__all__ = ["random_sampling", "least_confidence_sampling", "margin_sampling", "entropy_sampling",
           "information_density_sampling", "core_set_sampling", "STRATEGIES", "candidate_ids", "top_scoring",
           "predict_proba", "TIES"]

TIES = ("id", "random")
SCORE_CHUNK_ROWS = 8_192  # candidates per predict_proba call in the uncertainty strategies (fits the CPU's cache)


# --------------------------------------------------------------------------- shared pieces


def candidate_ids(labeled, batch_size: int, candidates=None) -> np.ndarray:
    """The sorted pool ids a strategy may pick from, after checking the arguments.

    ``candidates=None`` means every unlabeled pool id. Raises ``ValueError`` if a candidate
    is outside the pool or already labeled, or if fewer than ``batch_size`` remain.

    >>> candidate_ids(np.array([True, False, False, True]), 2).tolist()
    [1, 2]
    """
    labeled = check_mask(labeled, None, "labeled")
    batch_size = check_int(batch_size, "batch_size", min=1)
    if candidates is None:
        ids = np.flatnonzero(~labeled)
    else:
        ids = check_ids(candidates, len(labeled), "candidates")
        if not (ids[1:] > ids[:-1]).all():  # already sorted without repeats (the loop's ids are): no sort
            ids = np.sort(ids)
            ids = ids[np.r_[True, ids[1:] != ids[:-1]]]  # sorted: drop repeats (np.unique is slower)
        taken = ids[labeled[ids]]
        if len(taken):
            raise ValueError(f"candidates {some(taken)} are already labeled; pass only unlabeled pool ids")
    if len(ids) < batch_size:
        raise ValueError(f"only {len(ids)} unlabeled candidates remain but batch_size is {batch_size}; "
                         "lower batch_size or n_rounds, or use a larger (candidate) pool")
    return ids


def top_scoring(scores, ids, batch_size: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """The ``batch_size`` ids with the largest scores, largest first.

    Ties go to the lowest id; with ``rng``, tied ids come in a random order instead (so a
    pool sorted by class does not give a whole batch of tied scores to one class).

    >>> top_scoring([0.2, 0.9, 0.9, 0.1], [10, 11, 12, 13], 2).tolist()
    [11, 12]
    """
    ids = check_ids(ids, np.iinfo(np.int64).max, "ids")
    scores = check_vector(scores, "scores", n=len(ids), min_len=0)
    batch_size = check_int(batch_size, "batch_size", min=1, max=len(ids))
    tiebreak = ids if rng is None else check_rng(rng).permutation(len(ids))
    return ids[np.lexsort((tiebreak, -scores))[:batch_size]]  # by score, then by id (or a random key)


def predict_proba(model, X, classes=None) -> np.ndarray:
    """``model.predict_proba(X)`` with one column per class of ``classes`` (zeros for classes it never saw).

    A model trained on a labeled set that lacks some classes predicts only the classes it
    saw (``model.classes_``); this puts its columns where ``classes`` (any order) has them.

    >>> from sklearn.linear_model import LogisticRegression
    >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 2])       # class 1 never seen
    >>> predict_proba(model, [[0.0]], classes=[2, 0, 1]).round(2).tolist()
    [[0.44, 0.56, 0.0]]
    """
    probs = np.asarray(check_model(model).predict_proba(X), dtype=np.float64)
    if classes is None:
        return probs
    classes = check_labels(classes, "classes").tolist()
    if len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct, got {classes}")
    column = {c: j for j, c in enumerate(classes)}
    if not hasattr(model, "classes_"):
        raise ValueError(f"model ({type(model).__name__}) has no classes_, so its columns cannot be matched to "
                         "classes; fit it first, or pass classes=None")
    seen = np.asarray(model.classes_).tolist()
    if any(c not in column for c in seen):
        raise ValueError(f"the model knows classes {seen}, not all in classes={classes}; list every class")
    full = np.zeros((len(probs), len(classes)))
    full[:, [column[c] for c in seen]] = probs
    return full


def _check_pool(X_pool, labeled) -> tuple[np.ndarray, np.ndarray]:
    """``X_pool`` as a 2-D array and ``labeled`` as a mask over it: shapes only, so a round costs O(candidates)."""
    X_pool = as_array(X_pool, "X_pool")
    if X_pool.ndim != 2:
        raise ValueError(f"X_pool must be a 2-D array (n_pool, n_features), got shape {X_pool.shape}")
    return X_pool, check_mask(labeled, len(X_pool), "labeled")


def _score_and_pick(score: Callable, model, X_pool, labeled, batch_size, rng, candidates, ties) -> np.ndarray:
    """The strategies of the three uncertainty scores: score the candidates, keep the top ``batch_size``.

    The candidates are scored ``SCORE_CHUNK_ROWS`` at a time and each chunk is merged into the
    best ``batch_size`` so far, so memory stays at one chunk however many candidates there are
    (full-pool MaxEnt on ten million rows never copies ``X_pool[ids]``). The result is
    :func:`top_scoring` of all the scores at once, ties included: the tie-break key of every
    candidate (its id, or its place in ``rng.permutation``) is the same, and the best
    ``batch_size`` of a union are the best of the best of its parts.
    """
    from sklearn import config_context

    X_pool, labeled = _check_pool(X_pool, labeled)
    check_rng(rng)
    ids = candidate_ids(labeled, batch_size, candidates)
    model = check_model(model)
    keys = check_rng(rng).permutation(len(ids)) if check_choice(ties, "ties", TIES) == "random" else ids
    best_scores, best_keys, best_ids = np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)
    for start in range(0, len(ids), SCORE_CHUNK_ROWS):
        part = ids[start:start + SCORE_CHUNK_ROWS]
        contiguous = part[-1] - part[0] == len(part) - 1  # sorted distinct ids: a slice, no gather
        x = check_matrix(X_pool[part[0]:part[-1] + 1] if contiguous else X_pool[part], "X_pool[candidates]",
                         finite=False)  # float64, as one call would be
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        if len(bad):
            raise ValueError(f"X_pool must be finite (pool id {part[bad[0]]} holds NaN or infinity); fix or drop "
                             "those rows")
        with config_context(assume_finite=True):  # checked just above
            probs = model.predict_proba(x)
        scores = check_vector(score(probs), "scores", n=len(part))
        best_scores = np.concatenate([best_scores, scores])
        best_keys = np.concatenate([best_keys, keys[start:start + len(part)]])
        best_ids = np.concatenate([best_ids, part])
        keep = np.lexsort((best_keys, -best_scores))[:batch_size]  # by score, then by the tie-break key
        best_scores, best_keys, best_ids = best_scores[keep], best_keys[keep], best_ids[keep]
    return best_ids


# --------------------------------------------------------------------------- the strategies


def random_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                    embeddings=None, pool_mean=None) -> np.ndarray:
    """``batch_size`` candidates drawn uniformly at random, without replacement: the baseline."""
    _, labeled = _check_pool(X_pool, labeled)
    return check_rng(rng).choice(candidate_ids(labeled, batch_size, candidates), size=batch_size, replace=False)


def least_confidence_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                              embeddings=None, pool_mean=None, ties: str = "id") -> np.ndarray:
    """The candidates with the largest ``1 - max_y p(y|x)`` (:func:`dcai_lab.uncertainty.least_confidence`)."""
    return _score_and_pick(least_confidence, model, X_pool, labeled, batch_size, rng, candidates, ties)


def margin_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                    embeddings=None, pool_mean=None, ties: str = "id") -> np.ndarray:
    """The candidates with the smallest gap ``p_1 - p_2`` between the two likeliest classes
    (:func:`dcai_lab.uncertainty.margin`)."""
    return _score_and_pick(margin, model, X_pool, labeled, batch_size, rng, candidates, ties)


def entropy_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                     embeddings=None, pool_mean=None, ties: str = "id") -> np.ndarray:
    """The candidates with the largest entropy ``-sum_y p log p`` (MaxEnt, :func:`dcai_lab.uncertainty.entropy`)."""
    return _score_and_pick(entropy, model, X_pool, labeled, batch_size, rng, candidates, ties)


def information_density_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *,
                                 candidates=None, embeddings=None, pool_mean=None, beta: float = 1.0,
                                 negative: str = "clip", ties: str = "id") -> np.ndarray:
    """The candidates with the largest entropy x (mean cosine similarity to the unlabeled pool) ** beta.

    See :func:`dcai_lab.uncertainty.information_density`. The pool term is the mean over
    **all** unlabeled pool items, even when only ``candidates`` are scored. ``pool_mean``
    (the array, or a function returning it) saves computing it here in ``O(N * dim)``.
    """
    X_pool, labeled = _check_pool(X_pool, labeled)
    check_rng(rng)
    z = X_pool if embeddings is None else as_array(embeddings, "embeddings")
    if z.ndim != 2 or len(z) != len(X_pool):
        raise ValueError(f"embeddings must have one row per pool item ({len(X_pool)}), got shape {z.shape}")
    ids = candidate_ids(labeled, batch_size, candidates)
    if pool_mean is None:
        pool_mean = UnlabeledMean(check_matrix(z, "embeddings"), labeled)
    pool_mean = pool_mean() if callable(pool_mean) else pool_mean
    probs = check_model(model).predict_proba(check_matrix(X_pool[ids], "X_pool[candidates]"))
    scores = information_density(probs, z[ids], beta=beta, negative=negative, pool_mean=pool_mean)
    return top_scoring(scores, ids, batch_size, rng if check_choice(ties, "ties", TIES) == "random" else None)


def core_set_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                      embeddings=None, pool_mean=None) -> np.ndarray:
    """k-center greedy: the candidate farthest from everything labeled, ``batch_size`` times
    (:func:`dcai_lab.coreset.k_center_greedy`). The model is not used."""
    X_pool, labeled = _check_pool(X_pool, labeled)
    z = check_matrix(X_pool if embeddings is None else embeddings, "embeddings", n_rows=len(X_pool), dtype=None)
    return k_center_greedy(z, labeled, batch_size, candidates=candidate_ids(labeled, batch_size, candidates),
                           rng=check_rng(rng))


STRATEGIES: dict[str, Callable[..., np.ndarray]] = {
    "random": random_sampling,
    "least_confidence": least_confidence_sampling,
    "margin": margin_sampling,
    "entropy": entropy_sampling,
    "information_density": information_density_sampling,
    "core_set": core_set_sampling,
}
