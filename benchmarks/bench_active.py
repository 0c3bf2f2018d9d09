"""Active learning benchmark: information density in linear time, selection cost per round, labels saved.

Run: ``python -m benchmarks.bench_active`` (or ``python -m benchmarks active``); about 2 minutes on 2 cores.

Set-up (all seeded; one BLAS / OpenMP thread throughout):

- **pools**: ``augment_pool(load_digits(), n, seed=0)``, distorted 8 x 8 digits; features = the 64
  pixels in [0, 1] (also the embeddings of information density and core-set).
- **information density**: :func:`dcai_lab.uncertainty.information_density` (mean cosine similarity
  as ``normalize(z) . mean(normalize(P))``, O(N d)) against the lecture's formula computed
  pairwise (the N x N cosine matrix, as modAL does), in blocks of 1,000 rows so that it fits in
  memory; both in float64, same inputs, measured side by side in one run.
- **selection cost**: one call of each strategy (batch of 10) after a LogisticRegression was fitted
  on 100 random labels; best of 2 calls; the model's ``fit`` is not included.
- **labels to reach an accuracy**: digits split with ``split(load_digits(), train_size=0,
  test_size=0.25, seed=0)`` into a 1,348-digit pool and 449 test digits; 20 random initial labels,
  then rounds of 10; LogisticRegression(max_iter=1000); seeds 0..4.
"""

from __future__ import annotations

import time

import numpy as np

from dcai_lab.active import compare_strategies
from dcai_lab.augment import augment_pool
from dcai_lab.data import load_digits, split
from dcai_lab.strategies import STRATEGIES
from dcai_lab.uncertainty import entropy, information_density

ID_SIZES = (2_000, 5_000, 10_000, 20_000)
SELECT_SIZES = (10_000, 30_000, 100_000)
SEEDS = (0, 1, 2, 3, 4)
TARGETS = (0.90, 0.95)
INITIAL, BATCH, ROUNDS = 20, 10, 60


def pairwise_information_density(probs, z, beta=1.0, block=1000):
    """The lecture's formula with the explicit pairwise cosine matrix (row blocks of ``block``): O(N^2 d)."""
    zn = z / np.linalg.norm(z, axis=1, keepdims=True)
    similarity = np.empty(len(z))
    for start in range(0, len(z), block):
        similarity[start:start + block] = (zn[start:start + block] @ zn.T).mean(axis=1)
    return entropy(probs) * np.maximum(similarity, 0) ** beta


def best_of(fn, repeat: int = 2) -> tuple[float, object]:
    best, out = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def bench_information_density() -> None:
    print("### Information density: linear identity vs pairwise cosine matrix (float64, dim 64)\n")
    print("| N | linear (s) | pairwise (s) | pairwise / linear | full N x N matrix | max abs difference |")
    print("|---:|---:|---:|---:|---:|---:|")
    pool = augment_pool(load_digits(), max(ID_SIZES), seed=0)
    rng = np.random.default_rng(0)
    for n in ID_SIZES:
        z = pool.X[:n].astype(np.float64)
        probs = rng.dirichlet(np.ones(10), size=n)
        fast_s, fast = best_of(lambda: information_density(probs, z))
        slow_s, slow = best_of(lambda: pairwise_information_density(probs, z), repeat=1)
        print(f"| {n:,} | {fast_s:.4f} | {slow_s:.2f} | {slow_s / fast_s:,.0f}x | {n * n * 8 / 2**30:.2f} GiB "
              f"| {np.abs(fast - slow).max():.1e} |", flush=True)


def bench_selection() -> None:
    from sklearn.linear_model import LogisticRegression

    print("\n### Selection seconds per round (batch 10, 100 labels, one strategy call, best of 2)\n")
    names = list(STRATEGIES)
    print("| pool size | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * len(names))
    big = augment_pool(load_digits(), max(SELECT_SIZES), seed=0)
    for n in SELECT_SIZES:
        X, y = big.X[:n], big.y[:n]
        rng = np.random.default_rng(0)
        labeled = np.zeros(n, dtype=bool)
        labeled[rng.choice(n, 100, replace=False)] = True
        model = LogisticRegression(max_iter=1000).fit(X[labeled], y[labeled])
        cells = []
        for name in names:
            seconds, picked = best_of(lambda: STRATEGIES[name](model, X, labeled, BATCH, np.random.default_rng(0)))
            assert len(set(picked.tolist())) == BATCH and not labeled[picked].any()
            cells.append(f"{seconds:.4f}")
        print(f"| {n:,} | " + " | ".join(cells) + " |", flush=True)


def bench_labels_to_reach() -> None:
    _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    names = list(STRATEGIES)
    start = time.perf_counter()
    histories = compare_strategies(names, SEEDS, pool.X, pool.y, test.X, test.y, progress=False,
                                   initial_labeled=INITIAL, batch_size=BATCH, n_rounds=ROUNDS)
    seconds = time.perf_counter() - start
    most = INITIAL + BATCH * ROUNDS
    print(f"\n### Labels to reach a test accuracy on digits ({len(pool):,}-digit pool, {len(test)} test digits, "
          f"{INITIAL} initial + rounds of {BATCH}, up to {most}; mean +- std over {len(SEEDS)} seeds)\n")
    print("| strategy | " + " | ".join(f"labels to {t:.0%}" for t in TARGETS) + f" | accuracy at {most} labels |")
    print("|---|" + "---:|" * (len(TARGETS) + 1))
    for name in names:
        runs = [h for h in histories if h.strategy == name]
        cells = []
        for target in TARGETS:
            needed = [h.labels_to_reach(target) for h in runs]
            reached = [n for n in needed if n is not None]
            cell = f"{np.mean(reached):.0f} +- {np.std(reached):.0f}" if reached else f"> {most}"
            if len(reached) < len(runs):
                cell += f" ({len(reached)} of {len(runs)} seeds reached it)"
            cells.append(cell)
        final = [h.accuracy[-1] for h in runs]
        print(f"| {name} | " + " | ".join(cells) + f" | {np.mean(final):.3f} +- {np.std(final):.3f} |")
    print(f"\n({len(histories)} runs of {ROUNDS + 1} rounds in {seconds:.0f} s)")


def main() -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # one BLAS / OpenMP thread everywhere, as in the loop: comparable timings
        bench_information_density()
        bench_selection()
        bench_labels_to_reach()


if __name__ == "__main__":
    main()
