"""Mining the pool for more data like a model's failures (notebook 04, sections 3-4).

One step of the data engine: find the weakest class on a labeled validation set, take its
failing validation items (:func:`dcai_lab.failures.failure_mask`) as queries, and buy labels
for the unlabeled pool items most similar to them::

    weakest = argmin_c accuracy_c(validation)
    queries = failing validation items of class weakest
    batch   = the budget unlabeled pool ids nearest to any query, each at its best similarity

>>> from dcai_lab.knn import KnnIndex
>>> index = KnnIndex(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]))
>>> mine_similar(index, np.array([[1.0, 0.05]]), np.array([True, False, False, False]), k=3, budget=2).tolist()
[1, 3]
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import check_int, check_labels, check_mask, check_matrix
from dcai_lab.failures import failure_mask, failure_report
from dcai_lab.knn import KnnIndex
from dcai_lab.strategies import predict_proba

__all__ = ["mine_similar", "next_batch"]


def mine_similar(index: KnnIndex, queries, labeled, k: int, budget: int) -> np.ndarray:
    """Up to ``budget`` distinct unlabeled pool ids most similar to any of the ``queries``, most similar first.

    Each query's ``k`` nearest pool items (``index.search``) count; labeled ids and ``-1``
    ("not found") are dropped; an id found by several queries counts at its **best**
    similarity; ties go to the smaller pool id. Fewer than ``budget`` come back when fewer
    unlabeled neighbours exist.
    """
    if not isinstance(index, KnnIndex):
        raise ValueError(f"index must be a KnnIndex over the pool, got {type(index).__name__}")
    labeled = check_mask(labeled, len(index), "labeled")
    budget = check_int(budget, "budget", min=1)
    similarities, ids = index.search(queries, check_int(k, "k", min=1, max=len(index)))
    similarities, ids = similarities.ravel(), ids.ravel()
    keep = (ids >= 0) & ~labeled[np.maximum(ids, 0)]
    similarities, ids = similarities[keep], ids[keep]
    ids = ids[np.lexsort((ids, -similarities))]  # most similar first, ties by id
    _, first = np.unique(ids, return_index=True)  # each id where it first (best) appears
    return ids[np.sort(first)][:budget]


def next_batch(model, index: KnnIndex, z_val, y_val, labeled, classes, budget: int, k: int,
               low_confidence: float = 0.5) -> tuple[object, np.ndarray]:
    """One mining step: ``(weakest class, pool ids to label next)`` for a fitted model.

    The weakest class has the lowest validation accuracy (ties: the first in ``classes``);
    its failing validation items are the queries of :func:`mine_similar`. ``z_val`` are the
    validation embeddings, in the index's space.
    """
    z_val = check_matrix(z_val, "z_val", n_cols=index.dim)
    y_val = check_labels(y_val, "y_val", n=len(z_val))
    classes = check_labels(classes, "classes")
    probs = predict_proba(model, z_val, classes)
    report = failure_report(y_val, probs, classes, low_confidence)
    weakest = classes[int(np.nanargmin(report["accuracy"].to_numpy(dtype=float)))]
    queries = z_val[failure_mask(probs, y_val, classes, low_confidence) & (y_val == weakest)]
    return weakest, mine_similar(index, queries, labeled, k, budget)
