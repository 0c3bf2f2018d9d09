"""The data engine of notebook 04: find where a model fails, per class, and watch a loop's progress and cost.

A data engine repeats: train; find failure modes (misclassified and low-confidence
items, per class); mine similar unlabeled items (:class:`dcai_lab.seals.KnnIndex`);
label them; prune redundant easy items, i.e. keep the hard ones (:mod:`dcai_lab.pruning`); retrain.
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

from dcai_lab.uncertainty import _check_probs as _check_prob_rows

__all__ = ["failure_report", "class_accuracy", "plot_dashboard"]


def _check_report_input(y_true, probs, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, probs = np.asarray(y_true), _check_prob_rows(probs)  # finite rows in [0, 1] that sum to 1
    if y_true.ndim != 1 or len(probs) != len(y_true):
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
    if y_true.ndim != 1 or y_pred.shape != y_true.shape:
        raise ValueError(f"y_true and y_pred must be 1-D arrays of the same length, one entry per item; "
                         f"got shapes {y_true.shape} and {y_pred.shape}")
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
    probs : array (n, n_classes), predicted class probabilities, columns in ``classes`` order;
        every row finite, in [0, 1] and summing to 1 (else ``ValueError``).
    classes : the class labels of the columns (default ``0 .. n_classes - 1``).
    low_confidence : threshold on the top probability, in (0, 1].

    Returns
    -------
    pandas.DataFrame, one row per class: ``class``, ``n`` (items of that class),
    ``accuracy`` (within the class, NaN if ``n == 0``), ``misclassified``,
    ``low_confidence``, ``failures``.
    """
    import pandas as pd

    y_true, probs, classes = _check_report_input(y_true, probs, classes)
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
    columns ``labels`` (labels bought so far, cumulative), ``train_items`` (items the
    model was trained on, after pruning), ``seconds`` (compute spent in the iteration;
    NaN where not measured), ``accuracy`` (overall test accuracy) and ``"class <c>"``
    for every class ``c`` (test accuracy within the class).

    Four panels: the focus class's accuracy and the overall accuracy against labels
    bought so far; every class's accuracy per iteration (first run); the labels added
    in each iteration, ``labels[i] - labels[i - 1]`` (iteration 0: the starting labels),
    next to the items trained on; the compute seconds of each iteration.
    """
    from matplotlib.figure import Figure

    if not runs:
        raise ValueError("give at least one run: {name: DataFrame}")
    if len(runs) > 4:
        raise ValueError(f"the dashboard compares at most 4 runs, got {len(runs)}")
    columns = [f"class {c}" for c in classes]
    for name, frame in runs.items():
        missing = [c for c in ["labels", "train_items", "seconds", "accuracy", *columns] if c not in frame.columns]
        if missing:
            raise ValueError(f"run {name!r} lacks the columns {missing}")
    fig = Figure(figsize=(12, 7))
    (acc_ax, heat_ax), (label_ax, time_ax) = fig.subplots(2, 2)
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for (name, frame), color in zip(runs.items(), colors):
        acc_ax.plot(frame["labels"], frame[f"class {focus_class}"], "o-", color=color, label=f"{name}: class {focus_class}")
        acc_ax.plot(frame["labels"], frame["accuracy"], "--", color=color, alpha=0.6, label=f"{name}: all classes")
    acc_ax.set(xlabel="labels bought so far", ylabel="test accuracy", ylim=(-0.02, 1.02), title="accuracy")
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
        added = np.diff(frame["labels"].to_numpy(dtype=float), prepend=0)
        label_ax.bar(x, added, width, color=color, alpha=0.5, label=f"{name}: new labels")
        label_ax.plot(x, frame["train_items"], "o:", color=color, label=f"{name}: items trained on")
        time_ax.plot(np.arange(len(frame)), frame["seconds"].to_numpy(dtype=float), "o-", color=color, label=name)
    label_ax.set(xlabel="iteration\n(new labels: bought since the previous model; at 0, the starting labels)",
                 ylabel="items", title="labeling cost per iteration")
    label_ax.set_xticks(range(len(first)))
    label_ax.legend(fontsize=7, loc="upper left")
    time_ax.set(xlabel="iteration", ylabel="seconds (this machine)", ylim=(0, None), title="compute per iteration")
    time_ax.set_xticks(range(len(first)))
    time_ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
