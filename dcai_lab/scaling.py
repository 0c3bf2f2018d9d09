"""Scaling laws: test error falls as a power law in the training set size (notebook 03, section 1).

:func:`fit_power_law` fits ``error = a * n**(-b) + c`` to measured points: ``c`` is the error
more data cannot remove, ``b`` the scaling exponent; the excess error ``a * n**(-b)`` shrinks
tenfold only when ``n`` grows ``10**(1/b)``-fold. :func:`learning_curve` measures the points:
a model trained on growing subsets (random, or chosen by a pruning selector), one row per
(size, seed). The theory of beating the power law by pruning is in :mod:`dcai_lab.perceptron`.

>>> n = np.array([100, 200, 400, 800, 1600])
>>> fit = fit_power_law(n, 2.0 * n ** -0.5 + 0.01)
>>> round(fit.a, 2), round(fit.b, 2), round(fit.c, 3)
(2.0, 0.5, 0.01)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dcai_lab._checks import check_function, check_int, check_labels, check_rng, check_seed, check_vector, same_label_kind

__all__ = ["PowerLawFit", "fit_power_law", "random_selector", "learning_curve"]


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted power law ``error = a * n**(-b) + c``.

    ``c`` is the irreducible error (what infinite data would leave), ``b`` the scaling
    exponent. ``r2`` is the coefficient of determination of ``log(error)`` (1 = perfect) and
    ``rmse`` the root-mean-square error of the fit in the units of ``error``.
    """

    a: float
    b: float
    c: float
    r2: float
    rmse: float

    def predict(self, n) -> np.ndarray:
        """The fitted error at training set size(s) ``n`` (positive numbers)."""
        sizes = np.asarray(n)
        numbers = sizes.dtype != bool and (np.issubdtype(sizes.dtype, np.integer)
                                           or np.issubdtype(sizes.dtype, np.floating))
        if not numbers or not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
            raise ValueError(f"n must be positive training set sizes, got {n!r}")
        return self.a * sizes.astype(np.float64) ** (-self.b) + self.c

    def __str__(self) -> str:
        return f"error = {self.a:.4g} * n^(-{self.b:.3f}) + {self.c:.4f}  (R² on log error {self.r2:.3f})"



def fit_power_law(n, error) -> PowerLawFit:
    """Fit ``error = a * n**(-b) + c`` with ``a > 0``, ``b > 0`` and ``c >= 0``.

    Least squares on ``log(error)`` (every point counts by its relative error, so the small
    errors at large ``n`` matter as much as the large ones) with
    ``scipy.optimize.curve_fit``. The starting point is ``c = 0`` and the straight line
    through ``(log n, log error)``; bounds ``0 < b <= 10`` and ``0 <= c <= max(error)``.
    Repeated sizes (several seeds) are fine: pass every point.

    Parameters
    ----------
    n : training set sizes, positive, at least 3 points with at least 2 distinct sizes.
    error : test errors at those sizes, positive.

    Returns
    -------
    PowerLawFit with ``a, b, c``, ``r2`` (on log error) and ``rmse`` (on error).

    >>> n = np.array([10, 30, 100, 300, 1000])
    >>> fit = fit_power_law(n, 5.0 * n ** -1.0)
    >>> round(fit.b, 3), round(fit.c, 3)
    (1.0, 0.0)
    """
    from scipy.optimize import curve_fit

    n = check_vector(n, "n", min_len=3)
    error = check_vector(error, "error", n=len(n))
    if np.any(n <= 0):
        raise ValueError(f"n must be positive training set sizes, got {n.tolist()}")
    if np.any(error <= 0):
        raise ValueError(f"error must be positive (the fit is on log error), got {error.tolist()}")
    if len(np.unique(n)) < 2:
        raise ValueError(f"n must hold at least 2 different sizes, got only {n[0]:g}")

    # Work with n / n0 so that a stays near the size of the errors (better conditioned).
    n0 = np.exp(np.mean(np.log(n)))
    x = n / n0

    def log_model(x, a, b, c):
        return np.log(a * x ** (-b) + c)

    slope, intercept = np.polyfit(np.log(x), np.log(error), 1)
    b0 = float(np.clip(-slope, 1e-3, 9.9))
    a0 = float(np.exp(intercept))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OptimizeWarning when the covariance cannot be estimated
        (a, b, c), _ = curve_fit(log_model, x, np.log(error), p0=[a0, b0, 0.0],
                                 bounds=([1e-12, 1e-6, 0.0], [np.inf, 10.0, error.max()]), maxfev=20000)
    residual = np.log(error) - log_model(x, a, b, c)
    total = np.sum((np.log(error) - np.log(error).mean()) ** 2)
    r2 = 1.0 - np.sum(residual ** 2) / total if total > 0 else float("nan")
    a_raw = a * n0 ** b  # back to a for the raw n: a * (n / n0)**-b = (a * n0**b) * n**-b
    rmse = float(np.sqrt(np.mean((error - (a_raw * n ** (-b) + c)) ** 2)))
    return PowerLawFit(float(a_raw), float(b), float(c), float(r2), rmse)



def random_selector(X: np.ndarray, y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The default selector of :func:`learning_curve`: ``size`` indices at random, without replacement."""
    n = len(X) if hasattr(X, "__len__") else 0
    return check_rng(rng).choice(n, size=check_int(size, "size", min=0, max=n, hint=" (at most len(X))"),
                                 replace=False)


def _test_error(model, X_test: np.ndarray, y_test: np.ndarray) -> float:
    if hasattr(model, "score"):
        return 1.0 - float(model.score(X_test, y_test))
    if hasattr(model, "predict"):
        return float(np.mean(np.asarray(model.predict(X_test)) != np.asarray(y_test)))
    raise ValueError(f"train_fn must return a fitted model with .score or .predict, got {type(model).__name__}")


def learning_curve(train_fn: Callable, X: np.ndarray, y: np.ndarray, sizes: Sequence[int],
                   selector: Callable | None = None, seeds: Sequence[int] = (0, 1, 2),
                   X_test: np.ndarray | None = None, y_test: np.ndarray | None = None):
    """Test error of ``train_fn`` trained on subsets of growing size: one row per (size, seed).

    For every size and seed: ``idx = selector(X, y, size, rng)`` picks the training subset
    (``rng = np.random.default_rng([seed, size])``; default :func:`random_selector`),
    ``model = train_fn(X[idx], y[idx])`` trains a model, and its error on the test set is
    ``1 - model.score(X_test, y_test)`` (or the fraction of wrong ``model.predict``).

    Without ``X_test``/``y_test``, a stratified 25% of ``(X, y)`` is held out (fixed, seed 0)
    as the test set and subsets are drawn from the other 75%.

    A pruning selector keeps the hardest ``size`` examples of some scores, e.g.
    ``lambda X, y, size, rng: select(scores, size / len(X), keep="hard")``.

    Returns
    -------
    pandas.DataFrame with columns ``size``, ``seed``, ``error``.

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> curve = learning_curve(lambda X, y: KNeighborsClassifier(1).fit(X, y), X, y, sizes=[10, 50], seeds=[0])
    >>> curve.columns.tolist(), curve["size"].tolist()
    (['size', 'seed', 'error'], [10, 50])
    """
    import pandas as pd

    check_function(train_fn, "train_fn", "train_fn(X, y) -> fitted model")
    X = np.asarray(X)
    if X.ndim < 1 or len(X) == 0:
        raise ValueError(f"X must hold at least one example, got shape {X.shape}")
    y = check_labels(y, "y", n=len(X))
    if (X_test is None) != (y_test is None):
        raise ValueError("pass both X_test and y_test, or neither (then 25% of X is held out)")
    if X_test is None:
        from sklearn.model_selection import train_test_split

        train, test = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=0)
        X, y, X_test, y_test = X[train], y[train], X[test], y[test]
    y_test = check_labels(y_test, "y_test", n=len(X_test))
    same_label_kind(y, y_test, "y", "y_test")
    selector = check_function(selector or random_selector, "selector", "selector(X, y, size, rng) -> indices")
    for values, name in ((sizes, "sizes"), (seeds, "seeds")):
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise ValueError(f"{name} must be a sequence of integers, e.g. [10, 100], got {values!r}")
    sizes = [check_int(size, "sizes", min=1, max=len(X), hint=" (each at most the training examples available)")
             for size in sizes]
    seeds = [check_seed(seed, "seeds") for seed in seeds]
    if not sizes or not seeds:
        raise ValueError(f"sizes and seeds must hold at least one value each, got {len(sizes)} and {len(seeds)}")
    rows = []
    for size in sizes:
        for seed in seeds:
            rng = np.random.default_rng([int(seed), int(size)])
            idx = np.asarray(selector(X, y, int(size), rng))
            if len(idx) != size:
                raise ValueError(f"selector returned {len(idx)} indices for size {size}")
            model = train_fn(X[idx], y[idx])
            rows.append({"size": int(size), "seed": int(seed), "error": _test_error(model, X_test, y_test)})
    return pd.DataFrame(rows, columns=["size", "seed", "error"])
