"""The data engine of notebook 04: find where a model fails, per class, and watch a loop's progress and cost.

A data engine repeats: train; find failure modes (misclassified and low-confidence
items, per class); mine similar unlabeled items (:class:`dcai_lab.seals.KnnIndex`);
label them; prune redundant easy items (:mod:`dcai_lab.pruning`); retrain.
This module holds the two pieces the other modules lack: the per-class failure
report and the dashboard.

>>> import numpy as np
>>> probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.2, 0.8]])
>>> failure_report([0, 0, 1, 1], probs, low_confidence=0.6)
   class  n  accuracy  misclassified  low_confidence  failures
0      0  2       0.5              1               0         1
1      1  2       0.5              1               1         1
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["failure_report", "class_accuracy", "plot_dashboard"]


def _check_probs(y_true, probs, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, probs = np.asarray(y_true), np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) != len(y_true):
        raise ValueError(f"probs must be (n_items, n_classes) with one row per label ({len(y_true)}), "
                         f"got shape {probs.shape}")
    classes = np.arange(probs.shape[1]) if classes is None else np.asarray(classes)
    if len(classes) != probs.shape[1]:
        raise ValueError(f"probs has {probs.shape[1]} columns but there are {len(classes)} classes; "
                         "use dcai_lab.active.predict_proba(model, X, classes) for one column per class")
    unknown = ~np.isin(y_true, classes)
    if unknown.any():
        raise ValueError(f"label {y_true[unknown][0].tolist()!r} is not one of classes={classes.tolist()}")
    return y_true, probs, classes


def class_accuracy(y_true, y_pred, classes) -> np.ndarray:
    """Accuracy within each class (its recall): ``mean(y_pred[y_true == c] == c)``; NaN for an absent class.

    >>> class_accuracy([0, 0, 1, 2], [0, 1, 1, 1], classes=[0, 1, 2]).tolist()
    [0.5, 1.0, 0.0]
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    out = np.full(len(classes), np.nan)
    for j, c in enumerate(classes):
        mine = y_true == c
        if mine.any():
            out[j] = float(np.mean(y_pred[mine] == c))
    return out


def failure_report(y_true, probs, classes=None, low_confidence: float = 0.5):
    """Per class: how often the model fails on it, and how.

    For item ``i`` with probabilities ``p_i`` (one column per class) the prediction is
    ``argmax p_i``; it is **misclassified** when that is not ``y_i`` and has **low
    confidence** when ``max p_i < low_confidence`` (right or wrong). A **failure** is either.

    Parameters
    ----------
    y_true : array (n,), the true labels.
    probs : array (n, n_classes), predicted class probabilities, columns in ``classes`` order.
    classes : the class labels of the columns (default ``0 .. n_classes - 1``).
    low_confidence : threshold on the top probability, in (0, 1].

    Returns
    -------
    pandas.DataFrame, one row per class: ``class``, ``n`` (items of that class),
    ``accuracy`` (within the class, NaN if ``n == 0``), ``misclassified``,
    ``low_confidence``, ``failures``.
    """
    import pandas as pd

    y_true, probs, classes = _check_probs(y_true, probs, classes)
    if not 0 < low_confidence <= 1:
        raise ValueError(f"low_confidence must be a probability in (0, 1], got {low_confidence}")
    predicted = classes[np.argmax(probs, axis=1)]
    wrong = predicted != y_true
    unsure = probs.max(axis=1) < low_confidence
    rows = []
    for c, acc in zip(classes, class_accuracy(y_true, predicted, classes)):
        mine = y_true == c
        rows.append({"class": c, "n": int(mine.sum()), "accuracy": acc, "misclassified": int((wrong & mine).sum()),
                     "low_confidence": int((unsure & mine).sum()), "failures": int(((wrong | unsure) & mine).sum())})
    return pd.DataFrame(rows)


def plot_dashboard(runs: dict, focus_class, classes: Sequence, title: str = "data engine"):
    """The dashboard of one or more runs of a data-engine loop (a matplotlib Figure).

    ``runs`` maps a run's name to a pandas DataFrame with one row per iteration and
    columns ``labels`` (labels bought so far), ``train_items`` (items the model was
    trained on), ``accuracy`` (overall test accuracy) and ``"class <c>"`` for every
    class ``c`` (test accuracy within the class). Panels: the focus class's accuracy
    and the overall accuracy against labels bought; every class's accuracy per
    iteration (first run); the cost per iteration: labels bought and training items.
    """
    from matplotlib.figure import Figure

    if not runs:
        raise ValueError("give at least one run: {name: DataFrame}")
    columns = [f"class {c}" for c in classes]
    for name, frame in runs.items():
        missing = [c for c in ["labels", "train_items", "accuracy", *columns] if c not in frame.columns]
        if missing:
            raise ValueError(f"run {name!r} lacks the columns {missing}")
    fig = Figure(figsize=(13, 3.6))
    acc_ax, heat_ax, cost_ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.1, 1.2, 1.1]})
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for (name, frame), color in zip(runs.items(), colors):
        acc_ax.plot(frame["labels"], frame[f"class {focus_class}"], "o-", color=color, label=f"{name}: class {focus_class}")
        acc_ax.plot(frame["labels"], frame["accuracy"], "--", color=color, alpha=0.6, label=f"{name}: all classes")
    acc_ax.set(xlabel="labels bought", ylabel="test accuracy", ylim=(-0.02, 1.02), title="accuracy")
    acc_ax.legend(fontsize=7, loc="lower right")
    first_name, first = next(iter(runs.items()))
    grid = first[columns].to_numpy(dtype=float).T
    image = heat_ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    heat_ax.set(xlabel="iteration", ylabel="class", yticks=range(len(classes)), yticklabels=list(classes),
                title=f"{first_name}: accuracy per class")
    heat_ax.set_xticks(range(grid.shape[1]))
    fig.colorbar(image, ax=heat_ax, fraction=0.05)
    width = 0.8 / len(runs)
    for j, ((name, frame), color) in enumerate(zip(runs.items(), colors)):
        x = np.arange(len(frame)) + (j - (len(runs) - 1) / 2) * width
        cost_ax.bar(x, frame["train_items"], width, color=color, alpha=0.35, label=f"{name}: training items")
        cost_ax.plot(x, frame["labels"], "o-", color=color, label=f"{name}: labels bought")
    cost_ax.set(xlabel="iteration", ylabel="items", title="cost per iteration")
    cost_ax.set_xticks(range(len(first)))
    cost_ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
