"""Pool-based active learning: selection strategies and the loop that runs them.

Every strategy has the same signature::

    strategy(model, X_pool, labeled, batch_size, rng, *, candidates=None, embeddings=None, pool_mean=None)

- ``model``: a fitted classifier with ``predict_proba`` (ignored by ``random`` and ``core_set``).
- ``X_pool``: the features of the whole pool, shape (N, d). Row ``i`` is **pool id** ``i``.
- ``labeled``: boolean mask (N,), True for the pool ids already labeled.
- ``batch_size``: how many pool ids to return.
- ``rng``: a ``numpy.random.Generator`` (only ``random`` and, with nothing labeled, ``core_set`` draw from it).
- ``candidates``: optional pool ids to score (e.g. SEALS's candidate pool); None = every unlabeled id.
- ``embeddings``: vectors for ``information_density`` and ``core_set`` (default: ``X_pool``).
- ``pool_mean``: for ``information_density``, the mean unit vector of the unlabeled pool
  (:func:`dcai_lab.uncertainty.mean_unit_vector`); computed from ``embeddings`` when None.

It returns exactly ``batch_size`` distinct, unlabeled pool ids, most wanted first.
Ties go to the lowest pool id. ``STRATEGIES`` maps names to strategies:

>>> import numpy as np
>>> from sklearn.linear_model import LogisticRegression
>>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
>>> labeled = np.array([True, False, False, False, False, True])
>>> model = LogisticRegression().fit(X[labeled], [0, 1])
>>> STRATEGIES["entropy"](model, X, labeled, 2, np.random.default_rng(0)).tolist()   # nearest x = 2.5
[2, 3]
>>> core_set_sampling(None, X, labeled, 1, np.random.default_rng(0)).tolist()  # farthest from 0 and 5
[2]

:func:`run_active_learning` runs the loop: train, evaluate, select, ask the
oracle, repeat; :func:`compare_strategies` runs it for several strategies and seeds.
"""

from __future__ import annotations

import numbers
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from dcai_lab.uncertainty import entropy, information_density, least_confidence, margin, mean_unit_vector

__all__ = ["random_sampling", "least_confidence_sampling", "margin_sampling", "entropy_sampling",
           "information_density_sampling", "core_set_sampling", "STRATEGIES", "candidate_ids",
           "top_scoring", "predict_proba", "min_sq_distances", "History", "LoopStopped", "run_active_learning",
           "compare_strategies", "plot_learning_curves"]


# --------------------------------------------------------------------------- shared pieces


def candidate_ids(labeled, batch_size: int, candidates=None) -> np.ndarray:
    """The sorted pool ids a strategy may pick from, after checking the arguments.

    ``candidates=None`` means every unlabeled pool id. Raises ``ValueError`` if a
    candidate is outside the pool or already labeled, or if fewer than
    ``batch_size`` candidates remain.

    >>> candidate_ids(np.array([True, False, False, True]), 2).tolist()
    [1, 2]
    """
    labeled = np.asarray(labeled)
    if labeled.dtype != bool or labeled.ndim != 1:
        raise ValueError(f"labeled must be a boolean mask over the pool (shape (N,)), got dtype {labeled.dtype} "
                         f"and shape {labeled.shape}; build it with mask = np.zeros(N, bool); mask[ids] = True")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if candidates is None:
        ids = np.flatnonzero(~labeled)
    else:
        ids = np.asarray(candidates)
        if ids.size and not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"candidates must be integer pool ids, got dtype {ids.dtype}")
        # sort, then drop repeats: np.unique does the same but is 50x slower on a million ids (numpy 2.4)
        ids = np.sort(ids.astype(np.int64).ravel())
        ids = ids[np.r_[True, ids[1:] != ids[:-1]]] if len(ids) else ids
        outside = ids[(ids < 0) | (ids >= len(labeled))]
        if len(outside):
            raise ValueError(f"candidates {outside[:5].tolist()} are not pool ids (0..{len(labeled) - 1})")
        taken = ids[labeled[ids]]
        if len(taken):
            raise ValueError(f"candidates {taken[:5].tolist()} are already labeled; pass only unlabeled pool ids")
    if len(ids) < batch_size:
        raise ValueError(f"only {len(ids)} unlabeled candidates remain but batch_size is {batch_size}; "
                         "lower batch_size or n_rounds, or use a larger (candidate) pool")
    return ids


def top_scoring(scores, ids, batch_size: int) -> np.ndarray:
    """The ``batch_size`` ids with the largest scores, largest first; ties go to the lowest id.

    >>> top_scoring([0.2, 0.9, 0.9, 0.1], [10, 11, 12, 13], 2).tolist()
    [11, 12]
    """
    ids = np.asarray(ids)
    order = np.lexsort((ids, -np.asarray(scores, dtype=np.float64)))  # by score, then by id
    return ids[order[:batch_size]]


def predict_proba(model, X, classes=None) -> np.ndarray:
    """``model.predict_proba(X)`` with one column per class of ``classes`` (zeros for unseen classes).

    A model trained on a labeled set that lacks some classes predicts only the
    classes it saw (``model.classes_``); this puts its columns where they belong.

    >>> from sklearn.linear_model import LogisticRegression
    >>> model = LogisticRegression().fit([[0.0], [1.0]], [0, 2])       # class 1 never seen
    >>> predict_proba(model, [[0.0]], classes=[0, 1, 2]).shape
    (1, 3)
    """
    probs = np.asarray(model.predict_proba(X), dtype=np.float64)
    if classes is None:
        return probs
    classes = np.asarray(classes)
    seen = np.asarray(model.classes_)
    where = np.searchsorted(classes, seen)
    if np.any(where >= len(classes)) or np.any(classes[np.minimum(where, len(classes) - 1)] != seen):
        raise ValueError(f"the model knows classes {seen.tolist()}, not all in classes={classes.tolist()}")
    full = np.zeros((len(probs), len(classes)))
    full[:, where] = probs
    return full


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); got {type(rng).__name__}")
    return rng


def _pool(X_pool, labeled) -> np.ndarray:
    X_pool = np.asarray(X_pool)
    if X_pool.ndim != 2:
        raise ValueError(f"X_pool must be a 2-D array (n_pool, n_features), got shape {X_pool.shape}")
    if len(X_pool) != len(np.asarray(labeled)):
        raise ValueError(f"X_pool has {len(X_pool)} rows but labeled has {len(np.asarray(labeled))}; "
                         "labeled is a mask over the pool")
    return X_pool


def _embeddings(X_pool, embeddings) -> np.ndarray:
    if embeddings is None:
        return X_pool
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or len(embeddings) != len(X_pool):
        raise ValueError(f"embeddings must have one row per pool item ({len(X_pool)}), got shape {embeddings.shape}")
    return embeddings


def _uncertainty_sampling(score: Callable, model, X_pool, labeled, batch_size, rng, candidates) -> np.ndarray:
    X_pool = _pool(X_pool, labeled)
    _check_rng(rng)
    ids = candidate_ids(labeled, batch_size, candidates)
    return top_scoring(score(model.predict_proba(X_pool[ids])), ids, batch_size)


# --------------------------------------------------------------------------- the strategies


def random_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *,
                    candidates=None, embeddings=None, pool_mean=None) -> np.ndarray:
    """``batch_size`` candidates drawn uniformly at random, without replacement (the baseline)."""
    _pool(X_pool, labeled)
    ids = candidate_ids(labeled, batch_size, candidates)
    return _check_rng(rng).choice(ids, size=batch_size, replace=False)


def least_confidence_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *,
                              candidates=None, embeddings=None, pool_mean=None) -> np.ndarray:
    """The candidates with the largest ``1 - max_y p(y|x)`` (:func:`dcai_lab.uncertainty.least_confidence`)."""
    return _uncertainty_sampling(least_confidence, model, X_pool, labeled, batch_size, rng, candidates)


def margin_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *,
                    candidates=None, embeddings=None, pool_mean=None) -> np.ndarray:
    """The candidates with the smallest gap ``p_1 - p_2`` between the two likeliest classes
    (:func:`dcai_lab.uncertainty.margin`)."""
    return _uncertainty_sampling(margin, model, X_pool, labeled, batch_size, rng, candidates)


def entropy_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *,
                     candidates=None, embeddings=None, pool_mean=None) -> np.ndarray:
    """The candidates whose predicted class distribution has the largest entropy (MaxEnt,
    :func:`dcai_lab.uncertainty.entropy`)."""
    return _uncertainty_sampling(entropy, model, X_pool, labeled, batch_size, rng, candidates)


def information_density_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *,
                                 candidates=None, embeddings=None, pool_mean=None, beta: float = 1.0,
                                 negative: str = "clip") -> np.ndarray:
    """The candidates with the largest entropy x (mean cosine similarity to the unlabeled pool) ** beta.

    See :func:`dcai_lab.uncertainty.information_density`. The pool term is the
    mean over **all** unlabeled pool items, even when only ``candidates`` are
    scored; pass it precomputed as ``pool_mean`` (``mean_unit_vector(embeddings[~labeled])``)
    and a round costs ``O(len(candidates) * dim)``.
    """
    X_pool = _pool(X_pool, labeled)
    _check_rng(rng)
    embeddings = _embeddings(X_pool, embeddings)
    ids = candidate_ids(labeled, batch_size, candidates)
    if pool_mean is None:
        pool_mean = mean_unit_vector(embeddings[~np.asarray(labeled)])
    scores = information_density(model.predict_proba(X_pool[ids]), embeddings[ids], beta=beta,
                                  negative=negative, pool_mean=pool_mean)
    return top_scoring(scores, ids, batch_size)


def core_set_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *,
                      candidates=None, embeddings=None, pool_mean=None) -> np.ndarray:
    """k-center greedy (Sener & Savarese, 2018): cover the pool with as few far-apart points as possible.

    Repeat ``batch_size`` times: pick the candidate farthest (Euclidean, in
    ``embeddings``) from its nearest labeled or already picked point::

        u = argmax_{i in candidates} min_{j in labeled or picked} ||z_i - z_j||

    The distances to the labeled set are computed in chunks, never as an N x N
    matrix; each pick then updates them in ``O(len(candidates) * dim)``. With
    nothing labeled yet, the first pick is drawn with ``rng``. The model is not used.
    """
    X_pool = _pool(X_pool, labeled)
    _check_rng(rng)
    z = np.asarray(_embeddings(X_pool, embeddings), dtype=np.float32)
    ids = candidate_ids(labeled, batch_size, candidates)
    z_candidates = z[ids]
    nearest = min_sq_distances(z_candidates, z[np.asarray(labeled)])
    picked = np.empty(batch_size, dtype=np.int64)
    for b in range(batch_size):
        i = int(rng.integers(len(ids))) if np.isinf(nearest).all() else int(np.argmax(nearest))
        picked[b] = ids[i]
        np.minimum(nearest, _sq_distances_to(z_candidates, z_candidates[i]), out=nearest)
        nearest[i] = -1.0  # never again
    return picked


def _sq_distances_to(X: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every row of ``X`` to ``point``, as float64."""
    diff = X - point
    return np.einsum("ij,ij->i", diff, diff, dtype=np.float64)


def min_sq_distances(X: np.ndarray, centers: np.ndarray, chunk_elements: int = 2**22) -> np.ndarray:
    """Squared distance of every row of ``X`` to its nearest row of ``centers`` (inf if there are none).

    Uses ``||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2`` on chunks of ``X`` so that at
    most ``chunk_elements`` distances are held at a time.

    >>> min_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [3.0, 3.0]])).tolist()
    [1.0, 1.0]
    """
    out = np.full(len(X), np.inf)
    if len(centers) == 0 or len(X) == 0:
        return out
    X, centers = np.asarray(X, dtype=np.float32), np.asarray(centers, dtype=np.float32)
    center_norms = np.einsum("ij,ij->i", centers, centers)
    step = max(1, chunk_elements // len(centers))
    for start in range(0, len(X), step):
        block = X[start:start + step]
        d = np.einsum("ij,ij->i", block, block)[:, None] - 2 * block @ centers.T + center_norms[None, :]
        best = np.argmin(d, axis=1)
        # recompute the winner exactly: the expansion above loses digits for nearby points
        out[start:start + len(block)] = _sq_distances_rowwise(block, centers[best])
    return out


def _sq_distances_rowwise(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    diff = np.asarray(A, dtype=np.float64) - np.asarray(B, dtype=np.float64)
    return np.einsum("ij,ij->i", diff, diff)


STRATEGIES: dict[str, Callable[..., np.ndarray]] = {
    "random": random_sampling,
    "least_confidence": least_confidence_sampling,
    "margin": margin_sampling,
    "entropy": entropy_sampling,
    "information_density": information_density_sampling,
    "core_set": core_set_sampling,
}


# --------------------------------------------------------------------------- the loop


@dataclass
class History:
    """What one run of the active learning loop did, one entry per round.

    Round ``r`` trains the model on the ``n_labeled[r]`` labels obtained so far,
    measures its test ``accuracy[r]``, then selects the batch ``selected[r]``
    (the last round only evaluates: its ``selected`` is empty).

    Attributes
    ----------
    strategy, seed : the strategy's name and the run's seed.
    n_labeled, accuracy : lists, per round.
    selected : list of int arrays, the pool ids selected in each round (most wanted first).
    seconds_selecting, seconds_training : lists, the time the strategy and the model's ``fit`` took.
    n_scored : list, how many pool items the strategy scored (0 for ``random``, which scores none).
    candidate_pool_size : list, how many unlabeled items the strategy could pick from.
    labeled_ids, labels : every labeled pool id and its label, in the order they were obtained.
    classes : the class list (the columns of ``probs``).
    scored_ids, probs : with ``keep_scores=True``, per round, the candidate ids and the
        model's class probabilities for them (float32, one column per class); else empty.
    """

    strategy: str
    seed: int
    classes: np.ndarray
    n_labeled: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    selected: list[np.ndarray] = field(default_factory=list)
    seconds_selecting: list[float] = field(default_factory=list)
    seconds_training: list[float] = field(default_factory=list)
    n_scored: list[int] = field(default_factory=list)
    candidate_pool_size: list[int] = field(default_factory=list)
    labeled_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    scored_ids: list[np.ndarray] = field(default_factory=list)
    probs: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.n_labeled)

    def __repr__(self) -> str:
        last = f", final accuracy {self.accuracy[-1]:.3f} with {self.n_labeled[-1]} labels" if self.accuracy else ""
        return f"History(strategy={self.strategy!r}, seed={self.seed}, rounds={len(self)}{last})"

    def to_frame(self):
        """A pandas DataFrame, one row per round."""
        import pandas as pd

        return pd.DataFrame({
            "strategy": self.strategy, "seed": self.seed, "round": np.arange(len(self)),
            "n_labeled": self.n_labeled, "accuracy": self.accuracy,
            "seconds_selecting": self.seconds_selecting, "seconds_training": self.seconds_training,
            "n_scored": self.n_scored, "candidate_pool_size": self.candidate_pool_size,
            "selected": [ids.tolist() for ids in self.selected]})

    def labels_to_reach(self, accuracy: float) -> int | None:
        """The first ``n_labeled`` whose test accuracy is at least ``accuracy``; None if never reached."""
        if isinstance(accuracy, bool) or not isinstance(accuracy, numbers.Real) or not 0 <= accuracy <= 1:
            raise ValueError(f"accuracy must be a number in [0, 1] (e.g. 0.9 for 90%), got {accuracy!r}")
        for n, acc in zip(self.n_labeled, self.accuracy):
            if acc >= accuracy:
                return n
        return None


class LoopStopped(RuntimeError):
    """The loop stopped part-way (the oracle raised, or the kernel was interrupted).

    ``.history`` holds every round finished so far and every label obtained;
    the original error is ``__cause__``. Catch it to keep your work::

        try:
            history = run_active_learning(..., oracle=tool)
        except LoopStopped as stop:
            history = stop.history
    """

    def __init__(self, history: History, reason: str):
        super().__init__(f"the active learning loop stopped after {len(history)} round{'s' * (len(history) != 1)} "
                         f"({reason}); "
                         f"the {len(history.labels)} labels obtained so far are in .history")
        self.history = history


def _strategy(strategy) -> tuple[str, Callable]:
    if callable(strategy):
        name = getattr(strategy, "__name__", "custom")
        return name.removesuffix("_sampling"), strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)} or pass a function")
    return strategy, STRATEGIES[strategy]


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _initial_ids(initial_labeled, n_pool: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(initial_labeled, numbers.Integral) and not isinstance(initial_labeled, bool):
        if not 1 <= initial_labeled <= n_pool:
            raise ValueError(f"initial_labeled must be between 1 and the pool size {n_pool}, got {initial_labeled}")
        return rng.choice(n_pool, size=int(initial_labeled), replace=False)
    ids = np.asarray(initial_labeled)
    if ids.ndim != 1 or len(ids) == 0 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError("initial_labeled must be a number of random pool items or a non-empty list of pool ids")
    if ids.min() < 0 or ids.max() >= n_pool or len(np.unique(ids)) != len(ids):
        raise ValueError(f"initial_labeled must be distinct pool ids in 0..{n_pool - 1}")
    return ids.astype(np.int64)


def _check_finite(values, name: str) -> None:
    """Raise a clear ValueError if a numeric array holds NaN or infinity (None passes)."""
    values = None if values is None else np.asarray(values)
    if values is not None and np.issubdtype(values.dtype, np.number) and not np.isfinite(values).all():
        row = int(np.argwhere(~np.isfinite(values))[0][0])
        raise ValueError(f"{name} holds NaN or infinite values (first in row {row}); fix or drop those rows first")


def _ask(oracle, y_pool, ids: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    labels = y_pool[ids] if oracle is None else oracle(ids)
    labels = np.asarray(labels)
    if labels.shape != ids.shape:
        raise ValueError(f"the oracle must return one label per pool id ({len(ids)}), got shape {labels.shape}")
    if classes is not None and not np.isin(labels, classes).all():
        unknown = labels[~np.isin(labels, classes)]
        raise ValueError(f"the oracle returned label {unknown[0].item()!r}, which is not one of "
                         f"classes={classes.tolist()}; pass classes=... listing every class")
    return labels


def run_active_learning(X_pool, y_pool, X_test, y_test, strategy="entropy", initial_labeled=10,
                        batch_size: int = 10, n_rounds: int = 10, model=None, oracle=None, embeddings=None,
                        candidates=None, seed: int = 0, progress: bool = True, classes=None,
                        keep_scores: bool = False, n_threads: int | None = 1) -> History:
    """Pool-based active learning: train, evaluate, select a batch, ask the oracle for labels; repeat.

    Round ``r = 0 .. n_rounds``: fit a fresh copy of ``model`` (``sklearn.base.clone``)
    on the labeled items, record its accuracy on ``(X_test, y_test)``, and (except
    in the last round) let the strategy pick ``batch_size`` unlabeled pool ids,
    whose labels the oracle gives.

    Parameters
    ----------
    X_pool : array (N, d), the pool's features; row ``i`` is pool id ``i``.
    y_pool : array (N,) or None, the pool's hidden labels, used by the simulated oracle.
        May be None when a human ``oracle`` gives every label.
    X_test, y_test : the held-out test set.
    strategy : a name in ``STRATEGIES`` (``"random"``, ``"entropy"``, ...) or a strategy function.
    initial_labeled : a number of random pool ids to label first, or the pool ids themselves.
    batch_size, n_rounds : labels per round, and how many rounds select a batch.
    model : a scikit-learn classifier; default ``LogisticRegression(max_iter=1000)``.
        Its ``random_state``, if it has one left at None, is set to ``seed``.
    oracle : ``oracle(pool_ids) -> labels``; None = the simulated oracle ``y_pool[pool_ids]``.
        A :class:`dcai_lab.labeling.LabelingWidget` can be the oracle.
    embeddings : array (N, k), for ``information_density`` and ``core_set`` (default ``X_pool``).
    candidates : None (the strategy scores every unlabeled item) or an object with
        ``.ids()`` (current candidate pool ids) and ``.add_labeled(ids)``, e.g.
        :class:`dcai_lab.seals.CandidatePool`; it is told about the initial and every new label.
        SEALS is this loop with a candidate pool.
    seed : seeds everything: the initial ids, ``random``, the model.
    progress : show a tqdm progress bar over the rounds.
    classes : the class list; default ``np.unique`` of ``y_pool`` and the initial labels.
        Probabilities always have one column per class, even before the model saw them all.
    keep_scores : store each round's candidate ids and class probabilities in the History
        (for :func:`dcai_lab.widgets.uncertainty_explorer`).
    n_threads : BLAS / OpenMP threads for training, predicting and selecting (``threadpoolctl``);
        1 by default: the models of the course are small, and on small matrices more threads
        mostly wait for each other (10 times slower on a busy 2-core machine). None = the default.

    Returns
    -------
    History

    Raises
    ------
    ValueError : for bad arguments, before any label is asked for.
    LoopStopped : if the loop stops part-way (the oracle raised, a strategy failed, the
        kernel was interrupted); its ``.history`` keeps every finished round and label.

    Examples
    --------
    >>> from dcai_lab.data import load_digits, split
    >>> train, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    >>> h = run_active_learning(pool.X, pool.y, test.X, test.y, "margin", initial_labeled=20,
    ...                         batch_size=10, n_rounds=3, progress=False)
    >>> h.n_labeled
    [20, 30, 40, 50]
    """
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    name, select = _strategy(strategy)
    X_pool, X_test = np.asarray(X_pool), np.asarray(X_test)
    if X_pool.ndim != 2 or X_test.ndim != 2 or X_pool.shape[1] != X_test.shape[1]:
        raise ValueError(f"X_pool and X_test must be 2-D with the same number of features, "
                         f"got shapes {X_pool.shape} and {X_test.shape}")
    if y_pool is None and oracle is None:
        raise ValueError("give y_pool (the simulated oracle reads labels from it) or an oracle function")
    if y_pool is not None and len(np.asarray(y_pool)) != len(X_pool):
        raise ValueError(f"y_pool has {len(np.asarray(y_pool))} labels for {len(X_pool)} pool items")
    y_pool = None if y_pool is None else np.asarray(y_pool)
    if len(np.asarray(y_test)) != len(X_test):
        raise ValueError(f"y_test has {len(np.asarray(y_test))} labels for {len(X_test)} test items")
    batch_size = _positive_int(batch_size, "batch_size")
    n_rounds = _positive_int(n_rounds, "n_rounds", minimum=0)
    n_threads = None if n_threads is None else _positive_int(n_threads, "n_threads")
    if embeddings is not None and (np.ndim(embeddings) != 2 or len(embeddings) != len(X_pool)):
        raise ValueError(f"embeddings must have one row per pool item ({len(X_pool)}), got shape {np.shape(embeddings)}")
    for what, values in (("X_pool", X_pool), ("X_test", X_test), ("embeddings", embeddings)):
        _check_finite(values, what)
    if model is not None and not hasattr(model, "predict_proba"):
        raise ValueError(f"the model ({type(model).__name__}) has no predict_proba; active learning scores need "
                         "class probabilities (e.g. LogisticRegression, or SVC(probability=True))")
    unit = None  # information density: the pool's unit vectors, for the running mean of the unlabeled ones
    if select is information_density_sampling:
        z = np.asarray(X_pool if embeddings is None else embeddings, dtype=np.float64)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ValueError(f"information density needs cosine similarities, but pool item "
                             f"{int(np.argmax(norms == 0))} has an all-zero embedding; drop it or use other embeddings")
        unit = z / norms
    rng = np.random.default_rng(seed)
    initial = _initial_ids(initial_labeled, len(X_pool), rng)
    if oracle is None and len(initial) + batch_size * n_rounds > len(X_pool):
        raise ValueError(f"{len(initial)} initial labels + {n_rounds} rounds x {batch_size} need more than the "
                         f"{len(X_pool)} pool items; lower n_rounds or batch_size")
    initial_labels = _ask(oracle, y_pool, initial, None)
    if classes is None:
        classes = np.unique(initial_labels if y_pool is None else np.concatenate([y_pool, initial_labels]))
    classes = np.unique(np.asarray(classes))
    if not np.isin(initial_labels, classes).all():
        raise ValueError(f"the initial labels hold classes missing from classes={classes.tolist()}")
    if len(np.unique(initial_labels)) < 2:
        raise ValueError(f"the initial labels are all of class {initial_labels[0].item()!r}; a classifier needs at least "
                         "two classes to learn from: use more (or different) initial_labeled")

    model = LogisticRegression(max_iter=1000) if model is None else model
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model = clone(model).set_params(random_state=seed)
    history = History(name, seed, classes, labeled_ids=initial.copy(), labels=initial_labels.copy())
    labeled = np.zeros(len(X_pool), dtype=bool)
    labeled[initial] = True
    if candidates is not None:
        candidates.add_labeled(initial)
    # information density's pool term: running sum of unit vectors over the unlabeled pool
    pool_sum = None if unit is None else unit[~labeled].sum(axis=0)

    bar = tqdm(range(n_rounds + 1), desc=f"active learning ({name})", disable=not progress, leave=False)
    threads = nullcontext() if n_threads is None else threadpool_limits(n_threads)
    try:
        for r in bar:
            start = time.perf_counter()
            fitted = clone(model).fit(X_pool[history.labeled_ids], history.labels)
            trained = time.perf_counter() - start
            accuracy = float(np.mean(fitted.predict(X_test) == np.asarray(y_test)))
            ids = np.flatnonzero(~labeled) if candidates is None else np.asarray(candidates.ids(), dtype=np.int64)
            ids = ids[~labeled[ids]]
            if keep_scores:
                history.scored_ids.append(ids)
                history.probs.append(predict_proba(fitted, X_pool[ids], classes).astype(np.float32))
            selected, selecting = np.zeros(0, dtype=np.int64), 0.0
            if r < n_rounds:
                start = time.perf_counter()
                pool_mean = None if pool_sum is None else pool_sum / max(1, len(X_pool) - labeled.sum())
                selected = np.asarray(select(fitted, X_pool, labeled, batch_size, rng, candidates=ids,
                                             embeddings=embeddings, pool_mean=pool_mean), dtype=np.int64)
                selecting = time.perf_counter() - start
            history.n_labeled.append(int(labeled.sum()))
            history.accuracy.append(accuracy)
            history.selected.append(selected)
            history.seconds_selecting.append(selecting)
            history.seconds_training.append(trained)
            history.n_scored.append(0 if (select is random_sampling or r == n_rounds) else len(ids))
            history.candidate_pool_size.append(len(ids))
            bar.set_postfix(labels=int(labeled.sum()), accuracy=f"{accuracy:.3f}")
            if r == n_rounds:
                break
            new_labels = _ask(oracle, y_pool, selected, classes)
            labeled[selected] = True
            history.labeled_ids = np.concatenate([history.labeled_ids, selected])
            history.labels = np.concatenate([history.labels, new_labels])
            if candidates is not None:
                candidates.add_labeled(selected)
            if pool_sum is not None:
                pool_sum = pool_sum - unit[selected].sum(axis=0)
    except (Exception, KeyboardInterrupt) as exc:
        reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
        if isinstance(exc, NotImplementedError):
            reason += " - an exercise this loop calls is not implemented yet: write it, run its cell, run this again"
        raise LoopStopped(history, reason) from exc
    finally:
        bar.close()
        threads.__exit__(None, None, None)
    return history


def compare_strategies(strategies: Sequence, seeds: Sequence[int], X_pool, y_pool, X_test, y_test,
                       progress: bool = True, **kwargs) -> list[History]:
    """Run :func:`run_active_learning` for every strategy and seed; returns the Histories.

    ``kwargs`` go to every run (``initial_labeled``, ``batch_size``, ``n_rounds``, ...).
    The same seed gives every strategy the same initial labeled set.
    """
    from tqdm.auto import tqdm

    grid = [(s, seed) for s in strategies for seed in seeds]
    return [run_active_learning(X_pool, y_pool, X_test, y_test, strategy=s, seed=seed, progress=False, **kwargs)
            for s, seed in tqdm(grid, desc="strategies x seeds", disable=not progress)]


def plot_learning_curves(histories: Sequence[History], ax=None, metric: str = "accuracy"):
    """Test accuracy against the number of labels: per strategy, mean +- std over seeds; returns the axes."""
    import pandas as pd

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    if not histories:
        raise ValueError("no histories to plot; pass the list that compare_strategies returns")
    frame = pd.concat([h.to_frame() for h in histories], ignore_index=True)
    for name, group in frame.groupby("strategy", sort=False):
        stats = group.groupby("n_labeled")[metric].agg(["mean", "std", "count"])
        std = stats["std"].fillna(0).to_numpy()
        n_seeds = group["seed"].nunique()
        line, = ax.plot(stats.index, stats["mean"], marker=".", label=f"{name} ({n_seeds} seed{'s' * (n_seeds > 1)})")
        ax.fill_between(stats.index, stats["mean"] - std, stats["mean"] + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("labeled examples")
    ax.set_ylabel(f"test {metric}")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax
