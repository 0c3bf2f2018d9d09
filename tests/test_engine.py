import numpy as np
import pytest

from dcai_lab.engine import class_accuracy, failure_report, plot_dashboard


def test_failure_report_counts_by_hand():
    probs = np.array([[0.9, 0.1, 0.0], [0.3, 0.6, 0.1], [0.4, 0.35, 0.25], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]])
    report = failure_report([0, 0, 1, 2, 1], probs, classes=[0, 1, 2], low_confidence=0.5)
    assert report["n"].tolist() == [2, 2, 1]
    assert report["misclassified"].tolist() == [1, 1, 0]      # item 1 (0 -> 1), item 2 (1 -> 0)
    assert report["low_confidence"].tolist() == [0, 1, 0]     # item 2: top probability 0.4
    assert report["failures"].tolist() == [1, 1, 0]
    assert report["accuracy"].tolist() == [0.5, 0.5, 1.0]


def test_failure_report_agrees_with_a_slow_reference():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=300)
    classes = np.array([3, 5, 7, 9])
    y = classes[rng.integers(0, 4, 300)]
    report = failure_report(y, probs, classes, low_confidence=0.6)
    for row in report.itertuples():
        mine = [i for i in range(300) if y[i] == row[1]]
        wrong = [i for i in mine if classes[np.argmax(probs[i])] != y[i]]
        unsure = [i for i in mine if probs[i].max() < 0.6]
        assert (row.n, row.misclassified, row.low_confidence, row.failures) == (
            len(mine), len(wrong), len(unsure), len(set(wrong) | set(unsure)))
        assert row.accuracy == pytest.approx(1 - len(wrong) / len(mine))


def test_class_accuracy_different_lengths():
    with pytest.raises(ValueError, match=r"same length.*\(3,\) and \(2,\)"):
        class_accuracy([0, 1, 1], [0, 1], classes=[0, 1])
    with pytest.raises(ValueError, match="same length"):
        class_accuracy([0, 1], [0, 1, 1], classes=[0, 1])


def test_class_accuracy_absent_class_is_nan():
    acc = class_accuracy([0, 0], [0, 1], classes=[0, 1])
    assert acc[0] == 0.5 and np.isnan(acc[1])


@pytest.mark.parametrize("args, message", [
    (([0, 1], np.ones((3, 2)) / 2), "one row per label"),
    (([0, 1], np.ones((2, 2)) / 2, [0, 1, 2]), "2 columns but there are 3 classes"),
    (([0, 4], np.ones((2, 2)) / 2), "label 4 is not one of"),
    (([0, 1], [[0.5, 0.5], [np.nan, 0.5]]), r"finite \(row 1 holds nan"),
    (([0, 1], [[0.5, 0.5], [0.3, 0.3]]), r"rows must sum to 1 \(row 1 sums to 0.6\)"),
    (([0, 1], [[1.2, -0.2], [0.5, 0.5]]), r"must be in \[0, 1\] \(row 0 holds 1.2\)"),
    (([0, 1], [0.5, 0.5]), "2-D array"),
])
def test_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        failure_report(*args)


def test_dashboard_panels_plot_labels_added_and_seconds():
    import pandas as pd

    frame = pd.DataFrame({"labels": [10, 30, 35], "train_items": [7, 21, 25], "seconds": [0.5, 0.25, np.nan],
                          "accuracy": [0.5, 0.7, 0.8], "class 0": [0.0, 0.5, 0.6], "class 1": [1.0, 0.9, 0.9]})
    fig = plot_dashboard({"engine": frame, "random": frame}, focus_class=0, classes=[0, 1])
    acc_ax, heat_ax, label_ax, time_ax = fig.axes[:4]
    assert [ax.get_title() for ax in fig.axes[:4]] == [
        "accuracy", "engine: accuracy per class", "labeling cost per iteration", "compute per iteration"]
    # labels added per iteration, not the running total: 10, 30 - 10, 35 - 30 (two runs side by side)
    heights = [bar.get_height() for bar in label_ax.patches]
    assert heights == [10, 20, 5, 10, 20, 5]
    assert label_ax.lines[0].get_ydata().tolist() == [7, 21, 25]
    seconds = time_ax.lines[0].get_ydata()
    assert seconds[:2].tolist() == [0.5, 0.25] and np.isnan(seconds[2])
    assert acc_ax.lines[0].get_xdata().tolist() == [10, 30, 35]      # cumulative labels on the x axis
    assert heat_ax.images[0].get_array().shape == (2, 3)              # classes x iterations


def test_dashboard_bad_input():
    import pandas as pd

    frame = pd.DataFrame({"labels": [10, 20], "train_items": [7, 14], "seconds": [0.1, 0.1],
                          "accuracy": [0.5, 0.7], "class 0": [0.0, 0.5], "class 1": [1.0, 0.9]})
    with pytest.raises(ValueError, match=r"lacks the columns \['class 1'\]"):
        plot_dashboard({"engine": frame.drop(columns="class 1")}, focus_class=0, classes=[0, 1])
    with pytest.raises(ValueError, match=r"lacks the columns \['seconds'\]"):
        plot_dashboard({"engine": frame.drop(columns="seconds")}, focus_class=0, classes=[0, 1])
    with pytest.raises(ValueError, match="at least one run"):
        plot_dashboard({}, focus_class=0, classes=[0, 1])
