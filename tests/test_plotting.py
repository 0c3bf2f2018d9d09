"""Tests of dcai_lab.plotting: image grids, class counts, learning curves, the dashboard, widget pictures."""

import numpy as np
import pandas as pd
import pytest

from dcai_lab.history import History
from dcai_lab.plotting import (figure_png, image_tile, plot_class_counts, plot_dashboard, plot_learning_curves,
                               show_images)


def history(strategy, seed, accuracy):
    h = History(strategy, seed, np.arange(2), n_labeled=[10, 20], accuracy=accuracy)
    for name in ("seconds_selecting", "seconds_training", "n_scored", "candidate_pool_size"):
        setattr(h, name, [0, 0])
    h.selected = [np.array([], dtype=int)] * 2
    return h


def test_learning_curves_plot_mean_and_std_over_seeds():
    hs = [history("a", s, acc) for s, acc in enumerate([[0.5, 0.7], [0.7, 0.9]])] + [history("b", 0, [0.6, 0.6])]
    ax = plot_learning_curves(hs)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a (2 seeds)", "b (1 seed)"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.6, 0.8])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]     # mean +- std (pandas std: ddof = 1)
    std = np.std([0.5, 0.7], ddof=1)
    assert band.min() == pytest.approx(0.6 - std) and band.max() == pytest.approx(0.8 + std)
    np.testing.assert_allclose(lines[1].get_ydata(), [0.6, 0.6])
    assert ax.get_xlabel() == "labeled examples" and ax.get_ylabel() == "test accuracy"
    with pytest.raises(ValueError, match="no histories to plot"):
        plot_learning_curves([])
    with pytest.raises(ValueError, match="metric must be a column of History.to_frame"):
        plot_learning_curves(hs, metric="f1")


def dashboard_frame(labels=(10, 30, 35)):
    return pd.DataFrame({"labels": list(labels), "train_items": [7, 21, 25][:len(labels)],
                         "seconds": [0.5, 0.25, np.nan][:len(labels)], "accuracy": [0.5, 0.7, 0.8][:len(labels)],
                         "class 0": [0.0, 0.5, 0.6][:len(labels)], "class 1": [1.0, 0.9, 0.9][:len(labels)]})


def test_dashboard_panels_plot_labels_added_and_seconds():
    frame = dashboard_frame()
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
    frame = dashboard_frame((10, 20))
    with pytest.raises(ValueError, match=r"lacks the columns \['class 1'\]"):
        plot_dashboard({"engine": frame.drop(columns="class 1")}, focus_class=0, classes=[0, 1])
    with pytest.raises(ValueError, match=r"lacks the columns \['seconds'\]"):
        plot_dashboard({"engine": frame.drop(columns="seconds")}, focus_class=0, classes=[0, 1])
    with pytest.raises(ValueError, match="at least one run"):
        plot_dashboard({}, focus_class=0, classes=[0, 1])
    with pytest.raises(ValueError, match="at most 4 runs, got 5"):
        plot_dashboard({str(i): frame for i in range(5)}, focus_class=0, classes=[0, 1])


def test_show_images_draws_a_grid_with_titles():
    images = np.zeros((12, 8, 8), dtype=np.uint8)
    fig = show_images(images, titles=[str(i) for i in range(12)], ncols=5, suptitle="twelve")
    assert len(fig.axes) == 12 and fig.axes[11].get_title() == "11"
    assert len(show_images(np.zeros((2, 8, 8, 3), dtype=np.uint8)).axes) == 2
    with pytest.raises(ValueError, match="got 12 images but 3 titles"):
        show_images(images, titles=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"images must be a non-empty \(N, H, W\)"):
        show_images(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match=r"images hold NaN or infinity \(image 1\)"):
        show_images(np.r_[np.zeros((1, 8, 8)), np.full((1, 8, 8), np.nan)])
    with pytest.raises(ValueError, match="titles must be a list of str"):
        show_images(images, titles=3)
    assert len(show_images(np.full((2, 8, 8), 128.5)).axes) == 2  # any finite numbers: e.g. mean images
    with pytest.raises(ValueError, match=r"ncols must be an integer >= 1, got 0"):
        show_images(images, ncols=0)


def test_plot_class_counts(digits):
    ax = plot_class_counts(digits.y, digits.class_names)
    assert [bar.get_height() for bar in ax.patches] == digits.class_counts().tolist()
    with pytest.raises(ValueError, match=r"y must be class indices 0\.\.1, one per item"):
        plot_class_counts([0, 2], ["a", "b"])


def test_image_tile_and_figure_png():
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3)
    image_tile(axes[0], np.zeros((8, 8), np.uint8), title="grey", frame="tab:red", width=2)
    image_tile(axes[1], np.zeros((8, 8, 1), np.uint8))
    image_tile(axes[2], np.zeros((8, 8, 3), np.uint8))
    assert axes[0].get_title() == "grey" and axes[0].spines["left"].get_linewidth() == 2
    png = figure_png(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(fig.number)  # closed afterwards


def test_the_display_fixture_captures_what_ipython_would_show(displayed):
    import os

    import IPython.display
    import matplotlib.pyplot as plt

    fig = plt.figure()
    IPython.display.display(fig, "a caption")
    assert displayed == [fig, "a caption"] and os.environ["DCAI_STATIC_WIDGETS"] == "1"
