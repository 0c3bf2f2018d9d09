"""The perceptron theory of data pruning (Sorscher et al., 2022; notebook 03, section 2).

A teacher perceptron ``T`` labels random inputs ``x ~ N(0, I_N)`` with ``sign(T . x)``; a
max-margin student ``J`` learns from ``P = alpha N`` of them. Its test error is exactly the
angle between the two, ``arccos(J.T / |J||T|) / pi``. A pruning metric ranks the inputs by
margin ``|J_probe . x|`` (small = hard, large = easy) and keeps a fraction ``f`` from one end.

- :func:`perceptron_teacher_student`: the error for every ``alpha``, ``f`` and end;
  :func:`plot_perceptron_pruning` draws it. Keep easy examples when data is scarce, hard
  ones when it is abundant.
- :func:`pruning_frontier`: at the same number of kept examples, the best ``f`` of a larger
  pool; with a good metric the best ``f`` shrinks as data grows and the error falls faster
  than the power law of unpruned data. :func:`plot_pruning_frontier` draws it.

>>> round(generalization_error(np.array([1.0, 0.0]), np.array([1.0, 1.0])), 6)  # 45 degrees apart
0.25
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np

from dcai_lab._checks import check_bool, check_choice, check_float, check_int, check_matrix, check_seed, \
    check_vector, some
from dcai_lab.scaling import fit_power_law

__all__ = ["generalization_error", "train_max_margin", "perceptron_teacher_student", "plot_perceptron_pruning",
           "pruning_frontier", "plot_pruning_frontier", "PROBES"]

PROBES = ("teacher", "student")


def generalization_error(J: np.ndarray, T: np.ndarray) -> float:
    """Exact test error of student ``J`` against teacher ``T`` for Gaussian inputs: ``arccos(R) / pi``.

    ``R = J.T / (|J| |T|)`` is the cosine of the angle between them; the two disagree on
    the fraction ``angle / pi`` of all inputs ``x ~ N(0, I)``.

    >>> round(generalization_error(np.array([1.0, 0.0]), np.array([1.0, 1.0])), 6)  # 45 degrees
    0.25
    """
    J, T = check_vector(J, "J"), check_vector(T, "T")
    if len(J) != len(T) or not np.any(J) or not np.any(T):
        raise ValueError(f"J and T must be non-zero vectors of the same length, got lengths {len(J)} and {len(T)}")
    return _generalization_error(J, T)


def _generalization_error(J: np.ndarray, T: np.ndarray) -> float:
    """:func:`generalization_error` of checked vectors."""
    R = float(J @ T / (np.linalg.norm(J) * np.linalg.norm(T)))
    return float(np.arccos(np.clip(R, -1.0, 1.0)) / np.pi)


def train_max_margin(X: np.ndarray, y: np.ndarray, C: float = 100.0) -> np.ndarray:
    """Weights of the max-margin perceptron (no bias) on ``(X, y)``, ``y`` in {-1, +1}.

    A linear SVM with hinge loss and a large ``C`` (scikit-learn's ``LinearSVC``,
    ``fit_intercept=False``): on separable data this is the hard-margin solution,
    the student of Sorscher et al.'s analysis. With one class only it falls back to the
    Hebbian rule ``J = sum_i y_i x_i``.
    """
    X = check_matrix(X, "X", what="(P, N), one input per row")
    y = check_vector(y, "y", n=len(X))
    if not np.isin(y, (-1, 1)).all():
        raise ValueError(f"y must hold the labels -1 and +1 (the sign of the teacher's output), got "
                         f"{some(y[~np.isin(y, (-1, 1))])}")
    return _train_max_margin(X, y, check_float(C, "C", min=0, min_open=True))


def _train_max_margin(X: np.ndarray, y: np.ndarray, C: float = 100.0) -> np.ndarray:
    """:func:`train_max_margin` of checked input."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    if len(np.unique(y)) < 2:
        return (y[:, None] * X).sum(axis=0)
    svm = LinearSVC(C=C, loss="hinge", fit_intercept=False, dual=True, max_iter=20000, tol=1e-4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        svm.fit(X, y)
    return svm.coef_[0]


def perceptron_teacher_student(N: int = 100, alphas: Sequence[float] = (1, 2, 4, 8, 16),
                               fractions: Sequence[float] = (0.2, 0.4, 0.6, 0.8, 1.0),
                               keep: str | Sequence[str] = ("easy", "hard"), probe: str = "teacher",
                               probe_angle: float = 0.0, n_seeds: int = 3, seed: int = 0):
    """Sorscher et al.'s perceptron experiment: test error after pruning by margin.

    For every seed and every ``alpha`` in ``alphas``:

    1. a random teacher ``T ~ N(0, I_N)`` labels ``P = round(alpha * N)`` inputs
       ``x ~ N(0, I_N)`` with ``sign(T . x)``;
    2. a probe ranks the inputs by margin ``|J_probe . x|``: small margin = hard, large = easy.
       ``probe="teacher"`` (the paper's theory) uses the teacher rotated by
       ``probe_angle`` radians in a random direction (0 = a perfect pruning metric);
       ``probe="student"`` uses a max-margin student trained on all ``P`` examples
       (what you could do in practice);
    3. for every fraction ``f`` and every ``keep`` in ``("easy", "hard")``, the
       ``round(f * P)`` easiest or hardest examples train a max-margin student ``J``
       (:func:`train_max_margin`), and its exact test error is
       ``arccos(J.T / |J||T|) / pi`` (:func:`generalization_error`; no test set needed).

    Returns
    -------
    pandas.DataFrame, one row per (seed, alpha, fraction, keep), with columns ``alpha``
    (``P / N``, all the data), ``fraction``, ``keep``, ``alpha_prune`` (``f * P / N``,
    the examples actually trained on: the paper's x-axis), ``seed`` and ``error``.
    With ``f = 1`` easy and hard are the same (all the data).

    ``keep`` is ``"easy"``, ``"hard"``, ``"both"`` or a list of them. ``N``, the number of
    seeds and the largest alpha set the run time. Notebook 03 shows what the defaults give.
    """
    import pandas as pd

    keeps, alphas, fractions = _check_theory(N, alphas, fractions, keep, probe, probe_angle, n_seeds, seed)

    rows = []
    for s in range(n_seeds):
        for alpha in alphas:
            rng = np.random.default_rng([seed, s, int(round(alpha * 1000))])
            teacher = rng.standard_normal(N)
            P = max(1, int(round(alpha * N)))
            X = rng.standard_normal((P, N))
            y = np.where(X @ teacher >= 0, 1.0, -1.0)
            if probe == "teacher":
                J_probe = _rotate(teacher, probe_angle, rng)
            else:
                J_probe = _train_max_margin(X, y)
            easy_first = np.argsort(-np.abs(X @ J_probe), kind="stable")  # largest margin first
            all_data_error = None  # f = 1 keeps everything, easy or hard: train once
            for f in fractions:
                n_keep = int(round(f * P))
                for k in keeps:
                    idx = easy_first[:n_keep] if k == "easy" else easy_first[P - n_keep:]
                    if n_keep == 0:
                        error = 0.5  # nothing to learn from: a coin flip
                    elif n_keep == P and all_data_error is not None:
                        error = all_data_error
                    else:
                        error = _generalization_error(_train_max_margin(X[idx], y[idx]), teacher)
                    if n_keep == P:
                        all_data_error = error
                    rows.append({"alpha": alpha, "fraction": f, "keep": k, "alpha_prune": n_keep / N,
                                 "seed": s, "error": error})
    return pd.DataFrame(rows)


def _check_theory(N, alphas, fractions, keep, probe, probe_angle, n_seeds, seed, alphas_name="alphas"):
    """The checks of :func:`perceptron_teacher_student` and :func:`pruning_frontier`: keeps, alphas, fractions."""
    keeps = ["easy", "hard"] if keep == "both" else [keep] if isinstance(keep, str) else (
        list(keep) if isinstance(keep, (list, tuple)) else None)
    if not keeps or any(not isinstance(k, str) or k not in ("easy", "hard") for k in keeps):
        raise ValueError(f"keep must be 'easy', 'hard', 'both' or a list of them, got {keep!r}")
    check_choice(probe, "probe", PROBES)
    check_int(N, "N", min=2, hint=" (the input dimension)")
    check_float(probe_angle, "probe_angle", min=0, max=np.pi, hint=" (radians)")
    check_int(n_seeds, "n_seeds", min=1)
    check_seed(seed)
    alphas, fractions = _values(alphas, alphas_name), _values(fractions, "fractions")
    alphas = [check_float(a, alphas_name, min=0, min_open=True, hint=" (examples per dimension)") for a in alphas]
    fractions = [check_float(f, "fractions", min=0, max=1, min_open=True) for f in fractions]
    if not alphas or not fractions:
        raise ValueError(f"{alphas_name} and fractions must hold at least one value each, got {alphas} and "
                         f"{fractions}")
    return keeps, alphas, fractions


def _check_frame(frame, name: str, columns, what: str) -> None:
    """A pandas DataFrame with the given columns, at least one row."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame) or len(frame) == 0:
        raise ValueError(f"{name} must be {what} (a non-empty DataFrame), got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}: pass {what}")


def _values(values, name: str) -> list:
    """A sequence of numbers as a list (a single number, a string or a mapping is refused)."""
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a sequence of numbers, e.g. (1, 2, 4), got {values!r}")
    return list(values)


def _rotate(v: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """``v`` (normalised) turned by ``angle`` radians towards a random direction orthogonal to it."""
    v = v / np.linalg.norm(v)
    u = rng.standard_normal(len(v))
    u -= (u @ v) * v
    return np.cos(angle) * v + np.sin(angle) * u / np.linalg.norm(u)


def plot_perceptron_pruning(results, fit_f1: bool = True):
    """Plot :func:`perceptron_teacher_student` results: mean test error vs ``alpha_prune`` (log scale).

    Two panels, keep hard (left) and keep easy (right); one colour per fraction ``f``;
    ``f = 1`` (no pruning) in black on both, with its fitted power law (dotted) when
    ``fit_f1``. Returns the figure.
    """
    import matplotlib.pyplot as plt

    _check_frame(results, "results", ("alpha", "fraction", "keep", "alpha_prune", "error"),
                 "the DataFrame perceptron_teacher_student returns")
    fit_f1 = check_bool(fit_f1, "fit_f1")
    mean = results.groupby(["fraction", "keep", "alpha"], as_index=False)[["alpha_prune", "error"]].mean()
    fractions = sorted(mean["fraction"].unique())
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(fractions)))
    keeps = [k for k in ("hard", "easy") if k in set(mean["keep"])]
    fig, axes = plt.subplots(1, len(keeps), figsize=(5 * len(keeps), 3.8), sharey=True, squeeze=False)
    full = mean[mean["fraction"] == 1].drop_duplicates("alpha").sort_values("alpha")
    fit = fit_power_law(full["alpha_prune"], full["error"]) if fit_f1 and len(full) >= 3 else None
    for ax, k in zip(axes[0], keeps):
        for f, color in zip(fractions, colors):
            part = mean[(mean["fraction"] == f) & (mean["keep"] == k)].sort_values("alpha_prune")
            ax.plot(part["alpha_prune"], part["error"], marker="o", ms=3, color="black" if f == 1 else color,
                    label="f = 1 (all data)" if f == 1 else f"f = {f:g}")
        if fit is not None:
            grid = np.linspace(full["alpha_prune"].min(), full["alpha_prune"].max(), 50)
            ax.plot(grid, fit.predict(grid), ":", color="gray", label=f"power law fit of f = 1, b = {fit.b:.2f}")
        ax.set_yscale("log")
        ax.set_xlabel("α_prune = examples kept / N")
        ax.set_title(f"keep the {k} examples")
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("test error")
    fig.suptitle("perceptron teacher-student: pruning by margin")
    fig.tight_layout()
    return fig


def pruning_frontier(N: int = 50, alphas_kept: Sequence[float] = (1, 2, 4, 8),
                     fractions: Sequence[float] = (1.0, 0.5, 0.25, 0.125), keep: str = "hard",
                     probe: str = "teacher", probe_angle: float = 0.0, n_seeds: int = 5, seed: int = 0):
    """Test error at the same number of kept examples: no pruning vs the best kept fraction ``f``.

    For every ``alpha_kept`` (examples trained on, per dimension) and every fraction ``f``,
    a pool of ``alpha = alpha_kept / f`` examples per dimension is pruned to its ``keep``
    fraction ``f`` by :func:`perceptron_teacher_student`, so every run trains on
    ``alpha_kept * N`` examples (``f = 1``: no pruning). The *frontier* (Sorscher et al.'s
    Pareto frontier) takes, for every ``alpha_kept``, the fraction with the lowest mean error::

        error*(alpha_kept) = min over f of error(pool alpha = alpha_kept / f, keep fraction f)

    Without pruning the error falls as a power law in ``alpha_kept``; with a good metric the
    best ``f`` shrinks as ``alpha_kept`` grows (a larger pool pruned harder) and the frontier
    falls faster than that power law.

    Returns
    -------
    pandas.DataFrame, one row per (alpha_kept, fraction): ``alpha_kept``, ``fraction``,
    ``alpha`` (the pool, ``alpha_kept / f``), ``error`` (mean over ``n_seeds`` seeds) and
    ``best`` (True on the frontier: the lowest error of its ``alpha_kept``).
    ``fractions`` must include 1 (the unpruned reference). Notebook 03 shows what the defaults give.

    >>> frontier = pruning_frontier(N=20, alphas_kept=(1, 4), fractions=(1.0, 0.25), n_seeds=1)
    >>> frontier[["alpha_kept", "fraction", "alpha"]].values.tolist()
    [[1.0, 1.0, 1.0], [1.0, 0.25, 4.0], [4.0, 1.0, 4.0], [4.0, 0.25, 16.0]]
    >>> frontier[frontier["best"]]["fraction"].tolist()  # no pruning wins at 1 N, the hard 25% of 16 N at 4 N
    [1.0, 0.25]
    """
    import pandas as pd

    check_choice(keep, "keep", ("hard", "easy"))
    _, alphas_kept, fractions = _check_theory(N, alphas_kept, fractions, keep, probe, probe_angle, n_seeds, seed,
                                              alphas_name="alphas_kept")
    if 1.0 not in fractions:
        raise ValueError(f"fractions must include 1.0 (no pruning, the reference), got {fractions}")
    runs = []
    for f in fractions:
        run = perceptron_teacher_student(N, alphas=[a / f for a in alphas_kept], fractions=(f,), keep=keep,
                                         probe=probe, probe_angle=probe_angle, n_seeds=n_seeds, seed=seed)
        run["alpha_kept"] = np.round(run["alpha"] * f, 9)  # a / f * f: undo the floating-point round trip
        runs.append(run)
    mean = (pd.concat(runs).groupby(["alpha_kept", "fraction"], as_index=False, sort=False)
            .agg(alpha=("alpha", "first"), error=("error", "mean"))
            .sort_values(["alpha_kept", "fraction"], ascending=[True, False], ignore_index=True))
    mean["best"] = mean["error"] == mean.groupby("alpha_kept")["error"].transform("min")
    mean["best"] &= ~mean.duplicated(["alpha_kept", "best"])  # a tie: keep the largest f
    return mean


def plot_pruning_frontier(frontier, ax=None):
    """Plot :func:`pruning_frontier`: test error vs ``alpha_kept`` on log-log axes.

    Black: no pruning (``f = 1``) with its power-law fit (:func:`fit_power_law`, dotted);
    thin lines: each fixed fraction ``f``; red: the frontier (best ``f`` per ``alpha_kept``,
    labelled with that ``f``). Returns the figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4.2))
    _check_frame(frontier, "frontier", ("alpha_kept", "fraction", "error", "best"),
                 "the DataFrame pruning_frontier returns")
    fractions = sorted(frontier["fraction"].unique(), reverse=True)
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(fractions)))
    for f, color in zip(fractions[1:], colors[1:]):
        part = frontier[frontier["fraction"] == f]
        ax.plot(part["alpha_kept"], part["error"], lw=0.8, alpha=0.6, color=color, label=f"f = {f:g}")
    full = frontier[frontier["fraction"] == 1]
    ax.plot(full["alpha_kept"], full["error"], "o", color="black", label="no pruning (f = 1)")
    if len(full) >= 3:
        fit = fit_power_law(full["alpha_kept"], full["error"])
        grid = np.geomspace(full["alpha_kept"].min(), full["alpha_kept"].max(), 50)
        ax.plot(grid, fit.predict(grid), ":", color="black",
                label=f"power law {fit.a:.3f}·α^(-{fit.b:.2f}) + {fit.c:.3f}")
    best = frontier[frontier["best"]]
    ax.plot(best["alpha_kept"], best["error"], "o-", color="tab:red", lw=2, label="best f per α_kept")
    for a, e, f in best[["alpha_kept", "error", "fraction"]].values:
        ax.annotate(f"f = {f:g}", (a, e), textcoords="offset points", xytext=(4, 4), fontsize=8, color="tab:red")
    ax.set(xscale="log", yscale="log", xlabel="α_kept = examples trained on / N", ylabel="test error",
           title="pruning a larger pool vs no pruning, same number of kept examples")
    ticks = sorted(frontier["alpha_kept"].unique())
    ax.set_xticks(ticks, labels=[f"{a:g}" for a in ticks])
    ax.minorticks_off()
    ax.legend(fontsize=7)
    return ax.figure
