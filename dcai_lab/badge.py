"""BADGE: batches that are both uncertain and diverse, from gradient embeddings (notebook 05, section 4).

Ash et al., "Deep Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds" (ICLR
2020). A network's last layer is linear, ``logits = W h(x)``. Take the model's own guess
``y_hat = argmax_y p(y|x)`` as if it were the label: the gradient of the cross-entropy loss
with respect to ``W`` is::

    g(x) = (p(x) - e_{y_hat}) outer h(x)          (C x D, flattened to one vector)

Its length ``||p - e_{y_hat}|| ||h(x)||`` grows with the model's uncertainty; its direction
says how a label for ``x`` would move the last layer. BADGE picks the batch by **k-means++
seeding** on these vectors: first the longest one, then, ``batch_size - 1`` times, a draw with::

    P(x) = D(x)^2 / sum_x' D(x')^2,      D(x) = distance from g(x) to the nearest vector picked so far

so the batch is spread out (no near-duplicates: their ``D`` is about 0) and made of long
gradients (uncertain), with no knob to tune.

``h(x)`` is ``model.penultimate(X)`` for :class:`dcai_lab.cnn.CNNClassifier`; for a model
without it (logistic regression, whose only layer is the last), ``h(x) = x``. The embeddings
take ``candidates x C x D`` float64 numbers (8 bytes each); on large pools, score SEALS's
candidate pool (:func:`dcai_lab.seals.run_seals`) instead.

>>> probs = np.array([[0.9, 0.1], [0.6, 0.4]])
>>> gradient_embeddings(probs, np.array([[1.0, 2.0], [1.0, 0.0]])).round(2)   # (p - e_0) outer h
array([[-0.1, -0.2,  0.1,  0.2],
       [-0.4, -0. ,  0.4,  0. ]])
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import as_array, check_int, check_mask, check_matrix, check_model, check_probs, check_rng
from dcai_lab.strategies import candidate_ids, predict_proba

__all__ = ["gradient_embeddings", "kmeans_pp_seeding", "badge_sampling"]

CHUNK_ROWS = 1024  # rows of gradient embeddings whose distances are computed at a time


def gradient_embeddings(probs, hidden) -> np.ndarray:
    """BADGE's gradient embedding of each row (notebook 05, section 4)::

        g(x) = (p(x) - e_{y_hat}) outer h(x),     y_hat = argmax_y p(y|x)

    the gradient of the cross-entropy loss at label ``y_hat`` with respect to the last layer's
    weights ``W`` (``logits = W h``), flattened row by row; its length is ``||p - e_y_hat|| ||h||``.

    Parameters
    ----------
    probs : array-like (n, C), the model's class probabilities.
    hidden : array-like (n, D), the last layer's inputs ``h(x)`` (``model.penultimate(X)``).

    Returns
    -------
    numpy.ndarray (n, C * D), float64; ties in ``argmax`` go to the first class.

    >>> gradient_embeddings([[0.5, 0.5]], [[2.0]]).tolist()        # y_hat = 0: (0.5 - 1, 0.5) * 2
    [[-1.0, 1.0]]
    """
    probs = check_probs(probs)
    hidden = check_matrix(hidden, "hidden", what="(n, D), the last layer's inputs", n_rows=len(probs))
    residual = probs.copy()
    residual[np.arange(len(probs)), probs.argmax(axis=1)] -= 1.0
    return (residual[:, :, None] * hidden[:, None, :]).reshape(len(probs), -1)


def kmeans_pp_seeding(vectors, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding as BADGE uses it: ``k`` distinct row numbers of ``vectors`` (notebook 05, section 4)::

        first = argmax_i ||v_i||;   then draw i with P(i) = D(i)^2 / sum_j D(j)^2,  D(i) = min_{picked s} ||v_i - v_s||

    Ties for the first go to the lowest row number. If every row left is at distance 0
    (duplicates of picked rows), the next is drawn uniformly among the rows not picked yet.

    Parameters
    ----------
    vectors : array-like (n, d), e.g. :func:`gradient_embeddings`.
    k : how many rows, ``1 .. n``.
    rng : a ``numpy.random.Generator`` for the draws.

    Returns
    -------
    numpy.ndarray (k,) of distinct int64 row numbers, in the order picked.

    >>> v = np.array([[0.0, 0.0], [5.0, 0.0], [5.0, 0.1], [0.0, 4.0]])
    >>> kmeans_pp_seeding(v, 2, np.random.default_rng(0)).tolist()    # [5, 0.1] is longest; then far rows
    [2, 3]
    """
    vectors = check_matrix(vectors, "vectors")
    k = check_int(k, "k", min=1, max=len(vectors))
    rng = check_rng(rng)
    picked = [int(np.argmax(np.einsum("ij,ij->i", vectors, vectors)))]
    nearest = np.full(len(vectors), np.inf)
    while len(picked) < k:
        np.minimum(nearest, _sq_distances_to(vectors, vectors[picked[-1]]), out=nearest)
        nearest[picked] = 0.0
        total = nearest.sum()
        if total > 0:
            picked.append(int(rng.choice(len(vectors), p=nearest / total)))
        else:
            picked.append(int(rng.choice(np.setdiff1d(np.arange(len(vectors)), picked))))
    return np.array(picked, dtype=np.int64)


def _sq_distances_to(vectors: np.ndarray, point: np.ndarray) -> np.ndarray:
    """``||v_i - point||^2`` for every row, ``CHUNK_ROWS`` rows at a time (exact: no expansion, small temporaries).

    Expects checked float64 input (:func:`kmeans_pp_seeding` checks it)."""
    out = np.empty(len(vectors))
    for start in range(0, len(vectors), CHUNK_ROWS):
        diff = vectors[start:start + CHUNK_ROWS] - point
        out[start:start + CHUNK_ROWS] = np.einsum("ij,ij->i", diff, diff)
    return out


def badge_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                   embeddings=None, pool_mean=None) -> np.ndarray:
    """BADGE: k-means++ seeding on the candidates' gradient embeddings (notebook 05, sections 4-5)::

        batch = kmeans_pp_seeding([(p(x) - e_{y_hat(x)}) outer h(x) for x in candidates], batch_size)

    The strategy signature of :mod:`dcai_lab.strategies`. ``h(x)`` is ``model.penultimate(X)``
    when the model has it, else the features ``X``. The loop counts one row scored per
    candidate: the probabilities and ``h(x)`` come from the same forward pass (here two calls).

    Returns
    -------
    numpy.ndarray (batch_size,): distinct unlabeled pool ids, in the order picked.

    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression().fit(X[[0, 3]], [0, 1])
    >>> badge_sampling(model, X, np.array([True, False, False, True]), 2, np.random.default_rng(0)).tolist()
    [2, 1]
    """
    X_pool = as_array(X_pool, "X_pool")
    if X_pool.ndim != 2:
        raise ValueError(f"X_pool must be a 2-D array (n_pool, n_features), got shape {X_pool.shape}")
    check_rng(rng)
    ids = candidate_ids(check_mask(labeled, len(X_pool), "labeled"), batch_size, candidates)
    X = check_matrix(X_pool[ids], "X_pool[candidates]")
    probs = predict_proba(check_model(model), X)
    hidden = model.penultimate(X) if hasattr(model, "penultimate") else X
    return ids[kmeans_pp_seeding(gradient_embeddings(probs, hidden), batch_size, rng)]
