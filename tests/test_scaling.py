"""Tests of dcai_lab.scaling: power-law fits and learning curves."""

import numpy as np
import pandas as pd
import pytest

from dcai_lab.pruning import select
from dcai_lab.scaling import PowerLawFit, fit_power_law, learning_curve, random_selector

# --------------------------------------------------------------------------- fit_power_law


@pytest.mark.parametrize("a, b, c", [(2.0, 0.5, 0.02), (30.0, 1.0, 0.0), (0.8, 0.3, 0.1)])
def test_fit_power_law_recovers_parameters_from_noisy_data(a, b, c):
    rng = np.random.default_rng(0)
    n = np.repeat(np.geomspace(50, 50_000, 12), 3)  # 3 "seeds" per size
    error = (a * n ** -b + c) * np.exp(rng.normal(0, 0.02, size=len(n)))  # 2% multiplicative noise
    fit = fit_power_law(n, error)
    assert isinstance(fit, PowerLawFit)
    # stated tolerance: exponent within 0.05, a within 30%, c within 0.01 (absolute), R² > 0.95
    assert abs(fit.b - b) < 0.05
    assert abs(fit.a - a) / a < 0.3
    assert abs(fit.c - c) < 0.01
    assert fit.c >= 0 and fit.b > 0 and fit.r2 > 0.95 and fit.rmse < 0.05 * error.mean()
    np.testing.assert_allclose(fit.predict(n), fit.a * n ** -fit.b + fit.c)
    assert "n^(-" in str(fit)


def test_fit_power_law_exact_data():
    n = np.array([10, 20, 40, 80, 160, 320])
    fit = fit_power_law(n, 0.5 * n ** -0.7 + 0.05)
    np.testing.assert_allclose([fit.a, fit.b, fit.c], [0.5, 0.7, 0.05], rtol=1e-4)
    assert fit.r2 > 0.9999 and fit.rmse < 1e-6


def test_fit_power_law_keeps_c_non_negative():
    n = np.array([10, 100, 1000, 10000])
    fit = fit_power_law(n, 1.0 / n)  # pure power law: the fit must not go below c = 0
    assert fit.c >= 0 and abs(fit.b - 1) < 1e-3


@pytest.mark.parametrize("n, error, match", [
    ([10, 20], [0.1, 0.05], r"n must have at least 3 entries, got 2"),
    ([10, 0, 30], [0.1, 0.05, 0.03], "n must be positive"),
    ([10, -5, 30], [0.1, 0.05, 0.03], "n must be positive"),
    ([10, 20, 30], [0.1, np.nan, 0.03], r"error must be finite \(entry 1 is nan\)"),
    ([10, np.inf, 30], [0.1, 0.05, 0.03], r"n must be finite \(entry 1 is inf\)"),
    ([10, 20, 30], [0.1, 0.0, 0.03], "error must be positive"),
    ([10, 20, 30], [0.1, 0.05], r"error must have 3 entries \(one per item\), got 2"),
    ([10, 10, 10], [0.1, 0.05, 0.03], "at least 2 different sizes"),
    ([[10, 20, 30]], [0.1, 0.05, 0.03], r"n must be a 1-D array"),
    (["10", "20", "30"], [0.1, 0.05, 0.03], r"n must hold real numbers"),
])
def test_fit_power_law_rejects_bad_input(n, error, match):
    with pytest.raises(ValueError, match=match):
        fit_power_law(n, error)


def test_predict_wants_positive_sizes():
    fit = PowerLawFit(a=2.0, b=0.5, c=0.01, r2=1.0, rmse=0.0)
    assert fit.predict(100) == pytest.approx(0.21)
    np.testing.assert_allclose(fit.predict([1, 4]), [2.01, 1.01])
    for bad in (0, -5, "a", [1, np.nan]):
        with pytest.raises(ValueError, match="n must be positive training set sizes"):
            fit.predict(bad)


# --------------------------------------------------------------------------- learning_curve


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    return X, y


def _logreg(X, y):
    from sklearn.linear_model import LogisticRegression
    return LogisticRegression().fit(X, y)


def test_learning_curve_rows_and_error_falls():
    X, y = _data()
    curve = learning_curve(_logreg, X[:300], y[:300], sizes=[10, 40, 200], seeds=(0, 1, 2),
                           X_test=X[300:], y_test=y[300:])
    assert isinstance(curve, pd.DataFrame) and curve.columns.tolist() == ["size", "seed", "error"]
    assert len(curve) == 9 and curve["error"].between(0, 1).all()
    mean = curve.groupby("size")["error"].mean()
    assert mean[200] < mean[10]
    again = learning_curve(_logreg, X[:300], y[:300], sizes=[10, 40, 200], X_test=X[300:], y_test=y[300:])
    pd.testing.assert_frame_equal(curve, again)  # deterministic


def test_learning_curve_with_selector_and_predict_only_model():
    X, y = _data()
    seen = []

    def first_items(X, y, size, rng):
        seen.append(size)
        return np.arange(size)

    class Majority:  # a model with .predict only
        def __init__(self, y):
            self.label = np.bincount(y).argmax()

        def predict(self, X):
            return np.full(len(X), self.label)

    curve = learning_curve(lambda X, y: Majority(y), X, y, sizes=[20, 50], selector=first_items, seeds=[0])
    assert seen == [20, 50]
    # default test set: a stratified quarter of X
    assert np.all(curve["error"] > 0.3) and np.all(curve["error"] < 0.7)


def test_learning_curve_with_a_pruning_selector():
    X, y = _data()
    hardness = -np.abs(X[:300, 0] + 0.5 * X[:300, 1])  # near the true boundary = hard
    picked = []

    def hardest(X, y, size, rng):
        picked.append(select(hardness, size / len(X), keep="hard"))
        return picked[-1]

    curve = learning_curve(_logreg, X[:300], y[:300], sizes=[30, 90], seeds=[0, 1], selector=hardest,
                           X_test=X[300:], y_test=y[300:])
    assert [len(p) for p in picked] == [30, 30, 90, 90]
    assert curve["error"].between(0, 1).all()


def test_random_selector_draws_distinct_indices():
    idx = random_selector(np.zeros((10, 2)), np.zeros(10), 7, np.random.default_rng(0))
    assert len(set(idx.tolist())) == 7 and idx.max() < 10
    with pytest.raises(ValueError, match=r"size must be an integer in 0\.\.10, got 11 \(at most len\(X\)\)"):
        random_selector(np.zeros((10, 2)), np.zeros(10), 11, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
        random_selector(np.zeros((10, 2)), np.zeros(10), 3, 0)


def test_learning_curve_rejects_bad_input():
    X, y = _data()
    with pytest.raises(ValueError, match=r"sizes must be an integer in 1\.\.300, got 1000 \(each at most"):
        learning_curve(_logreg, X, y, sizes=[1000])
    with pytest.raises(ValueError, match=r"sizes must be an integer in 1\.\.300, got 0\.5"):
        learning_curve(_logreg, X, y, sizes=[0.5])
    with pytest.raises(ValueError, match="sizes and seeds must hold at least one value each, got 0 and 3"):
        learning_curve(_logreg, X, y, sizes=[])
    # regression (issue 12): seeds=[] was accepted (an empty curve)
    with pytest.raises(ValueError, match="sizes and seeds must hold at least one value each, got 1 and 0"):
        learning_curve(_logreg, X, y, sizes=[10], seeds=[])
    with pytest.raises(ValueError, match=r"seeds must be an integer >= 0, got 'a'"):
        learning_curve(_logreg, X, y, sizes=[10], seeds=["a"])   # regression: string seeds
    with pytest.raises(ValueError, match=r"sizes must be a sequence of integers"):
        learning_curve(_logreg, X, y, sizes=10)
    with pytest.raises(ValueError, match="pass both X_test and y_test"):
        learning_curve(_logreg, X, y, sizes=[10], X_test=X)
    with pytest.raises(ValueError, match=r"y must have one label per item \(400\), got 399"):
        learning_curve(_logreg, X, y[:-1], sizes=[10])
    with pytest.raises(ValueError, match="selector returned 3 indices for size 10"):
        learning_curve(_logreg, X, y, sizes=[10], selector=lambda X, y, size, rng: np.arange(3))
    with pytest.raises(ValueError, match="selector must be a function"):
        learning_curve(_logreg, X, y, sizes=[10], selector=5)
    with pytest.raises(ValueError, match="train_fn must be a function"):
        learning_curve(5, X, y, sizes=[10])
    # a ValueError now (one kind of error for bad arguments), a TypeError before the re-layout
    with pytest.raises(ValueError, match="must return a fitted model with .score or .predict"):
        learning_curve(lambda X, y: object(), X, y, sizes=[10])


def test_learning_curve_refuses_labels_of_different_kinds():
    """Regression (issue 12): numbers in y and strings in y_test gave error 1 (accuracy 0) without a word."""
    X, y = _data()
    with pytest.raises(ValueError, match=r"y holds int64 labels but y_test holds <U\d+"):
        learning_curve(_logreg, X[:300], y[:300], sizes=[10], X_test=X[300:], y_test=y[300:].astype(str))
