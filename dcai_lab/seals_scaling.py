"""SEALS's cost against the size of the pool: stored benchmark results, their slopes, the curve (notebook 02, section 13).

``benchmarks/bench_seals_scale.py`` measures, at pool sizes ``n`` of 100,000 to 10,000,000, the
points scored and the selection seconds per round of full-pool MaxEnt and of SEALS + MaxEnt. A cost
that grows like ``c * n^b`` is a straight line of slope ``b`` on log-log axes::

    log10(cost) = log10(c) + b * log10(n)

so :func:`scaling_slopes` fits ``b`` by least squares: ``b = 1`` means the cost follows the pool
(full-pool scoring), ``b = 0`` that it does not depend on it (SEALS's candidate pool follows the labels).

>>> results = [{"pool_size": n, "summary": {"full MaxEnt": {"points_scored": n, "selection_seconds": n / 1e7},
...            "SEALS + MaxEnt": {"points_scored": 7000.0, "selection_seconds": 0.01}}} for n in (10**5, 10**6)]
>>> {m: round(s["points_scored"], 3) for m, s in scaling_slopes(results).items()}
{'full MaxEnt': 1.0, 'SEALS + MaxEnt': 0.0}
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dcai_lab._checks import check_path

__all__ = ["RESULTS_DIR", "load_scaling_results", "scaling_slopes", "plot_seals_scaling", "COSTS"]

RESULTS_DIR = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
COSTS = {"points_scored": "points scored per round", "selection_seconds": "selection seconds per round"}


def load_scaling_results(folder: str | Path = RESULTS_DIR) -> list[dict]:
    """Every ``seals_scale_<n>.json`` in ``folder``, smallest pool first (notebook 02, section 13).

    Parameters
    ----------
    folder : where ``benchmarks/bench_seals_scale.py`` wrote its results.

    Returns
    -------
    list of dict, one per pool size ``n``, sorted by ``n`` (the number in the file name).

    >>> import json, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> for n in (1000, 200):
    ...     _ = (folder / f"seals_scale_{n}.json").write_text(json.dumps({"pool_size": n}))
    >>> [r["pool_size"] for r in load_scaling_results(folder)]
    [200, 1000]
    """
    folder = check_path(folder, "folder", allow_none=False)
    files = sorted(folder.glob("seals_scale_*.json"), key=lambda f: int(f.stem.rsplit("_", 1)[1]))
    if not files:
        raise ValueError(f"no seals_scale_<n>.json in {folder}; run `python -m benchmarks seals_scale`")
    return [json.loads(f.read_text()) for f in files]


def _series(results: list[dict], method: str | None, cost: str | None) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(results, (list, tuple)) or not results or not all(
            isinstance(r, dict) and "pool_size" in r and "summary" in r for r in results):
        raise ValueError("results must be a list of benchmark results (load_scaling_results()), each with "
                         "'pool_size' and 'summary'")
    if method is None:
        return np.empty(0), np.empty(0)
    rows = [(r["pool_size"], r["summary"][method][cost]) for r in results if method in r["summary"]]
    return np.array([n for n, _ in rows], dtype=float), np.array([c for _, c in rows], dtype=float)


def _with_small_batch(results: list[dict]) -> list[dict]:
    """The results with each size's small-batch pass (``"small_batch"``, the same labels in smaller rounds), if
    any, as one more method: ``"SEALS + MaxEnt, <b> labels / round"``."""
    out = []
    for r in results:
        small = r.get("small_batch")
        if isinstance(small, dict) and "SEALS + MaxEnt" in small.get("summary", {}):
            method = f"SEALS + MaxEnt, {small['batch_size']} labels / round"
            r = {**r, "summary": {**r["summary"], method: small["summary"]["SEALS + MaxEnt"]}}
        out.append(r)
    return out


def scaling_slopes(results: list[dict]) -> dict[str, dict[str, float]]:
    """Per method and cost, the slope ``b`` of ``log10(cost)`` against ``log10(pool size)`` (notebook 02, section 13).

    ``b = argmin_b min_a sum_n (log10 cost_n - a - b log10 n)^2``, the least-squares line through
    the measured means; costs that are not positive are left out.

    Parameters
    ----------
    results : a list of benchmark results (:func:`load_scaling_results`), two pool sizes or more.

    Returns
    -------
    ``{method: {"points_scored": b, "selection_seconds": b}}``; a small-batch pass of SEALS in the
    results (``"small_batch"``) is one more method, ``"SEALS + MaxEnt, <b> labels / round"``.

    >>> r = [{"pool_size": n, "summary": {"m": {"points_scored": n ** 0.5, "selection_seconds": 2.0}}}
    ...      for n in (100, 10_000)]
    >>> {cost: round(b, 6) for cost, b in scaling_slopes(r)["m"].items()}
    {'points_scored': 0.5, 'selection_seconds': 0.0}
    """
    _series(results, None, None)
    results = _with_small_batch(results)
    methods = list(dict.fromkeys(m for r in results for m in r["summary"]))
    out: dict[str, dict[str, float]] = {}
    for method in methods:
        out[method] = {}
        for cost in COSTS:
            n, c = _series(results, method, cost)
            keep = c > 0
            if keep.sum() < 2:
                raise ValueError(f"{method}: {cost} needs positive values at two pool sizes or more to fit a slope")
            out[method][cost] = float(np.polyfit(np.log10(n[keep]), np.log10(c[keep]), 1)[0])
    return out


def plot_seals_scaling(results: list[dict]):
    """Log-log curves of points scored and selection seconds per round against the pool size, with fitted slopes.

    One line per method, a small-batch pass of SEALS included (markers: the measured means over
    seeds and rounds; dashed: the fitted power law ``cost = 10^a * n^b`` of :func:`scaling_slopes`;
    dotted, when the results hold a ``"baseline"``: the fastest full-pool scoring's seconds).
    Taught in notebook 02, section 13.

    Parameters
    ----------
    results : a list of benchmark results (:func:`load_scaling_results`), two pool sizes or more.

    Returns
    -------
    matplotlib Figure with two log-log axes (points scored, selection seconds).

    >>> r = [{"pool_size": n, "summary": {"m": {"points_scored": n, "selection_seconds": n / 1e6}}}
    ...      for n in (100, 10_000)]
    >>> fig = plot_seals_scaling(r)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['points scored per round', 'selection seconds per round']
    """
    import matplotlib.pyplot as plt

    slopes, every_method = scaling_slopes(results), _with_small_batch(results)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, (cost, label) in zip(axes, COSTS.items()):
        for method, color in zip(slopes, ["tab:blue", "tab:orange", "tab:green", "tab:purple"]):
            n, c = _series(every_method, method, cost)
            a = np.polyfit(np.log10(n), np.log10(c), 1)
            ax.plot(n, c, "o-", color=color, label=f"{method} (slope {slopes[method][cost]:.2f})")
            ax.plot(n, 10 ** np.polyval(a, np.log10(n)), "--", color=color, alpha=0.5)
        if cost == "selection_seconds" and all("baseline" in r for r in results):  # the honest full-pool round
            n = np.array([r["pool_size"] for r in results], dtype=float)
            fastest = [r["baseline"]["points"] / max(w["points_per_second"] for w in r["baseline"]["ways"].values())
                       for r in results]
            ax.plot(n, fastest, "s:", color="tab:gray", label="fastest full-pool scoring (baseline)")
        ax.set(xscale="log", yscale="log", xlabel="pool size (items)", ylabel=label)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.suptitle("cost of a selection round against the pool size (log-log)")
    fig.tight_layout()
    return fig
