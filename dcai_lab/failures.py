"""Where a model fails, per class: misclassified and low-confidence items (notebook 04, section 2).

For item ``i`` with class probabilities ``p_i`` the prediction is ``argmax p_i``; it is
**misclassified** when that is not ``y_i`` and has **low confidence** when
``max p_i < low_confidence`` (right or wrong). A **failure** is either. The data engine of
notebook 04 mines more data like the failures of its weakest class.

>>> probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.2, 0.8]])
>>> failure_report([0, 0, 1, 1], probs, low_confidence=0.6)
   class  n  accuracy  misclassified  low_confidence  failures
0      0  2       0.5              1               0         1
1      1  2       0.5              1               1         1
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import check_float, check_labels, check_probs, same_label_kind

__all__ = ["failure_report", "failure_mask", "class_accuracy"]


def _check_report_input(y_true, probs, classes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true = check_labels(y_true, "y_true")
    probs = check_probs(probs, n_rows=len(y_true))
    classes = np.arange(probs.shape[1]) if classes is None else check_labels(classes, "classes", distinct=True)
    if len(classes) != probs.shape[1]:
        raise ValueError(f"probs has {probs.shape[1]} columns but there are {len(classes)} classes; "
                         "use dcai_lab.strategies.predict_proba(model, X, classes) for one column per class")
    unknown = ~np.isin(y_true, classes)
    if unknown.any():
        raise ValueError(f"label {y_true[unknown][0].tolist()!r} is not one of classes={classes.tolist()}")
    return y_true, probs, classes


def class_accuracy(y_true, y_pred, classes) -> np.ndarray:
    """Accuracy within each class (its recall): ``mean(y_pred[y_true == c] == c)``; NaN for an absent class.

    >>> class_accuracy([0, 0, 1, 2], [0, 1, 1, 1], classes=[0, 1, 2]).tolist()
    [0.5, 1.0, 0.0]
    """
    y_true = check_labels(y_true, "y_true")
    y_pred, classes = check_labels(y_pred, "y_pred", n=len(y_true)), check_labels(classes, "classes", distinct=True)
    same_label_kind(y_true, y_pred, "y_true", "y_pred")
    same_label_kind(y_true, classes, "y_true", "classes")
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
    low_confidence = check_float(low_confidence, "low_confidence", min=0, max=1, min_open=True)
    predicted = classes[np.argmax(probs, axis=1)]
    wrong = predicted != y_true
    unsure = probs.max(axis=1) < low_confidence
    rows = []
    for c, acc in zip(classes, class_accuracy(y_true, predicted, classes)):
        mine = y_true == c
        rows.append({"class": c, "n": int(mine.sum()), "accuracy": acc, "misclassified": int((wrong & mine).sum()),
                     "low_confidence": int((unsure & mine).sum()), "failures": int(((wrong | unsure) & mine).sum())})
    return pd.DataFrame(rows)


def failure_mask(probs, y_true, classes=None, low_confidence: float = 0.5) -> np.ndarray:
    """Boolean mask (n,): item ``i`` is misclassified, or its top probability is below ``low_confidence``.

    ``failed_i = (classes[argmax p_i] != y_i) or (max p_i < low_confidence)``; column ``j`` of
    ``probs`` is the probability of ``classes[j]`` (default ``0 .. n_classes - 1``).

    >>> failure_mask([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45]], [0, 0, 0], low_confidence=0.6).tolist()
    [False, True, True]
    """
    y_true, probs, classes = _check_report_input(y_true, probs, classes)
    low_confidence = check_float(low_confidence, "low_confidence", min=0, max=1, min_open=True)
    return (classes[np.argmax(probs, axis=1)] != y_true) | (probs.max(axis=1) < low_confidence)
