"""Stopping rules: Cohen's kappa, the three rules by hand, their record in the loop's History, the plot."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from dcai_lab.active import compare_strategies, run_active_learning
from dcai_lab.data import course_split
from dcai_lab.plotting import plot_stopping
from dcai_lab.stopping import LabelBudget, OverallUncertainty, StabilizingPredictions, cohen_kappa, \
    stabilizing_round, stopping_table


def test_kappa_by_hand():
    # p_o = 4/6; a has 3 zeros, 3 ones, b 5 zeros, 1 one: p_e = 1/2 * 5/6 + 1/2 * 1/6 = 1/2
    assert cohen_kappa([0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 0]) == pytest.approx((4 / 6 - 0.5) / 0.5)
    assert cohen_kappa(["a", "b"], ["a", "b"]) == 1.0
    assert cohen_kappa([3, 3, 3], [3, 3, 3]) == 1.0      # one class in both: perfect agreement, not 0 / 0
    assert cohen_kappa([3, 3, 3], [3, 3, 4]) == 0.0      # p_e = p_o = 2/3


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 40), st.integers(2, 5))
def test_kappa_equals_scikit_learn(seed, n, C):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, C, n), rng.integers(0, C, n)
    b[: n // 2] = a[: n // 2]
    if len(np.unique(np.concatenate([a, b]))) > 1:
        assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)


def test_kappa_rejects_bad_labels():
    with pytest.raises(ValueError, match="b must have one label per item"):
        cohen_kappa([0, 1], [0])
    with pytest.raises(ValueError, match="at least one"):
        cohen_kappa([], [])


class Scripted:
    """A 'model' whose predictions on the stop set are given, round by round."""

    def __init__(self, predictions=None, probs=None):
        self.predictions, self.probs = predictions, probs

    def predict(self, X):
        return np.asarray(self.predictions)

    def predict_proba(self, X):
        return np.asarray(self.probs)


def test_stabilizing_predictions_by_hand():
    rule = StabilizingPredictions(np.zeros((4, 1)), threshold=0.9, window=2)
    rounds = [[0, 1, 0, 1], [0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0]]
    got = [rule(Scripted(p), 0) for p in rounds]
    kappas = [v for v, _ in got]
    assert np.isnan(kappas[0])
    assert kappas[1:] == pytest.approx([0.5, 1.0, 0.5, 1.0, 1.0])
    # stop once the last 2 kappas average >= 0.9: rounds 1-2 average 0.75, 2-3 0.75, 3-4 0.75, 4-5 1.0
    assert [s for _, s in got] == [False, False, False, False, False, True]
    rule.reset()
    assert np.isnan(rule(Scripted([0, 1, 1, 0]), 0)[0])


def test_overall_uncertainty_and_budget_by_hand():
    rule = OverallUncertainty(np.zeros((2, 1)), threshold=0.5)
    value, stop = rule(Scripted(probs=[[0.5, 0.5], [1.0, 0.0]]), 10)
    assert value == pytest.approx(np.log(2) / 2) and stop
    assert rule(Scripted(probs=[[0.5, 0.5], [0.5, 0.5]]), 10) == (pytest.approx(np.log(2)), False)
    budget = LabelBudget(50)
    assert budget(None, 40) == (40.0, False) and budget(None, 50) == (50.0, True)
    with pytest.raises(ValueError, match="threshold"):
        StabilizingPredictions(np.zeros((2, 1)), threshold=0)
    with pytest.raises(ValueError, match="budget"):
        LabelBudget(0)
    with pytest.raises(ValueError, match="X_stop"):
        OverallUncertainty([1, 2], threshold=0.1)


@pytest.fixture(scope="module")
def digits():
    return course_split()


def test_the_loop_records_where_each_rule_would_stop(digits):
    pool, test = digits
    stop = pool.X[1000:1300]
    rules = [StabilizingPredictions(stop, threshold=0.95), OverallUncertainty(stop, 0.6), LabelBudget(60)]
    h = run_active_learning(pool.X[:1000], pool.y[:1000], test.X, test.y, "margin", initial_labeled=20,
                            batch_size=10, n_rounds=8, progress=False, stopping=rules)
    assert list(h.stops) == ["stabilizing predictions", "overall uncertainty", "label budget"]
    assert h.stops["label budget"] == 4 and h.stop_values["label budget"] == [20.0 + 10 * r for r in range(9)]
    kappas = h.stop_values["stabilizing predictions"]
    means = [np.mean(kappas[r - 2:r + 1]) if r >= 3 else 0 for r in range(9)]
    want = next((r for r, m in enumerate(means) if m >= 0.95), None)
    assert h.stops["stabilizing predictions"] == want
    entropies = h.stop_values["overall uncertainty"]
    assert h.stops["overall uncertainty"] == next((r for r, e in enumerate(entropies) if e <= 0.6), None)
    assert all(len(v) == 9 for v in h.stop_values.values())
    table = stopping_table([h])
    row = table[table.rule == "label budget"].iloc[0]
    assert row["n_labeled"] == 60 and row["accuracy"] == h.accuracy[4]
    assert row["accuracy lost"] == pytest.approx(h.accuracy[-1] - h.accuracy[4])
    ax = plot_stopping(h)
    assert ax.get_xlabel() == "labeled examples" and ax.get_ylabel() == "test accuracy"


def test_rules_are_reset_between_runs(digits):
    pool, test = digits
    rules = [StabilizingPredictions(pool.X[1000:1200], threshold=0.9)]
    setup = dict(initial_labeled=20, batch_size=10, n_rounds=4, stopping=rules)
    both = compare_strategies(["random", "entropy"], [0], pool.X[:800], pool.y[:800], test.X, test.y,
                              progress=False, **setup)
    alone = run_active_learning(pool.X[:800], pool.y[:800], test.X, test.y, "entropy", progress=False, **setup)
    assert both[1].stop_values == alone.stop_values and np.isnan(both[1].stop_values["stabilizing predictions"][0])


def test_bad_stopping_arguments(digits):
    pool, test = digits
    with pytest.raises(ValueError, match="distinct names"):
        run_active_learning(pool.X[:100], pool.y[:100], test.X, test.y, stopping=[LabelBudget(20), LabelBudget(30)],
                            n_rounds=1, progress=False)
    with pytest.raises(ValueError, match="stopping rules"):
        run_active_learning(pool.X[:100], pool.y[:100], test.X, test.y, stopping=[42], n_rounds=1, progress=False)
    h = run_active_learning(pool.X[:100], pool.y[:100], test.X, test.y, n_rounds=1, progress=False)
    with pytest.raises(ValueError, match="no stopping rule"):
        plot_stopping(h)
    with pytest.raises(ValueError, match="no stopping rule"):
        stopping_table([h])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 9), st.integers(1, 3), st.sampled_from([0.5, 0.8, 1.0]))
def test_stabilizing_round_is_the_rule_after_the_fact(seed, n_rounds, window, threshold):
    rng = np.random.default_rng(seed)
    predictions = [rng.integers(0, 3, 12)]
    for _ in range(n_rounds - 1):
        changed = predictions[-1].copy()
        flip = rng.random(12) < rng.choice([0.0, 0.1, 0.5])
        changed[flip] = rng.integers(0, 3, int(flip.sum()))
        predictions.append(changed)
    rule = StabilizingPredictions(np.zeros((12, 1)), threshold=threshold, window=window)
    stops = [rule(Scripted(p), 0)[1] for p in predictions]
    want = next((r for r, s in enumerate(stops) if s), None)
    assert stabilizing_round(predictions, threshold, window) == want
