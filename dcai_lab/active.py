"""The pool-based active-learning loop (notebook 01, sections 4-5).

:func:`run_active_learning`::

    label a few random pool items
    repeat n_rounds times:
        fit the model on the labeled items        evaluate it on the test set
        select batch_size unlabeled pool ids      (a strategy, :mod:`dcai_lab.strategies`)
        ask the oracle for their labels

and :func:`compare_strategies` runs it for several strategies and seeds. Each run returns a
:class:`~dcai_lab.history.History`. SEALS (:mod:`dcai_lab.seals`) is this loop with a candidate pool.
"""

from __future__ import annotations

import threading
import time
from typing import Sequence

import numpy as np

from dcai_lab._checks import check_bool, check_choice, check_function, check_ids, check_int, check_labels, \
    check_matrix, check_model, check_seed, same_label_kind
from dcai_lab.history import History, LoopStopped
from dcai_lab.strategies import STRATEGIES, predict_proba
from dcai_lab.uncertainty import UnlabeledMean

__all__ = ["run_active_learning", "compare_strategies"]


# --------------------------------------------------------------------------- the loop


def run_active_learning(X_pool, y_pool, X_test, y_test, strategy="entropy", initial_labeled=10,
                        batch_size: int = 10, n_rounds: int = 10, model=None, oracle=None, embeddings=None,
                        candidates=None, seed: int = 0, progress: bool = True, classes=None,
                        keep_scores: bool = False, n_threads: int | None = 1, stopping=None) -> History:
    """Pool-based active learning: fit, evaluate, select a batch, ask the oracle for its labels; repeat.

    Round ``r = 0 .. n_rounds``: fit a fresh copy of ``model`` (``sklearn.base.clone``) on the
    labeled items, record its test accuracy, and (except in the last round) let the strategy
    pick ``batch_size`` unlabeled pool ids, whose labels the oracle gives.

    Parameters
    ----------
    X_pool : array (N, d), the pool's features; row ``i`` is pool id ``i``.
    y_pool : array (N,) or None, the pool's hidden labels, read by the simulated oracle
        (None when a human ``oracle`` gives every label).
    X_test, y_test : the held-out test set.
    strategy : a name in ``STRATEGIES`` (``"random"``, ``"entropy"``, ...) or a strategy function.
    initial_labeled : a number of random pool ids to label first, or the pool ids themselves.
    batch_size, n_rounds : labels per round, and how many rounds select a batch.
    model : a scikit-learn classifier; default ``LogisticRegression(max_iter=1000)``; its
        ``random_state``, if left at None, is set to ``seed``. With ``warm_start=True`` (scikit-learn's
        convention, e.g. :class:`dcai_lab.cnn.CNNClassifier`) one copy is refitted round after round,
        starting from the previous round's solution; otherwise every round fits a fresh copy.
    oracle : ``oracle(pool_ids) -> labels``; None = the simulated oracle ``y_pool[pool_ids]``.
        A :class:`dcai_lab.widgets.LabelingWidget` can be the oracle.
    embeddings : array (N, k) for ``information_density`` and ``core_set`` (default ``X_pool``).
    candidates : None, or an object with ``.ids()`` and ``.add_labeled(ids)`` such as
        :class:`dcai_lab.seals.CandidatePool`: it is told every label, and the strategy picks
        from its ids. SEALS is this loop with a candidate pool.
    seed : seeds everything: the initial ids, ``random``, the model.
    progress : show a tqdm progress bar over the rounds.
    classes : the class list (default: those of ``y_pool`` and the initial labels); probabilities
        always have one column per class, even before the model saw them all.
    keep_scores : keep each round's candidate ids and class probabilities (for
        :func:`dcai_lab.widgets.uncertainty_explorer`).
    n_threads : BLAS / OpenMP threads (``threadpoolctl``); 1 by default, since the course's models
        are small and more threads mostly wait for each other. None = no limit.
    stopping : stopping rules (:mod:`dcai_lab.stopping`), asked after every round's fit; the loop
        runs on, and ``History.stops`` records the first round at which each would have stopped.

    Returns
    -------
    History. ``seconds_selecting[r]`` includes the candidate-pool update (index search) that
    prepared round ``r``'s candidates; ``n_scored[r]`` counts the rows the model scored.

    Raises
    ------
    ValueError : for bad arguments, before any label is asked for.
    LoopStopped : if the loop stops part-way (the oracle raised, a strategy failed, an interrupt);
        its ``.history`` keeps every finished round and every label.

    >>> from dcai_lab.data import course_split
    >>> pool, test = course_split()
    >>> h = run_active_learning(pool.X, pool.y, test.X, test.y, "margin", initial_labeled=20, n_rounds=3,
    ...                         progress=False)
    >>> h.n_labeled
    [20, 30, 40, 50]
    """
    from sklearn.base import clone
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    name, select, X_pool, y_pool, X_test, y_test, embeddings, model, initial, rng = _check_loop(
        strategy, X_pool, y_pool, X_test, y_test, embeddings, model, oracle, initial_labeled, batch_size, n_rounds,
        n_threads, seed)
    rules = _check_stopping(stopping)
    _check_options(candidates, progress, keep_scores, classes, y_test, oracle)
    initial_labels = _ask(oracle, y_pool, initial, None)
    try:
        classes = _classes(classes, y_pool, initial_labels, y_test)
    except ValueError as exc:  # a person has labeled already: keep those labels in a LoopStopped
        if oracle is None:
            raise
        kept = History(name, seed, np.unique(initial_labels), labeled_ids=initial, labels=initial_labels)
        raise LoopStopped(kept, exc) from exc
    history = History(name, seed, classes, labeled_ids=initial, labels=initial_labels)
    labeled = np.zeros(len(X_pool), dtype=bool)
    labeled[initial] = True
    pool_mean = UnlabeledMean(embeddings, labeled)
    updating = _tell(candidates, initial)
    warm, learner = model.get_params().get("warm_start") is True, clone(model)
    with threadpool_limits(n_threads), tqdm(range(n_rounds + 1), desc=f"active learning ({name})",
                                            disable=not progress, leave=False) as bar:
        try:
            for r in bar:
                start = time.perf_counter()
                fitted = (learner if warm else clone(model)).fit(X_pool[history.labeled_ids], history.labels)
                trained = time.perf_counter() - start
                accuracy = float(np.mean(fitted.predict(X_test) == y_test))
                for rule in rules:
                    history.record_stopping(rule.name, *rule(fitted, len(history.labeled_ids)))
                ids = np.flatnonzero(~labeled) if candidates is None else np.asarray(candidates.ids(), np.int64)
                ids = ids[~labeled[ids]]
                selected, selecting, counted = np.zeros(0, np.int64), 0.0, _CountingModel(fitted)
                if r < n_rounds:
                    start = time.perf_counter()
                    selected = select(counted, X_pool, labeled, batch_size, rng, candidates=ids,
                                      embeddings=embeddings, pool_mean=pool_mean)
                    selecting = time.perf_counter() - start + updating
                    selected = _check_selection(selected, labeled, batch_size, name)
                if keep_scores:
                    history.keep_scores(ids, predict_proba(fitted, X_pool[ids], classes))
                history.record(len(history.labeled_ids), accuracy, selected, selecting, trained, counted.rows, len(ids))
                bar.set_postfix(labels=len(history.labeled_ids), accuracy=f"{accuracy:.3f}")
                if r == n_rounds:
                    break
                history.add_labels(selected, _ask(oracle, y_pool, selected, classes))
                labeled[selected] = True
                pool_mean.remove(selected)
                updating = _tell(candidates, selected)
        except (Exception, KeyboardInterrupt) as exc:
            raise LoopStopped(history, exc) from exc
    return history


def _check_loop(strategy, X_pool, y_pool, X_test, y_test, embeddings, model, oracle, initial_labeled, batch_size,
                n_rounds, n_threads, seed):
    """Every check of :func:`run_active_learning`, before any label is asked for; the values, converted."""
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    if callable(strategy):
        name, select = getattr(strategy, "__name__", "custom").removesuffix("_sampling"), strategy
    else:
        name = check_choice(strategy, "strategy", tuple(STRATEGIES))
        select = STRATEGIES[name]
    X_pool = check_matrix(X_pool, "X_pool", what="(n_pool, n_features)", dtype=None)
    X_test = check_matrix(X_test, "X_test", what="(n_test, n_features)", n_cols=X_pool.shape[1], dtype=None)
    if y_pool is None and oracle is None:
        raise ValueError("give y_pool (the simulated oracle reads labels from it) or an oracle function")
    y_pool = None if y_pool is None else check_labels(y_pool, "y_pool", n=len(X_pool))
    y_test = check_labels(y_test, "y_test", n=len(X_test))
    embeddings = X_pool if embeddings is None else check_matrix(embeddings, "embeddings", n_rows=len(X_pool),
                                                                dtype=None)
    model = LogisticRegression(max_iter=1000) if model is None else check_model(model)
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model = clone(model).set_params(random_state=check_seed(seed))
    batch_size, n_rounds = check_int(batch_size, "batch_size", min=1), check_int(n_rounds, "n_rounds", min=0)
    if n_threads is not None:
        check_int(n_threads, "n_threads", min=1)
    rng = np.random.default_rng(check_seed(seed))
    if isinstance(initial_labeled, (int, np.integer)) and not isinstance(initial_labeled, (bool, np.bool_)):
        initial = rng.choice(len(X_pool), check_int(initial_labeled, "initial_labeled", min=1, max=len(X_pool)),
                             replace=False)
    else:
        initial = check_ids(initial_labeled, len(X_pool), "initial_labeled", unique=True, min_len=1)
    if len(initial) + batch_size * n_rounds > len(X_pool):
        raise ValueError(f"{len(initial)} initial labels + {n_rounds} rounds x {batch_size} need more than the "
                         f"{len(X_pool)} pool items; lower n_rounds or batch_size")
    if y_pool is not None:
        same_label_kind(y_pool, y_test, "y_pool", "y_test")
    return name, select, X_pool, y_pool, X_test, y_test, embeddings, model, initial.astype(np.int64), rng


def _classes(classes, y_pool, initial_labels: np.ndarray, y_test: np.ndarray) -> np.ndarray:
    """The class list: as given (distinct), or every class of ``y_pool`` and the initial labels."""
    same_label_kind(initial_labels, y_test, "the oracle's labels", "y_test")
    if classes is None:
        classes = np.unique(initial_labels if y_pool is None else np.concatenate([y_pool, initial_labels]))
    classes = check_labels(classes, "classes")
    if len(np.unique(classes)) != len(classes):
        raise ValueError(f"classes must be distinct, got {classes.tolist()}")
    if not np.isin(initial_labels, classes).all():
        raise ValueError(f"the initial labels hold classes missing from classes={classes.tolist()}")
    if len(np.unique(initial_labels)) < 2:
        raise ValueError(f"the initial labels are all of class {initial_labels[0].item()!r}; a classifier needs at "
                         "least two classes to learn from: use more (or different) initial_labeled")
    return classes


def _check_options(candidates, progress, keep_scores, classes, y_test: np.ndarray, oracle) -> None:
    """The loop's remaining arguments, before the oracle is asked: a candidate pool with ``ids()`` and
    ``add_labeled()``, two booleans, a given class list (distinct, labels of the same kind as ``y_test``)
    and the oracle (a function)."""
    if oracle is not None:
        check_function(oracle, "oracle", "oracle(pool_ids) -> labels (or a LabelingWidget)")
    if candidates is not None and not (callable(getattr(candidates, "ids", None))
                                       and callable(getattr(candidates, "add_labeled", None))):
        raise ValueError("candidates must be None or a candidate pool with .ids() and .add_labeled(ids), such as "
                         f"dcai_lab.seals.CandidatePool; got {type(candidates).__name__}")
    check_bool(progress, "progress")
    check_bool(keep_scores, "keep_scores")
    if classes is not None:
        same_label_kind(check_labels(classes, "classes", distinct=True), y_test, "classes", "y_test")


def _check_stopping(stopping) -> list:
    """The stopping rules as a list, each reset for a new run; their names must differ."""
    rules = [] if stopping is None else list(stopping)
    for rule in rules:
        if not (callable(rule) and hasattr(rule, "reset") and isinstance(getattr(rule, "name", None), str)):
            raise ValueError(f"stopping must be a list of stopping rules (dcai_lab.stopping), got {rule!r}")
        rule.reset()
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ValueError(f"stopping rules need distinct names, got {names}; pass name=... to tell them apart")
    return rules


def _ask(oracle, y_pool, ids: np.ndarray, classes) -> np.ndarray:
    """The labels of ``ids``: from the oracle, or read from ``y_pool`` (the simulated oracle)."""
    labels = np.asarray(y_pool[ids] if oracle is None else oracle(ids))
    if labels.shape != ids.shape:
        raise ValueError(f"the oracle must return one label per pool id ({len(ids)}), got shape {labels.shape}")
    if classes is not None and not np.isin(labels, classes).all():
        unknown = labels[~np.isin(labels, classes)]
        raise ValueError(f"the oracle returned label {unknown[0].item()!r}, which is not one of "
                         f"classes={classes.tolist()}; pass classes=... listing every class")
    return labels


def _tell(candidates, ids: np.ndarray) -> float:
    """Tell the candidate pool (if any) about new labels; the seconds it took (its index search)."""
    if candidates is None:
        return 0.0
    start = time.perf_counter()
    candidates.add_labeled(ids)
    return time.perf_counter() - start


def _check_selection(selected, labeled: np.ndarray, batch_size: int, name: str) -> np.ndarray:
    """What a strategy returned must be ``batch_size`` distinct, unlabeled pool ids."""
    selected = check_ids(selected, len(labeled), f"the ids strategy {name!r} returned", unique=True)
    if len(selected) != batch_size or labeled[selected].any():
        raise ValueError(f"strategy {name!r} must return {batch_size} unlabeled pool ids; it returned "
                         f"{len(selected)}, of which {int(labeled[selected].sum())} already labeled")
    return selected


class _CountingModel:
    """A fitted model that counts the rows its ``predict_proba`` scores (``History.n_scored``)."""

    def __init__(self, model) -> None:
        self.model, self.rows, self._lock = model, 0, threading.Lock()  # a strategy may score on several threads

    def predict_proba(self, X):
        with self._lock:
            self.rows += len(X)
        return self.model.predict_proba(X)

    def __getattr__(self, name: str):
        if name == "predict_proba_samples" and hasattr(self.model, name):  # T samples (MC dropout, a committee)
            return self._samples
        return getattr(self.model, name)

    def _samples(self, X, *args, **kwargs):
        samples = self.model.predict_proba_samples(X, *args, **kwargs)
        with self._lock:
            self.rows += int(np.prod(np.shape(samples)[:2]))  # T x len(X) rows: each sample scores every row
        return samples


def compare_strategies(strategies: Sequence, seeds: Sequence[int], X_pool, y_pool, X_test, y_test,
                       progress: bool = True, **kwargs) -> list[History]:
    """Run :func:`run_active_learning` for every strategy and seed; the Histories, strategy by strategy.

    ``kwargs`` go to every run (``initial_labeled``, ``batch_size``, ``n_rounds``, ...). The same
    seed gives every strategy the same initial labeled set.
    """
    from tqdm.auto import tqdm

    for values, name in ((strategies, "strategies"), (seeds, "seeds")):
        if not isinstance(values, (list, tuple, range, np.ndarray)):
            raise ValueError(f"{name} must be a list, e.g. ['random', 'entropy'] and [0, 1, 2]; got {values!r}")
    if len(strategies) == 0 or len(seeds) == 0:
        raise ValueError(f"give at least one strategy and one seed, got {len(strategies)} and {len(seeds)}")
    progress = check_bool(progress, "progress")
    grid = [(s, check_seed(seed, "seeds")) for s in strategies for seed in seeds]
    return [run_active_learning(X_pool, y_pool, X_test, y_test, strategy=s, seed=seed, progress=False, **kwargs)
            for s, seed in tqdm(grid, desc="strategies x seeds", disable=not progress)]
