"""References for explore mode: the library's answer to exercises that have no library function of their signature.

An exercise cell is decorated with ``@exercise(reference=...)`` (:mod:`dcai_lab.course.explore`);
while the learner's version is unanswered, explore mode runs the reference instead, so the rest
of the notebook runs. Where the library has a function of the same signature (``entropy``,
``margin_sampling``, ...) the notebook names it; the adapters below wrap the library for the
others. Each says which notebook and exercise it stands in for.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mean_images", "active_learning_loop", "batch_size_sweep"]


# --------------------------------------------------------------------------- notebook 00


def mean_images(images, y, n_classes):
    """Notebook 00, exercise 1: the average image of each class, shape ``(n_classes, H, W)``.

    >>> mean_images(np.array([[[0, 2]], [[4, 6]], [[9, 9]]]), np.array([0, 0, 1]), 2).tolist()
    [[[2.0, 4.0]], [[9.0, 9.0]]]
    """
    images, y = np.asarray(images, dtype=np.float64), np.asarray(y)
    return np.stack([images[y == c].mean(axis=0) for c in range(n_classes)])


# --------------------------------------------------------------------------- notebook 01


def active_learning_loop(X_pool, y_pool, X_test, y_test, strategy, initial_labeled=20, batch_size=10, n_rounds=5,
                         seed=0):
    """Notebook 01's loop exercise by :func:`dcai_lab.active.run_active_learning`: ``(accuracy, selected)``.

    ``accuracy`` holds the ``n_rounds + 1`` test accuracies, ``selected`` the ``n_rounds`` arrays of
    picked pool ids. A strategy that returns anything but ``batch_size`` distinct unlabeled pool
    ids raises ``ValueError``, as the exercise asks (the library's loop wraps it in ``LoopStopped``).

    >>> from dcai_lab.data import course_split
    >>> pool, test = course_split()
    >>> accuracy, selected = active_learning_loop(pool.X, pool.y, test.X, test.y, "margin", n_rounds=2)
    >>> len(accuracy), [len(ids) for ids in selected]
    (3, [10, 10])
    """
    from dcai_lab.active import run_active_learning
    from dcai_lab.history import LoopStopped

    try:
        history = run_active_learning(X_pool, y_pool, X_test, y_test, strategy=strategy,
                                      initial_labeled=initial_labeled, batch_size=batch_size, n_rounds=n_rounds,
                                      seed=seed, progress=False)
    except LoopStopped as stop:
        if isinstance(stop.__cause__, ValueError):
            raise stop.__cause__ from None
        raise
    return list(history.accuracy), list(history.selected[:-1])


def batch_size_sweep(X_pool, y_pool, X_test, y_test, strategies, batch_sizes, seeds, budget=220, initial_labeled=20):
    """Notebook 01's batch-size experiment: the final test accuracy of every strategy x batch size x seed.

    Every run starts from ``initial_labeled`` random labels and ends with ``budget`` labels, in
    rounds of ``batch_size``; a batch size that does not divide ``budget - initial_labeled``
    raises ``ValueError``. Returns a DataFrame with one row per run: ``strategy``, ``batch_size``,
    ``seed``, ``n_labeled``, ``accuracy``.
    """
    import pandas as pd

    from dcai_lab.active import compare_strategies

    rows = []
    for batch_size in batch_sizes:
        n_rounds, left = divmod(budget - initial_labeled, batch_size)
        if left or n_rounds < 1:
            raise ValueError(f"batch size {batch_size} does not divide the {budget - initial_labeled} labels to add "
                             f"(budget {budget} - initial_labeled {initial_labeled})")
        for history in compare_strategies(strategies, seeds, X_pool, y_pool, X_test, y_test, progress=False,
                                          initial_labeled=initial_labeled, batch_size=batch_size, n_rounds=n_rounds):
            rows.append({"strategy": history.strategy, "batch_size": batch_size, "seed": history.seed,
                         "n_labeled": history.n_labeled[-1], "accuracy": history.accuracy[-1]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- notebook 02


__all__ += ["random_hyperplanes", "lsh_codes", "estimated_cosine", "hamming_search", "add_labeled", "seals_select",
            "seals_loop", "seals_k_sweep"]


def random_hyperplanes(dim, n_bits, seed):
    """Notebook 02, exercise 1: ``n_bits`` random hyperplane normals in R^dim, an array (n_bits, dim).

    Standard normal coordinates: the density depends only on the length, so every direction is
    equally likely (a uniform box would favour its corners).
    """
    return np.random.default_rng(seed).standard_normal((n_bits, dim))


def lsh_codes(X, hyperplanes):
    """Notebook 02, exercise 1: bit ``j`` of row ``i`` is ``hyperplanes[j] . X[i] > 0``, a bool array (n, n_bits).

    >>> lsh_codes([[1.0, -1.0]], [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]).tolist()   # on the third plane: 0
    [[True, False, False]]
    """
    return np.asarray(X, dtype=np.float64) @ np.asarray(hyperplanes, dtype=np.float64).T > 0


def estimated_cosine(codes_a, codes_b):
    """Notebook 02, exercise 2: ``cos(pi * H / b)`` per row pair, ``H`` the Hamming distance of ``b``-bit codes.

    >>> estimated_cosine([[True, True], [True, False]], [[True, True], [False, True]]).round(6).tolist()
    [1.0, -1.0]
    """
    a, b = np.asarray(codes_a, dtype=bool), np.asarray(codes_b, dtype=bool)
    return np.cos(np.pi * (a != b).sum(axis=1) / a.shape[1])


def hamming_search(codes, query_codes, k):
    """Notebook 02, exercise 2: ``(distances, ids)``, each (m, k): the ``k`` codes nearest each query code.

    An exhaustive scan, as faiss's ``IndexLSH`` does: every query is compared with all ``n``
    codes. Distances are Hamming distances (ints), nearest first; ties go to the lower id.

    >>> codes = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0]], dtype=bool)
    >>> d, ids = hamming_search(codes, np.array([[1, 0, 1]], dtype=bool), 2)
    >>> d.tolist(), ids.tolist()
    ([[1, 1]], [[1, 2]])
    """
    codes, queries = np.asarray(codes, dtype=bool), np.asarray(query_codes, dtype=bool)
    distances = np.stack([(codes != q).sum(axis=1) for q in queries]) if len(queries) else np.zeros((0, len(codes)))
    ids = np.argsort(distances, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(distances, ids, axis=1).astype(np.int64), ids.astype(np.int64)


def add_labeled(index, k, labeled, candidate, new_ids):
    """Notebook 02, exercise 3: :meth:`dcai_lab.seals.CandidatePool.add_labeled` on two masks, in place.

    Marks the ids of ``new_ids`` not labeled yet as labeled (no longer candidates), searches the
    ``k`` neighbours of only those, and makes every unlabeled neighbour (not ``-1``) a candidate.
    """
    new_ids = np.asarray(new_ids, dtype=np.int64)
    new = np.unique(new_ids[~labeled[new_ids]])
    labeled[new] = True
    candidate[new] = False
    if len(new):
        _, neighbours = index.neighbors(new, k)
        neighbours = neighbours[neighbours >= 0]
        candidate[neighbours[~labeled[neighbours]]] = True


def seals_select(model, Z, candidate, batch_size):
    """Notebook 02, exercise 4: the ``batch_size`` candidates of largest entropy, by
    :func:`dcai_lab.strategies.entropy_sampling` (ties to the lower pool id; ``ValueError`` if too few)."""
    from dcai_lab.strategies import entropy_sampling

    ids = np.flatnonzero(candidate)
    if len(ids) < batch_size:
        raise ValueError(f"only {len(ids)} candidates for a batch of {batch_size}")
    return entropy_sampling(model, Z, np.zeros(len(Z), dtype=bool), batch_size, np.random.default_rng(0),
                            candidates=ids)


def seals_loop(model, Z, y, index, k, initial_ids, batch_size, n_rounds):
    """Notebook 02, exercise 5: SEALS with MaxEnt, as :func:`dcai_lab.seals.run_seals` runs it: ``(selected, scored)``.

    Each round fits a fresh copy of ``model`` on every label so far (in the order obtained),
    scores the candidates, labels the ``batch_size`` of largest entropy (``y`` is the oracle)
    and adds their neighbours. ``selected`` holds the ``n_rounds`` batches of pool ids,
    ``scored`` the number of candidates scored in each round.
    """
    from sklearn.base import clone

    from dcai_lab.seals import CandidatePool

    order = [int(i) for i in np.unique(np.asarray(initial_ids, dtype=np.int64))]
    pool = CandidatePool(index, k, labeled=order)
    selected, scored = [], []
    for _ in range(n_rounds):
        fitted = clone(model).fit(Z[order], np.asarray(y)[order])
        candidate = np.zeros(len(Z), dtype=bool)
        candidate[pool.ids()] = True
        scored.append(int(candidate.sum()))
        batch = seals_select(fitted, Z, candidate, batch_size)
        selected.append(batch)
        order += batch.tolist()
        pool.add_labeled(batch)
    return selected, scored


def seals_k_sweep(index, Z, is_positive, ks, seeds, batch_size=50, n_rounds=8):
    """Notebook 02's k experiment: a rare-concept search per ``k`` and seed, one row each.

    Each run starts from 5 positives and 95 negatives (:func:`dcai_lab.rare.initial_rare_labels`
    with the seed) and runs :func:`seals_loop` (logistic regression, MaxEnt). Columns: ``k``,
    ``seed``, ``positives_found`` (labeled positives / all positives of the pool) and
    ``candidates_scored`` (the mean number of candidates scored per round).
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from dcai_lab.rare import initial_rare_labels, positives_found

    is_positive = np.asarray(is_positive, dtype=bool)
    model = LogisticRegression(max_iter=1000, random_state=0)
    rows = []
    for k in ks:
        for seed in seeds:
            start = initial_rare_labels(is_positive, n_positives=5, n_negatives=95, seed=seed)
            selected, scored = seals_loop(model, Z, is_positive.astype(int), index, k, start, batch_size, n_rounds)
            rows.append({"k": k, "seed": seed,
                         "positives_found": positives_found(np.concatenate([start, *selected]), is_positive),
                         "candidates_scored": float(np.mean(scored))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- notebook 03

__all__ += ["power_law_for_floor", "fit_power_law_scan", "data_multiple", "kept_fraction_sweep"]


def power_law_for_floor(n, error, c):
    """Notebook 03, exercise 1: ``(a, b)`` of the straight line ``log(error - c) = log(a) - b log(n)``.

    A least-squares line (``np.polyfit``) through ``(log n_i, log(error_i - c))``; ``ValueError``
    if an error is at or below the floor ``c`` (its excess has no logarithm).

    >>> n = np.array([10.0, 100.0, 1000.0])
    >>> [round(v, 6) for v in power_law_for_floor(n, 2.0 * n ** -0.5 + 0.01, 0.01)]
    [2.0, 0.5]
    """
    n, error = np.asarray(n, dtype=np.float64), np.asarray(error, dtype=np.float64)
    if np.any(error <= c):
        raise ValueError(f"every error must lie above the floor c = {c:g}; the smallest is {error.min():g}")
    slope, intercept = np.polyfit(np.log(n), np.log(error - c), 1)
    return float(np.exp(intercept)), float(-slope)


def fit_power_law_scan(n, error, floors):
    """Notebook 03, exercise 2: ``(a, b, c)`` of ``error = a * n**(-b) + c`` by a scan over candidate floors.

    For every ``c`` in ``floors`` below the smallest error, :func:`power_law_for_floor` gives
    ``(a, b)``; the floor with the smallest sum of squared residuals of log error,
    ``sum_i (log error_i - log(a n_i**(-b) + c))**2``, wins (the first of equal ones).
    ``ValueError`` if no floor lies below the smallest error. Close to
    :func:`dcai_lab.scaling.fit_power_law`, which solves the same least squares in all three.

    >>> n = np.array([10.0, 30.0, 100.0, 300.0, 1000.0])
    >>> [round(v, 6) for v in fit_power_law_scan(n, 3.0 * n ** -0.7 + 0.02, np.arange(51) / 1000)]
    [3.0, 0.7, 0.02]
    """
    n, error = np.asarray(n, dtype=np.float64), np.asarray(error, dtype=np.float64)
    best, best_loss = None, np.inf
    for c in np.asarray(floors, dtype=np.float64):
        if c >= error.min():
            continue
        a, b = power_law_for_floor(n, error, c)
        loss = np.sum((np.log(error) - np.log(a * n ** -b + c)) ** 2)
        if loss < best_loss:
            best, best_loss = (a, b, float(c)), loss
    if best is None:
        raise ValueError(f"no floor below the smallest error {error.min():g}: nothing to fit")
    return best


def data_multiple(a, b, c, error_from, error_to):
    """Notebook 03, exercise 3: ``n(error_to) / n(error_from)`` on ``error = a * n**(-b) + c``.

    ``n(error) = (a / (error - c))**(1 / b)``, so the multiple is ``((error_from - c) /
    (error_to - c))**(1 / b)``: ``a`` cancels. ``ValueError`` if either error is at or below
    the floor (no amount of data reaches it).

    >>> data_multiple(1.0, 1.0, 0.0, 0.03, 0.02)   # error ~ 1/n: 3% -> 2% takes 1.5x the data
    1.5
    """
    if min(error_from, error_to) <= c:
        raise ValueError(f"the floor c = {c:g} is at or above {min(error_from, error_to):g}: "
                         "no amount of data gets there")
    return float(((error_from - c) / (error_to - c)) ** (1.0 / b))


def kept_fraction_sweep(score_fn, fractions, seeds, train_fn, train, test, keep="hard", class_balanced=False):
    """Notebook 03, exercise 6: the test error (%) after pruning ``train`` to each kept fraction, per seed.

    For every seed, ``scores = score_fn(seed)``; for every fraction, the examples of
    :func:`dcai_lab.pruning.select` (``keep``, ``class_balanced`` with ``train.y``) train
    ``train_fn(X, y)``, and the row records ``100 * (1 - model.score(test.X, test.y))``.
    ``train`` and ``test`` have ``.X`` and ``.y`` (a :class:`dcai_lab.data.Dataset`). Returns a
    DataFrame with columns ``seed``, ``fraction``, ``error``, one row per (seed, fraction).
    """
    import pandas as pd

    from dcai_lab.pruning import select

    rows = []
    for seed in seeds:
        scores = score_fn(seed)
        for fraction in fractions:
            kept = select(scores, fraction, keep=keep, class_balanced=class_balanced, labels=train.y)
            model = train_fn(train.X[kept], train.y[kept])
            rows.append({"seed": seed, "fraction": fraction, "error": 100 * (1 - model.score(test.X, test.y))})
    return pd.DataFrame(rows, columns=["seed", "fraction", "error"])
