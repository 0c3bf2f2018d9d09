"""Notebook 03's exercise references (``dcai_lab.course.references``): the power-law fits, the data multiple, the sweep.

Explore mode runs these in place of unanswered exercises, and the notebook's tests compare the
learner's answers with some of them, so they are checked here on values worked out by hand and
against the library's own fit and selection.
"""

import warnings

import numpy as np
import pytest

from dcai_lab.course.references import data_multiple, fit_power_law_scan, kept_fraction_sweep, power_law_for_floor
from dcai_lab.pruning import random_scores, select
from dcai_lab.scaling import fit_power_law

N = np.array([10, 30, 100, 300, 1000, 3000], dtype=float)


def test_power_law_for_floor_recovers_exact_data():
    a, b = power_law_for_floor(N, 2.0 * N ** -0.5 + 0.01, 0.01)
    assert a == pytest.approx(2.0) and b == pytest.approx(0.5)
    a, b = power_law_for_floor([1, 10, 100], [5.0, 0.5, 0.05], 0.0)  # 5 / n, lists accepted
    assert a == pytest.approx(5.0) and b == pytest.approx(1.0)


@pytest.mark.parametrize("c", [0.03, 0.05])  # the smallest error of 2 n^-0.5 + 0.01 over 10..10,000 is 0.03
def test_power_law_for_floor_refuses_a_floor_not_below_every_error(c):
    n = np.array([10, 100, 1000, 10_000], dtype=float)
    with pytest.raises(ValueError, match="above the floor"):
        power_law_for_floor(n, 2.0 * n ** -0.5 + 0.01, c)


def test_fit_power_law_scan_finds_the_floor_of_exact_data_and_skips_floors_above_the_errors():
    error = 3.0 * N ** -0.7 + 0.02          # smallest error 0.031; the grid runs to 0.05
    a, b, c = fit_power_law_scan(N, error, np.arange(51) / 1000)
    assert (a, b, c) == pytest.approx((3.0, 0.7, 0.02))


def test_fit_power_law_scan_agrees_with_fit_power_law_on_noisy_data():
    n = np.repeat(N, 3)
    error = np.repeat(3.0 * N ** -0.7 + 0.02, 3) * np.exp(np.random.default_rng(0).normal(0, 0.05, len(n)))
    a, b, c = fit_power_law_scan(n, error, np.linspace(0, 0.99 * error.min(), 1000))
    library = fit_power_law(n, error)
    assert np.max(np.abs((a * N ** -b + c) / library.predict(N) - 1)) < 0.02
    assert b == pytest.approx(library.b, abs=0.03) and c == pytest.approx(library.c, abs=0.002)


def test_fit_power_law_scan_minimises_the_log_error_over_the_grid():
    n = np.repeat(N, 2)
    error = np.repeat(5.0 * N ** -0.8 + 0.01, 2) * np.exp(np.random.default_rng(1).normal(0, 0.1, len(n)))
    floors = np.linspace(0, 0.99 * error.min(), 200)

    def loss(c):
        a, b = power_law_for_floor(n, error, c)
        return np.sum((np.log(error) - np.log(a * n ** -b + c)) ** 2)

    assert fit_power_law_scan(n, error, floors)[2] == floors[np.argmin([loss(c) for c in floors])]


def test_fit_power_law_scan_refuses_a_grid_without_a_floor_below_the_errors():
    with pytest.raises(ValueError, match="no floor below"):
        fit_power_law_scan(N, 3.0 * N ** -0.7 + 0.02, [0.5, 1.0])


@pytest.mark.parametrize("a, b, c, start, target, expected", [
    (1.0, 1.0, 0.0, 0.03, 0.02, 1.5),                        # error ~ 1/n
    (1.0, 0.5, 0.0, 0.03, 0.02, 2.25),                       # (3/2)^(1/b)
    (1.0, 1.0, 0.01, 0.03, 0.02, 2.0),                       # the excess halves
    (7.0, 1.0, 0.01, 0.03, 0.02, 2.0),                       # a cancels
    (1.0, np.log(1.5) / np.log(10), 0.0, 0.03, 0.02, 10.0),  # the lecture's 10x
    (1.0, 1.0, 0.0, 0.02, 0.03, 2 / 3),                      # a larger target error needs less data
])
def test_data_multiple_by_hand(a, b, c, start, target, expected):
    assert data_multiple(a, b, c, start, target) == pytest.approx(expected)


@pytest.mark.parametrize("start, target", [(0.03, 0.015), (0.03, 0.02), (0.01, 0.03)])
def test_data_multiple_refuses_errors_at_or_below_the_floor(start, target):
    with pytest.raises(ValueError, match="no amount of data"):
        data_multiple(1.0, 1.0, 0.02, start, target)


def _logistic(X, y):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.mark.parametrize("keep, class_balanced", [("hard", False), ("easy", True)])
def test_kept_fraction_sweep_equals_training_on_the_selected_examples(small_pool, course_test, keep, class_balanced):
    scores = {seed: random_scores(len(small_pool), seed=seed) for seed in (0, 5)}
    sweep = kept_fraction_sweep(lambda seed: scores[seed], [0.2, 0.5], [0, 5], _logistic, small_pool, course_test,
                                keep=keep, class_balanced=class_balanced)
    assert list(sweep.columns) == ["seed", "fraction", "error"]
    assert sweep[["seed", "fraction"]].values.tolist() == [[0, 0.2], [0, 0.5], [5, 0.2], [5, 0.5]]
    for seed, fraction, error in sweep.values:
        kept = select(scores[seed], fraction, keep=keep, class_balanced=class_balanced, labels=small_pool.y)
        model = _logistic(small_pool.X[kept], small_pool.y[kept])
        assert error == pytest.approx(100 * (1 - model.score(course_test.X, course_test.y)))
    assert sweep["error"].between(0, 100).all() and sweep["error"].nunique() > 1
