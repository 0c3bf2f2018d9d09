"""The rare-concept search experiment of the SEALS paper (notebook 02, sections 8 and 12).

Find the few positives of a concept hidden in a huge pool, starting from a handful of
examples (5 positives and 95 random negatives), with a binary classifier. Four methods,
:data:`RARE_METHODS`: random labeling, full-pool MaxEnt, and SEALS + MaxEnt or + information
density. Measured per round: the **positives found** (the recall of the rare class in the pool),
the test **average precision** and the cost (points scored, selection seconds).

>>> is_positive = np.arange(1000) % 100 == 0            # 10 positives in 1,000
>>> ids = initial_rare_labels(is_positive, n_positives=2, n_negatives=3, seed=0)
>>> len(ids), int(is_positive[ids].sum()), positives_found(ids, is_positive)
(5, 2, 0.2)
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import check_choice, check_ids, check_int, check_matrix, check_model, check_seed, check_vector
from dcai_lab.history import History
from dcai_lab.knn import KnnIndex

__all__ = ["RARE_METHODS", "initial_rare_labels", "positives_found", "rare_average_precision", "rare_search_curve",
           "rare_concept_search"]

RARE_METHODS = ("random", "full MaxEnt", "SEALS + MaxEnt", "SEALS + ID")


def _flags(is_positive, name: str, n: int | None = None) -> np.ndarray:
    """Positive / negative flags as a bool array (True/False or 1/0), of length ``n`` if given."""
    flags = np.asarray(is_positive)
    if flags.dtype != bool:
        flags = check_vector(flags, name, n=n)
        if not np.isin(flags, (0, 1)).all():
            raise ValueError(f"{name} must be True/False (or 1/0) per item, got other values")
    elif flags.ndim != 1 or (n is not None and len(flags) != n):
        raise ValueError(f"{name} must have one flag per item ({n}), got shape {flags.shape}")
    return flags.astype(bool)


def initial_rare_labels(is_positive, n_positives: int = 5, n_negatives: int = 95, seed: int = 0) -> np.ndarray:
    """Sorted pool ids of ``n_positives`` random positives and ``n_negatives`` random negatives."""
    is_positive = _flags(is_positive, "is_positive")
    positives, negatives = np.flatnonzero(is_positive), np.flatnonzero(~is_positive)
    n_positives = check_int(n_positives, "n_positives", min=1, max=len(positives),
                            hint=f" (the pool has {len(positives)} positives)")
    n_negatives = check_int(n_negatives, "n_negatives", min=0, max=len(negatives),
                            hint=f" (the pool has {len(negatives)} negatives)")
    rng = np.random.default_rng(check_seed(seed))
    return np.sort(np.concatenate([rng.choice(positives, n_positives, replace=False),
                                   rng.choice(negatives, n_negatives, replace=False)]))


def positives_found(labeled_ids, is_positive) -> float:
    """Recall of the rare class in the pool: labeled positives / all positives of the pool.

    >>> positives_found([0, 1, 5], [True, False, False, True, False, True])
    0.6666666666666666
    """
    is_positive = _flags(is_positive, "is_positive")
    labeled = check_ids(labeled_ids, len(is_positive), "labeled_ids")
    if not is_positive.any():
        raise ValueError("is_positive has no positive item: there is nothing to find")
    return float(is_positive[np.unique(labeled)].sum() / is_positive.sum())


def rare_average_precision(model, X_test, is_positive_test) -> float:
    """Average precision ``AP = sum_n (R_n - R_{n-1}) P_n`` of the model's positive-class probability.

    Precision averaged over the ranks at which the test positives are found
    (``sklearn.metrics.average_precision_score``); random ranking scores the prevalence.
    """
    from sklearn.metrics import average_precision_score

    check_model(model)
    if not hasattr(model, "classes_"):
        raise ValueError(f"model ({type(model).__name__}) has no classes_: pass a fitted classifier")
    proba = model.predict_proba(check_matrix(X_test, "X_test", what="(n_test, n_features)", dtype=None))
    classes = list(model.classes_)
    score = proba[:, classes.index(1)] if 1 in classes else np.zeros(len(proba))
    return float(average_precision_score(_flags(is_positive_test, "is_positive_test", len(proba)).astype(int), score))


def rare_search_curve(history, X_pool, is_positive, X_test, is_positive_test, model=None):
    """Per round of a rare-concept search: positives found, test average precision and the selection cost.

    Refits the loop's model on each round's labels (``history.labeled_ids[:n_labeled]``, in
    the order obtained: the loop's own fit) to measure its test average precision.
    Returns a pandas DataFrame, one row per round: ``round``, ``n_labeled``,
    ``positives_found``, ``average_precision``, ``n_scored``, ``candidate_pool_size``,
    ``seconds_selecting``.
    """
    import pandas as pd
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    if not isinstance(history, History):
        raise ValueError(f"history must be the History of a run (run_active_learning, run_seals), "
                         f"got {type(history).__name__}")
    model = LogisticRegression(max_iter=1000) if model is None else check_model(model)
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model = clone(model).set_params(random_state=history.seed)
    X_pool = np.asarray(X_pool)
    found, ap = [], []
    for n in history.n_labeled:
        ids = history.labeled_ids[:n]
        found.append(positives_found(ids, is_positive))
        ap.append(rare_average_precision(clone(model).fit(X_pool[ids], history.labels[:n]), X_test, is_positive_test))
    return pd.DataFrame({"strategy": history.strategy, "seed": history.seed, "round": np.arange(len(history)),
                         "n_labeled": history.n_labeled, "positives_found": found, "average_precision": ap,
                         "n_scored": history.n_scored, "candidate_pool_size": history.candidate_pool_size,
                         "seconds_selecting": history.seconds_selecting})


def rare_concept_search(method: str, X_pool, is_positive, X_test, is_positive_test, *, index: KnnIndex | None = None,
                        k: int = 100, n_positives: int = 5, n_negatives: int = 95, batch_size: int = 10,
                        n_rounds: int = 10, seed: int = 0, model=None, progress: bool = False):
    """Run one rare-concept search and return its :func:`rare_search_curve`, with a ``method`` column.

    ``"random"`` and ``"full MaxEnt"`` (entropy) score the whole pool; ``"SEALS + MaxEnt"`` and
    ``"SEALS + ID"`` (information density) only the candidate pool of ``index`` with ``k``
    neighbours per label. Every method starts from the same labels (:func:`initial_rare_labels`).
    """
    from dcai_lab.active import run_active_learning
    from dcai_lab.seals import run_seals

    check_choice(method, "method", RARE_METHODS)
    is_positive = _flags(is_positive, "is_positive", len(X_pool))
    y_test = _flags(is_positive_test, "is_positive_test", len(X_test)).astype(np.int64)
    initial = initial_rare_labels(is_positive, n_positives, n_negatives, seed=seed)
    options = dict(initial_labeled=initial, batch_size=batch_size, n_rounds=n_rounds, seed=seed, model=model,
                   progress=progress, classes=[0, 1])
    y_pool = is_positive.astype(np.int64)
    if method.startswith("SEALS"):
        if index is None:
            raise ValueError(f"{method!r} needs index=KnnIndex(embeddings of the pool)")
        strategy = "entropy" if method == "SEALS + MaxEnt" else "information_density"
        history = run_seals(X_pool, y_pool, X_test, y_test, k=k, strategy=strategy, index=index, **options)
    else:
        history = run_active_learning(X_pool, y_pool, X_test, y_test, strategy="random" if method == "random" else
                                      "entropy", embeddings=None if index is None else index.vectors, **options)
    frame = rare_search_curve(history, X_pool, is_positive, X_test, y_test, model=model)
    frame.insert(0, "method", method)
    return frame
