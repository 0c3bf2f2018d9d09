"""What a run of the active-learning loop did, round by round (notebook 01, section 4).

:class:`History` is the record :func:`dcai_lab.active.run_active_learning` returns (and
:func:`dcai_lab.seals.run_seals`); :class:`LoopStopped` is raised when a run stops part-way,
and keeps the History of the rounds that finished, so no label is ever lost.

>>> h = History("entropy", 0, np.arange(2))
>>> h.record(n_labeled=10, accuracy=0.8, selected=np.array([4, 2]), seconds_selecting=0.01,
...          seconds_training=0.1, n_scored=90, candidate_pool_size=90)
>>> h
History(strategy='entropy', seed=0, rounds=1, final accuracy 0.800 with 10 labels)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dcai_lab._checks import check_float

__all__ = ["History", "LoopStopped"]


@dataclass
class History:
    """One run of the active-learning loop, one entry per round.

    Round ``r`` trains the model on the ``n_labeled[r]`` labels obtained so far, measures
    its test ``accuracy[r]``, then selects the batch ``selected[r]`` (the last round only
    evaluates: its ``selected`` is empty).

    Attributes
    ----------
    strategy, seed : the strategy's name and the run's seed.
    n_labeled, accuracy : lists, per round.
    selected : list of int arrays, the pool ids selected in each round (most wanted first).
    seconds_selecting : list; the strategy's time plus the candidate-pool update (index search)
        that prepared the round's candidates: the whole cost of a selection.
    seconds_training : list; the time of the model's ``fit``.
    n_scored : list; rows the model scored (``predict_proba``) while selecting (0 for ``random``).
    candidate_pool_size : list; how many unlabeled items the strategy could pick from.
    labeled_ids, labels : every labeled pool id and its label, in the order they were obtained.
    classes : the class list (the columns of ``probs``).
    scored_ids, probs : with ``keep_scores=True``, per round, the candidate ids and the
        model's class probabilities for them (float32, one column per class); else empty.
    stops : with ``stopping=[...]``, for each rule's name the first round at which it would have
        stopped, or None (:mod:`dcai_lab.stopping`); stop_values : each rule's value per round.
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
    stops: dict[str, int | None] = field(default_factory=dict)
    stop_values: dict[str, list[float]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.n_labeled)

    def __repr__(self) -> str:
        last = f", final accuracy {self.accuracy[-1]:.3f} with {self.n_labeled[-1]} labels" if self.accuracy else ""
        return f"History(strategy={self.strategy!r}, seed={self.seed}, rounds={len(self)}{last})"

    def record(self, n_labeled: int, accuracy: float, selected: np.ndarray, seconds_selecting: float,
               seconds_training: float, n_scored: int, candidate_pool_size: int) -> None:
        """Append one round."""
        self.n_labeled.append(n_labeled)
        self.accuracy.append(accuracy)
        self.selected.append(selected)
        self.seconds_selecting.append(seconds_selecting)
        self.seconds_training.append(seconds_training)
        self.n_scored.append(n_scored)
        self.candidate_pool_size.append(candidate_pool_size)

    def add_labels(self, ids: np.ndarray, labels: np.ndarray) -> None:
        """Append newly labeled pool ids and their labels."""
        self.labeled_ids = np.concatenate([self.labeled_ids, ids])
        self.labels = np.concatenate([self.labels, labels])

    def keep_scores(self, ids: np.ndarray, probs: np.ndarray) -> None:
        """Keep a round's candidate ids and class probabilities (stored as float32)."""
        self.scored_ids.append(ids)
        self.probs.append(probs.astype(np.float32))

    def record_stopping(self, name: str, value: float, stop: bool) -> None:
        """Append a stopping rule's value for this round; the first round where it says stop goes to ``stops``."""
        self.stop_values.setdefault(name, []).append(float(value))
        if self.stops.get(name) is None:
            self.stops[name] = len(self.stop_values[name]) - 1 if stop else None

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
        accuracy = check_float(accuracy, "accuracy", min=0, max=1, hint=" (e.g. 0.9 for 90%)")
        return next((n for n, acc in zip(self.n_labeled, self.accuracy) if acc >= accuracy), None)


class LoopStopped(RuntimeError):
    """The loop stopped part-way (the oracle raised, a strategy failed, the kernel was interrupted).

    ``.history`` holds every round finished so far and every label obtained; the original
    error is ``__cause__``. Catch it to keep your work::

        try:
            history = run_active_learning(..., oracle=tool)
        except LoopStopped as stop:
            history = stop.history

    In a notebook it shows as one line (no traceback) when a person stopped the labeling.
    """

    def __init__(self, history: History, cause: BaseException | str) -> None:
        reason = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}".rstrip(": ")
        if isinstance(cause, NotImplementedError):
            reason += " - an exercise this loop calls is not implemented yet: write it, run its cell, run this again"
        super().__init__(f"the active learning loop stopped after {len(history)} round{'s' * (len(history) != 1)} "
                         f"({reason}); the {len(history.labels)} labels obtained so far are in .history")
        self.history = history
        self.by_person = bool(getattr(cause, "by_person", False))  # LabelingStopped: a person pressed Stop

    @property
    def _render_traceback_(self):
        """What IPython shows instead of a traceback when a person pressed Stop: one line.

        A property that raises otherwise, so ``hasattr`` is False and IPython shows the usual traceback.
        """
        if not self.by_person:
            raise AttributeError("_render_traceback_")
        return lambda: [f"LoopStopped: {self}"]
