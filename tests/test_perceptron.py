"""Tests of dcai_lab.perceptron: the teacher-student theory of pruning and the pruning frontier."""

import numpy as np
import pandas as pd
import pytest

from dcai_lab.perceptron import (generalization_error, perceptron_teacher_student, plot_perceptron_pruning,
                                 plot_pruning_frontier, pruning_frontier, train_max_margin)
from dcai_lab.scaling import fit_power_law


def test_generalization_error_is_the_angle_over_pi():
    T = np.array([1.0, 0.0, 0.0])
    assert generalization_error(T * 3, T) == 0.0
    assert generalization_error(-T, T) == 1.0
    assert generalization_error(np.array([0.0, 1.0, 0.0]), T) == pytest.approx(0.5)
    # agrees with a Monte Carlo estimate
    rng = np.random.default_rng(0)
    J = np.array([1.0, 0.7, -0.2])
    x = rng.standard_normal((200_000, 3))
    assert np.mean(np.sign(x @ J) != np.sign(x @ T)) == pytest.approx(generalization_error(J, T), abs=0.005)
    with pytest.raises(ValueError, match="J and T must be non-zero vectors of the same length"):
        generalization_error([0, 0], [1, 1])
    with pytest.raises(ValueError, match=r"J and T must be non-zero vectors of the same length, got lengths 2 and 3"):
        generalization_error([1, 0], [1, 0, 0])


def test_train_max_margin_separates_and_maximises_the_margin():
    rng = np.random.default_rng(0)
    T = rng.standard_normal(10)
    X = rng.standard_normal((60, 10))
    y = np.sign(X @ T)
    J = train_max_margin(X, y)
    margins = y * (X @ J) / np.linalg.norm(J)
    assert margins.min() > 0  # separates the training data
    teacher_margin = (y * (X @ T) / np.linalg.norm(T)).min()
    assert margins.min() >= teacher_margin - 1e-6  # at least as wide as the teacher's margin
    one_class = train_max_margin(X[y > 0], y[y > 0])  # one class only: the Hebbian rule
    np.testing.assert_allclose(one_class, X[y > 0].sum(axis=0))


def test_train_max_margin_checks_its_input():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match=r"y must have 3 entries \(one per item\), got 2"):
        train_max_margin(X, [1, -1])
    with pytest.raises(ValueError, match=r"y must hold the labels -1 and \+1 .*got \[2\.0\]"):
        train_max_margin(X, [1, -1, 2])
    with pytest.raises(ValueError, match=r"X must be a 2-D array"):
        train_max_margin([1.0, 2.0], [1, -1])
    with pytest.raises(ValueError, match=r"C must be a finite number > 0, got 0"):
        train_max_margin(X, [1, -1, 1], C=0)


def test_perceptron_shows_the_crossover():
    """Keep 20% of the data: easy examples win when data is scarce, hard ones when it is abundant."""
    results = perceptron_teacher_student(N=50, alphas=(2, 16), fractions=(0.2,), n_seeds=2, seed=0)
    err = results.groupby(["alpha", "keep"])["error"].mean()
    assert err[2, "easy"] < err[2, "hard"]        # scarce data (alpha = 2): keep easy
    assert err[16, "hard"] < err[16, "easy"]      # abundant data (alpha = 16): keep hard
    assert set(results.columns) == {"alpha", "fraction", "keep", "alpha_prune", "seed", "error"}
    np.testing.assert_allclose(results["alpha_prune"], results["alpha"] * 0.2)
    assert len(results) == 2 * 2 * 2


def test_perceptron_pruning_beats_the_power_law():
    """At the same number of kept examples, a big pool pruned to its hard 20% beats unpruned data."""
    results = perceptron_teacher_student(N=50, alphas=(3.2, 16), fractions=(0.2, 1.0), keep="hard",
                                         n_seeds=2, seed=0)
    err = results.groupby(["alpha", "fraction"])["error"].mean()
    # both train on 3.2 * N examples; pruned from 16 N is far better than 3.2 N at random
    assert err[16, 0.2] < 0.5 * err[3.2, 1.0]
    # and (exact) the hard 20% of 16 N keeps every support vector: as good as all 16 N
    assert err[16, 0.2] == pytest.approx(err[16, 1.0], abs=0.01)


def test_pruning_frontier_beats_the_power_law():
    """With f shrinking as data grows, error falls faster than the unpruned power law (Sorscher et al., Fig. 1).

    Tolerances: over seeds 0-4 of this set-up (N = 50, 3 seeds each) the frontier at 8 N kept
    examples was 0.09-0.13 times the f = 1 fit, its log-log slope -1.72 to -1.88 and the f = 1
    exponent b 0.64-0.87; the bounds below leave about a factor 2 (ratio) and 0.5 (slope) to spare.
    """
    frontier = pruning_frontier(N=50, alphas_kept=(1, 2, 4, 8), fractions=(1.0, 0.5, 0.25, 0.125), n_seeds=3, seed=0)
    assert len(frontier) == 16 and frontier.groupby("alpha_kept")["best"].sum().tolist() == [1, 1, 1, 1]
    np.testing.assert_allclose(frontier["alpha"], frontier["alpha_kept"] / frontier["fraction"])
    full = frontier[frontier["fraction"] == 1]
    best = frontier[frontier["best"]]
    fit = fit_power_law(full["alpha_kept"], full["error"])
    # the best kept fraction shrinks as the number of kept examples grows (measured: 1, 0.5, 0.125, 0.125)
    assert best["fraction"].tolist() == [1.0, 0.5, 0.125, 0.125]
    # far below the unpruned power law at the largest budgets (measured ratios 0.13 and 0.095)
    ratio = best["error"].to_numpy() / fit.predict(best["alpha_kept"])
    assert ratio[-2] < 0.25 and ratio[-1] < 0.25
    assert best["error"].iloc[-1] == pytest.approx(0.0071, abs=0.002)  # 0.71% at 8 N kept, vs 6.6% unpruned
    # and steeper on log-log axes: measured slope -1.88 against the f = 1 exponent b = 0.87
    slope = np.polyfit(np.log(best["alpha_kept"]), np.log(best["error"]), 1)[0]
    assert slope < -1.5 and slope < -(fit.b + 0.5)


def test_pruning_frontier_rejects_bad_input():
    with pytest.raises(ValueError, match="fractions must include 1.0"):
        pruning_frontier(fractions=(0.5,))
    # the message names the argument (it said "alphas" before)
    with pytest.raises(ValueError, match=r"alphas_kept must be a finite number > 0, got 0"):
        pruning_frontier(alphas_kept=(0,))
    with pytest.raises(ValueError, match=r"alphas_kept and fractions must hold at least one value each"):
        pruning_frontier(alphas_kept=())
    with pytest.raises(ValueError, match=r"n_seeds must be an integer >= 1, got 0"):
        pruning_frontier(n_seeds=0)                                  # regression (issue 12): n_seeds=0 accepted


def test_plot_pruning_frontier():
    frontier = pruning_frontier(N=20, alphas_kept=(1, 2, 4), fractions=(1.0, 0.5), n_seeds=1)
    fig = plot_pruning_frontier(frontier)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "best f per α_kept" in labels and any(label.startswith("power law") for label in labels)
    with pytest.raises(ValueError, match=r"frontier lacks the columns \['best'\]"):
        plot_pruning_frontier(frontier.drop(columns="best"))
    with pytest.raises(ValueError, match="frontier must be the DataFrame pruning_frontier returns"):
        plot_pruning_frontier([1, 2])


def test_perceptron_is_deterministic_and_validates():
    a = perceptron_teacher_student(N=20, alphas=(1,), fractions=(0.5,), n_seeds=1, seed=3, probe="student")
    b = perceptron_teacher_student(N=20, alphas=(1,), fractions=(0.5,), n_seeds=1, seed=3, probe="student")
    pd.testing.assert_frame_equal(a, b)
    for kwargs, match in [(dict(keep="middle"), "keep must be 'easy', 'hard', 'both' or a list of them"),
                          (dict(keep=5), "keep must be 'easy', 'hard', 'both' or a list of them, got 5"),
                          (dict(probe="oracle"), "probe must be one of 'teacher', 'student', got 'oracle'"),
                          (dict(N=1), "N must be an integer >= 2"),
                          (dict(alphas=(0,)), r"alphas must be a finite number > 0, got 0"),
                          (dict(alphas=5), r"alphas must be a sequence of numbers"),
                          (dict(fractions=(1.5,)), r"fractions must be a finite number in \(0, 1\], got 1\.5"),
                          (dict(probe_angle=4), r"probe_angle must be a finite number in \[0, 3\.14159\]"),
                          (dict(n_seeds=0), r"n_seeds must be an integer >= 1, got 0"),
                          (dict(seed="a"), r"seed must be an integer >= 0, got 'a'")]:
        with pytest.raises(ValueError, match=match):
            perceptron_teacher_student(**kwargs)


def test_plot_perceptron_pruning():
    results = perceptron_teacher_student(N=20, alphas=(1, 2, 4), fractions=(0.5, 1.0), n_seeds=1)
    fig = plot_perceptron_pruning(results)
    assert len(fig.axes) == 2 and fig.axes[0].get_yscale() == "log"
    assert any("power law" in t.get_text() for t in fig.axes[0].get_legend().get_texts())
    with pytest.raises(ValueError, match="results must be the DataFrame perceptron_teacher_student returns"):
        plot_perceptron_pruning(5)
    with pytest.raises(ValueError, match=r"fit_f1 must be True or False, got 'yes'"):
        plot_perceptron_pruning(results, fit_f1="yes")
