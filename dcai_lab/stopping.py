"""When to stop labeling: three stopping rules (notebook 05, section 7).

Each rule looks at the model trained in a round and says whether to stop;
:func:`dcai_lab.active.run_active_learning` (``stopping=[...]``) asks every rule after every
round and records in ``History.stops`` the first round at which each would have stopped
(the loop itself runs on, so you can see what stopping there would have cost)::

    StabilizingPredictions   mean of the last `window` kappas >= threshold             (Bloodgood & Vijay-Shanker 2009)
                             kappa_r = Cohen's kappa between the predictions of the models
                             of rounds r-1 and r on a stop set of unlabeled examples
    OverallUncertainty       mean entropy of the model's predictions on the stop set <= threshold   (Zhu et al. 2008)
    LabelBudget              labels bought >= budget

Cohen's kappa corrects the agreement of two labelings ``a`` and ``b`` for chance::

    kappa = (p_o - p_e) / (1 - p_e),   p_o = mean(a == b),   p_e = sum_c q_a(c) q_b(c)

where ``q_a(c)`` is the fraction of ``a`` that is ``c``. The stop set needs no labels, so a
rule never spends any: Bloodgood & Vijay-Shanker stop when the average kappa of the last
three rounds reaches 0.99.

A rule is an object with ``name``, ``reset()`` (called when a run starts) and
``rule(model, n_labeled) -> (value, stop)``; the loop keeps each round's value in
``History.stop_values[name]``.

>>> cohen_kappa([0, 0, 1, 1], [0, 0, 1, 0])        # p_o = 3/4, p_e = 1/2 * 3/4 + 1/2 * 1/4 = 1/2
0.5
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import check_float, check_int, check_labels, check_matrix, check_model
from dcai_lab.uncertainty import entropy

__all__ = ["cohen_kappa", "stabilizing_round", "StabilizingPredictions", "OverallUncertainty", "LabelBudget",
           "stopping_table"]


def cohen_kappa(a, b) -> float:
    """Cohen's kappa between two labelings of the same examples (notebook 05, section 7)::

        kappa = (p_o - p_e) / (1 - p_e),   p_o = mean(a == b),   p_e = sum_c q_a(c) q_b(c)

    In [-1, 1]; 1 = identical, 0 = no better than chance. When both labelings put every example
    in one and the same class (``p_e = 1``), they agree perfectly and kappa is 1 (the formula's 0 / 0).

    Parameters
    ----------
    a, b : 1-D label arrays of the same length (at least 1), of the same kind.

    Returns
    -------
    float

    >>> cohen_kappa([1, 2, 3], [1, 2, 3]), cohen_kappa([0, 1], [1, 0])
    (1.0, -1.0)
    """
    a = check_labels(a, "a")
    b = check_labels(b, "b", n=len(a))
    if len(a) == 0:
        raise ValueError("a and b must hold at least one label each")
    classes, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    q_a = np.bincount(codes[:len(a)], minlength=len(classes)) / len(a)
    q_b = np.bincount(codes[len(a):], minlength=len(classes)) / len(b)
    p_o, p_e = float(np.mean(a == b)), float(q_a @ q_b)
    return 1.0 if p_e == 1 else (p_o - p_e) / (1 - p_e)


def stabilizing_round(predictions, threshold: float = 0.99, window: int = 3) -> int | None:
    """The first round at which stabilizing predictions stops, from each round's predictions (notebook 05, section 7)::

        first r >= window with  (1/window) sum_{j = r-window+1 .. r} kappa_j >= threshold,
        kappa_j = kappa(predictions[j-1], predictions[j])

    ``predictions[r]`` is what round ``r``'s model predicts for the stop set. ``kappa_r`` compares
    rounds ``r - 1`` and ``r`` (so the first is ``kappa_1``); the rule stops at the first round
    ``r`` whose last ``window`` kappas average at least ``threshold``. None if it never does.
    The same rule as :class:`StabilizingPredictions`, applied after the fact.

    Parameters
    ----------
    predictions : a sequence of label arrays of the same length, one per round.
    threshold : in (0, 1]; window : how many successive kappas to average.

    Returns
    -------
    int or None

    >>> stabilizing_round([[0, 1, 1], [0, 1, 0], [0, 1, 0], [0, 1, 0]], threshold=1.0, window=2)
    3
    """
    threshold = check_float(threshold, "threshold", min=0, max=1, min_open=True)
    window = check_int(window, "window", min=1)
    kappas = [cohen_kappa(a, b) for a, b in zip(predictions[:-1], predictions[1:])]
    for r in range(window, len(kappas) + 1):
        if np.mean(kappas[r - window:r]) >= threshold:
            return r
    return None


class StabilizingPredictions:
    """Stop when the predictions on an unlabeled stop set stop changing (Bloodgood & Vijay-Shanker 2009).

    Notebook 05, section 7.

    Round ``r``'s value is ``kappa_r`` = :func:`cohen_kappa` of the models of rounds ``r - 1``
    and ``r`` on ``X_stop`` (NaN in round 0, which has no predecessor). Stop once the last
    ``window`` kappas average at least ``threshold``.

    Parameters
    ----------
    X_stop : array (n_stop, d), unlabeled examples (e.g. a random sample of the pool); no label is used.
    threshold : in (0, 1]; the paper's 0.99.
    window : how many successive kappas to average; the paper's 3.
    name : the key in ``History.stops``.

    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> model = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> rule = StabilizingPredictions(X, threshold=0.99, window=1)
    >>> rule(model, 4), rule(model, 4)          # round 0 has no kappa; then the same predictions: kappa 1
    ((nan, False), (1.0, True))
    """

    def __init__(self, X_stop, threshold: float = 0.99, window: int = 3, name: str = "stabilizing predictions"):
        self.X_stop = check_matrix(X_stop, "X_stop", what="(n_stop, n_features), unlabeled examples", dtype=None)
        self.threshold = check_float(threshold, "threshold", min=0, max=1, min_open=True)
        self.window, self.name = check_int(window, "window", min=1), str(name)
        self.reset()

    def reset(self) -> None:
        """Forget the previous runs' predictions (the loop calls this when a run starts)."""
        self._previous, self._kappas = None, []

    def __call__(self, model, n_labeled: int) -> tuple[float, bool]:
        predictions = np.asarray(check_model(model).predict(self.X_stop))
        kappa = np.nan if self._previous is None else cohen_kappa(self._previous, predictions)
        self._previous = predictions
        if not np.isnan(kappa):
            self._kappas.append(kappa)
        recent = self._kappas[-self.window:]
        return kappa, len(recent) == self.window and float(np.mean(recent)) >= self.threshold

    def __repr__(self) -> str:
        return f"StabilizingPredictions(n_stop={len(self.X_stop)}, threshold={self.threshold}, window={self.window})"


class OverallUncertainty:
    """Stop when the model's mean entropy on an unlabeled stop set is at most ``threshold`` (notebook 05, section 7)::

        value_r = (1/|S|) sum_{x in S} H[p_r(y|x)],    stop when value_r <= threshold     (nats)

    Round ``r``'s value is that mean entropy (:func:`dcai_lab.uncertainty.entropy`). The
    threshold depends on the model and the number of classes (``log C`` is the most uncertain):
    choose it on data like yours.

    Parameters
    ----------
    X_stop : array (n_stop, d), unlabeled examples; no label is used.
    threshold : the mean entropy in nats at which to stop, >= 0.
    name : the key in ``History.stops``.

    >>> from sklearn.linear_model import LogisticRegression
    >>> X = np.array([[-3.0], [-1.0], [1.0], [3.0]])
    >>> model = LogisticRegression(C=100).fit(X, [0, 0, 1, 1])
    >>> OverallUncertainty(X[[0, 3]], threshold=0.1)(model, 4)[1]      # sure about the far points
    True
    """

    def __init__(self, X_stop, threshold: float, name: str = "overall uncertainty"):
        self.X_stop = check_matrix(X_stop, "X_stop", what="(n_stop, n_features), unlabeled examples", dtype=None)
        self.threshold = check_float(threshold, "threshold", min=0, hint=" (mean entropy in nats, e.g. 0.1)")
        self.name = str(name)

    def reset(self) -> None:
        """Nothing to forget: the rule looks only at the current model."""

    def __call__(self, model, n_labeled: int) -> tuple[float, bool]:
        value = float(entropy(check_model(model).predict_proba(self.X_stop)).mean())
        return value, value <= self.threshold

    def __repr__(self) -> str:
        return f"OverallUncertainty(n_stop={len(self.X_stop)}, threshold={self.threshold})"


class LabelBudget:
    """Stop once ``budget`` labels are bought: the rule every project has, whether it says so or not.

    Notebook 05, section 7::

        stop when n_labeled >= budget

    >>> rule = LabelBudget(30)
    >>> rule(None, 20), rule(None, 30)
    ((20.0, False), (30.0, True))
    """

    def __init__(self, budget: int, name: str = "label budget"):
        self.budget, self.name = check_int(budget, "budget", min=1), str(name)

    def reset(self) -> None:
        """Nothing to forget."""

    def __call__(self, model, n_labeled: int) -> tuple[float, bool]:
        return float(n_labeled), n_labeled >= self.budget

    def __repr__(self) -> str:
        return f"LabelBudget({self.budget})"


def stopping_table(histories):
    """Where each rule would have stopped, one row per run and rule: a pandas DataFrame (notebook 05, section 7)::

        accuracy lost = accuracy[last round] - accuracy[History.stops[rule]]

    Columns: ``strategy``, ``seed``, ``rule``, ``round`` (None if it never stopped),
    ``n_labeled`` and ``accuracy`` at that round, ``final accuracy`` (the run's last round) and
    ``accuracy lost`` (final minus at the stop: what stopping there cost; NaN if it never stopped).

    Parameters
    ----------
    histories : Histories of runs with ``stopping=[...]`` (:func:`dcai_lab.active.run_active_learning`).

    >>> from dcai_lab.history import History
    >>> h = History("entropy", 0, np.arange(2), n_labeled=[10, 20, 30], accuracy=[0.7, 0.8, 0.9])
    >>> h.stops = {"label budget": 1}
    >>> stopping_table([h])[["rule", "n_labeled", "accuracy lost"]].round(3).values.tolist()
    [['label budget', 20, 0.1]]
    """
    import pandas as pd

    rows = []
    for h in histories:
        if not h.stops:
            raise ValueError(f"{h!r} records no stopping rule; run the loop with stopping=[...]")
        for rule, r in h.stops.items():
            at = (None, np.nan, np.nan) if r is None else (r, h.n_labeled[r], h.accuracy[r])
            rows.append({"strategy": h.strategy, "seed": h.seed, "rule": rule, "round": at[0], "n_labeled": at[1],
                         "accuracy": at[2], "final accuracy": h.accuracy[-1], "accuracy lost": h.accuracy[-1] - at[2]})
    return pd.DataFrame(rows)
