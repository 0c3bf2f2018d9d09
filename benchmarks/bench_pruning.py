"""Data pruning benchmark: test error vs kept fraction, per pruning metric, and the fitted scaling laws.

Run: ``python -m benchmarks pruning`` (or ``python -m benchmarks.bench_pruning``); about 2.5 minutes on one core.

Set-up (all seeded):

- **digits**: scikit-learn's 1,797 digits, split into 1,348 train / 449 test digits with
  ``split(load_digits(), train_size=0, test_size=0.25, seed=0)``: the split the shipped encoders
  were trained on (``dcai_lab.encoder.CHECKPOINT_SPLIT``), so they never saw a test digit.
- **pool**: ``augment_pool(train, 20000)``: 20,000 distorted copies of the *train* digits only;
  the test set is the same 25% of original digits, never augmented (no leakage).
- **metrics**, computed on the training set (digits) or the pool:
  prototype (spherical k-means, 10 clusters) on the self-supervised (``ssl``) and on the
  supervised embeddings of ``dcai_lab.embed``, EL2N (MLP, early in training), random. Each
  kept "hard" (largest scores) or "easy" (smallest scores), and both again per class
  (``class_balanced=True``: every class keeps the same fraction of its examples).
- **classifier**: ``LogisticRegression(max_iter=1000)`` on the pixels of the kept examples.
- **seeds**: 3; the seed changes the k-means initialisation, the EL2N models and the
  random scores (the classifier itself is deterministic). Cells are mean ± std (ddof=1) test error in %.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from dcai_lab.augment import augment_pool
from dcai_lab.data import Dataset, load_digits, split
from dcai_lab.embed import embed
from dcai_lab.encoder import CHECKPOINT_SPLIT
from dcai_lab.pruning import el2n_scores, prototype_scores, random_scores, select
from dcai_lab.perceptron import perceptron_teacher_student, pruning_frontier
from dcai_lab.scaling import fit_power_law, learning_curve

FRACTIONS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)
SEEDS = (0, 1, 2)
POOL_SIZE = 20_000
N_CLUSTERS = 10


def train_classifier(X: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(max_iter=1000).fit(X, y)


def train_test(digits: Dataset) -> tuple[Dataset, Dataset]:
    """The shipped encoders' split: 1,348 training digits, 449 test digits they never saw."""
    _, train, test = split(digits, **CHECKPOINT_SPLIT)  # train_size=0: the "pool" part is everything but the test set
    return train, test


def el2n_epochs(n: int) -> int:
    """About as many gradient steps as 10 epochs on the 1,347 training digits (early in training)."""
    return max(1, round(10 * 1347 / n))


def el2n_steps(n: int) -> int:
    """Mini-batch steps of one EL2N model (batches of 128)."""
    return el2n_epochs(n) * -(-n // 128)


def all_scores(train: Dataset, emb: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    scores = {f"prototype[{name}]": prototype_scores(e, N_CLUSTERS, seed=seed) for name, e in emb.items()}
    scores["el2n"] = el2n_scores(train.X, train.y, n_models=3, epochs=el2n_epochs(len(train)), seed=10 * seed)
    scores["random"] = random_scores(len(train), seed=seed)
    return scores


def pruning_table(train: Dataset, test: Dataset, emb: dict[str, np.ndarray]) -> dict[tuple[str, float], list]:
    """Test error for every (metric-keep, fraction), one entry per seed."""
    errors: dict[tuple[str, float], list] = {}
    full_error = 1 - train_classifier(train.X, train.y).score(test.X, test.y)  # f = 1: the same for all
    for seed in SEEDS:
        for metric, scores in all_scores(train, emb, seed).items():
            variants = [("hard", False)] if metric == "random" else [("hard", False), ("easy", False),
                                                                   ("hard", True), ("easy", True)]
            for keep, balanced in variants:
                name = "random" if metric == "random" else f"{metric} {keep}{' (class-balanced)' * balanced}"
                for f in FRACTIONS:
                    if f == 1:
                        errors.setdefault((name, f), []).append(full_error)
                        continue
                    idx = select(scores, f, keep=keep, class_balanced=balanced, labels=train.y)
                    model = train_classifier(train.X[idx], train.y[idx])
                    errors.setdefault((name, f), []).append(1 - model.score(test.X, test.y))
    return errors


def print_pruning_table(title: str, errors: dict, n: int) -> None:
    names = list(dict.fromkeys(name for name, _ in errors))
    print(f"\n### {title}: test error (%) vs kept fraction, n = {n}\n")
    print("| metric | " + " | ".join(f"{f:.0%}" for f in FRACTIONS) + " |")
    print("|---" * (len(FRACTIONS) + 1) + "|")
    for name in names:
        cells = []
        for f in FRACTIONS:
            e = 100 * np.array(errors[name, f])
            cells.append(f"{e.mean():.2f} ± {e.std(ddof=1):.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    best = {f: min(names, key=lambda m: np.mean(errors[m, f])) for f in FRACTIONS if f < 1}
    print("\nbest metric per fraction: " + ", ".join(f"{f:.0%}: {m}" for f, m in best.items()))


def print_fits(title: str, errors: dict, n: int) -> None:
    names = list(dict.fromkeys(name for name, _ in errors))
    print(f"\n### {title}: power law error = a·n^(-b) + c over the kept sizes n = f·{n}\n")
    print("| metric | a | b | c (%) | R² (log error) |")
    print("|---|---|---|---|---|")
    for name in names:
        sizes = [round(f * n) for f in FRACTIONS for _ in errors[name, f]]
        errs = [e for f in FRACTIONS for e in errors[name, f]]
        try:
            fit = fit_power_law(sizes, np.maximum(errs, 1e-4))
            flag = " (no power law: b at its bound)" if fit.b > 9.9 else ""
            print(f"| {name} | {fit.a:.3g} | {fit.b:.3f}{flag} | {100 * fit.c:.2f} | {fit.r2:.3f} |")
        except ValueError as exc:
            print(f"| {name} | fit failed: {exc} | | | |")
    print("\nA larger b for a pruned curve does not mean it beats the power law: hard pruning is very bad at small "
          "kept sizes,\nwhich steepens the fit. Compare errors at the same kept size (the table above).")


def scaling_curve(pool: Dataset, test: Dataset) -> None:
    sizes = [50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000]
    start = time.perf_counter()
    curve = learning_curve(train_classifier, pool.X, pool.y, sizes, seeds=SEEDS, X_test=test.X, y_test=test.y)
    mean = curve.groupby("size")["error"].agg(["mean", "std"])
    print(f"\n### Scaling curve: random subsets of the pool, LogisticRegression ({time.perf_counter() - start:.0f} s)\n")
    print("| n | " + " | ".join(str(s) for s in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    print("| error (%) | " + " | ".join(f"{100 * m:.2f} ± {100 * s:.2f}" for m, s in mean.values) + " |")
    fit = fit_power_law(curve["size"], np.maximum(curve["error"], 1e-4))
    print(f"\nfit: a = {fit.a:.3g}, b = {fit.b:.3f}, c = {100 * fit.c:.2f}%, R² (log error) = {fit.r2:.3f}, "
          f"RMSE = {100 * fit.rmse:.2f}%")


def perceptron_summary() -> None:
    start = time.perf_counter()
    results = perceptron_teacher_student(N=100, alphas=(1, 2, 4, 8, 16), fractions=(0.2, 0.4, 0.6, 0.8, 1.0),
                                         n_seeds=3, seed=0)
    table = results.groupby(["fraction", "keep", "alpha"])["error"].mean().unstack("alpha")
    print(f"\n### Perceptron teacher-student (N = 100, perfect probe, 3 seeds, "
          f"{time.perf_counter() - start:.0f} s): test error (%) vs α = P/N\n")
    alphas = list(table.columns)
    print("| f | keep | " + " | ".join(f"α={a:g}" for a in alphas) + " |")
    print("|---|---" + "|---" * len(alphas) + "|")
    for (f, keep), row in table.iterrows():
        if f == 1 and keep == "easy":
            continue
        print(f"| {f:g} | {'all' if f == 1 else keep} | " + " | ".join(f"{100 * v:.1f}" for v in row) + " |")
    full = results[results["fraction"] == 1].drop_duplicates(["seed", "alpha"])
    fit = fit_power_law(full["alpha"], full["error"])
    print(f"\nno pruning (f = 1): error = {fit.a:.3f}·α^(-{fit.b:.2f}) + {fit.c:.4f} (R² {fit.r2:.3f}). "
          "Keeping the hard 20% of α = 16 (α_prune = 3.2): "
          f"{100 * table.loc[(0.2, 'hard'), 16.0]:.1f}% vs {100 * fit.predict(3.2):.1f}% for 3.2·N unpruned "
          "examples (the power law), i.e. better than power-law scaling.")


def perceptron_frontier() -> None:
    """Same kept size α_kept·N: no pruning vs the hard fraction f of a pool α_kept/f·N; best f per α_kept."""
    start = time.perf_counter()
    fractions = (1.0, 0.5, 0.25, 0.125, 0.0625)
    frontier = pruning_frontier(N=100, alphas_kept=(1, 2, 4, 8), fractions=fractions, n_seeds=3, seed=0)
    table = frontier.pivot(index="fraction", columns="alpha_kept", values="error").sort_index(ascending=False)
    print(f"\n### Perceptron, f shrinking as data grows (N = 100, perfect probe, keep hard, 3 seeds, "
          f"{time.perf_counter() - start:.0f} s): test error (%) vs α_kept = examples trained on / N\n")
    print("| f (pool = α_kept/f) | " + " | ".join(f"α_kept={a:g}" for a in table.columns) + " |")
    print("|---" * (len(table.columns) + 1) + "|")
    for f, row in table.iterrows():
        print(f"| {f:g}{' (no pruning)' * (f == 1)} | " + " | ".join(f"{100 * v:.2f}" for v in row) + " |")
    best = frontier[frontier["best"]]
    cells = [f"**{100 * e:.2f}** (f = {f:g})" for f, e in best[["fraction", "error"]].values]
    print("| **best f** | " + " | ".join(cells) + " |")
    full = frontier[frontier["fraction"] == 1]
    fit = fit_power_law(full["alpha_kept"], full["error"])
    slope = np.polyfit(np.log(best["alpha_kept"]), np.log(best["error"]), 1)[0]
    last = best["alpha_kept"].iloc[-1]
    print(f"\nno pruning: error = {fit.a:.3f}·α_kept^(-{fit.b:.2f}) + {fit.c:.4f} (R² {fit.r2:.3f}); "
          f"best f: log-log slope {slope:.2f} against -{fit.b:.2f}, {100 * best['error'].iloc[-1]:.2f}% at "
          f"α_kept = {last:g} against {100 * fit.predict(last):.2f}% on the power law.")


def main() -> None:
    start = time.perf_counter()
    digits = load_digits()
    train, test = train_test(digits)
    pool = augment_pool(train, POOL_SIZE, seed=0)
    print(f"digits: train {len(train)}, test {len(test)} (original digits, never augmented); "
          f"pool: {len(pool)} distorted copies of the train digits. Classifier: LogisticRegression on pixels. "
          f"Seeds {SEEDS}. EL2N: 3 MLPs, {el2n_epochs(len(train))} epochs on digits, {el2n_epochs(len(pool))} on "
          f"the pool ({el2n_steps(len(train))} and {el2n_steps(len(pool))} mini-batch steps: early in training).\n")

    for data, name in ((train, "digits"), (pool, "pool")):
        emb = {method: embed(data, method=method, normalize=True, progress=False) for method in ("ssl", "supervised")}
        errors = pruning_table(data, test, emb)
        print_pruning_table(f"{name} ({len(data)} training examples)", errors, len(data))
        print_fits(f"{name}", errors, len(data))
        print(f"\n({name}: {time.perf_counter() - start:.0f} s so far)")

    scaling_curve(pool, test)
    perceptron_summary()
    perceptron_frontier()
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
