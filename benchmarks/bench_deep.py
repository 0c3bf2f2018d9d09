"""Deep active learning benchmark: side by side with scikit-activeml, the cost of a round, learning curves.

Run: ``python -m benchmarks.bench_deep`` (or ``python -m benchmarks deep``); ten to twenty minutes on 2 cores
(BatchBALD is most of it).

Set-up (all seeded; one BLAS / OpenMP / torch thread throughout):

- **digits**: :func:`dcai_lab.data.course_split`, a 1,348-digit pool and 449 test digits; features = the 64
  pixels in [0, 1]. Larger pools: ``augment_pool(load_digits(), n, seed=0)``.
- **side by side** (needs scikit-activeml, ``pip install --no-deps scikit-activeml makefun``; skipped with a
  message otherwise): on the same inputs, for seeds 0..4 (40 random labels each), the kit's strategy and
  scikit-activeml's query strategy pick a batch of 10 from the unlabeled pool. Query by committee: a
  :class:`dcai_lab.committee.Committee` of 5 logistic regressions whose fitted members are handed to
  ``QueryByCommittee(method="vote_entropy" / "KL_divergence")`` unchanged. BALD: the MC-dropout samples of
  one :class:`dcai_lab.cnn.CNNClassifier` (T = 20) handed to ``GreedyBALD``; BatchBALD: the same samples,
  a batch of 4, exact joint entropies on both sides (``max_configs = n_MC_samples = 1,000``). "Picks agree"
  compares the picked ids (as sets; for vote entropy, whose scores tie, the picked items' scores); seconds
  are one query each, best of 3.
- **cost of a round**: the CNN on 200 labels picked by entropy sampling: a fit from scratch and a warm-started
  refit after the last 20 labels (3 seeds); selection seconds per strategy (batch 20) on pools of 1,348, 10,000
  and 100,000 digits.
- **learning curves**: 20 random labels, 9 rounds of 20 (200 labels), seeds 0..4, the CNN with warm start;
  vote entropy runs a committee of 5 logistic regressions (its own model).
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.bench_active import best_of
from dcai_lab.active import compare_strategies, run_active_learning
from dcai_lab.augment import augment_pool
from dcai_lab.badge import badge_sampling
from dcai_lab.bald import bald_sampling, bald_scores, batch_bald_sampling
from dcai_lab.cnn import CNNClassifier
from dcai_lab.committee import Committee, consensus_kl, consensus_kl_sampling, vote_entropy, vote_entropy_sampling
from dcai_lab.data import course_split, load_digits
from dcai_lab.strategies import STRATEGIES

SEEDS = (0, 1, 2, 3, 4)
TARGETS = (0.90, 0.95)
INITIAL, BATCH, ROUNDS = 20, 20, 9
SELECT_SIZES = (10_000, 100_000)


# --------------------------------------------------------------------------- side by side with scikit-activeml


def skactiveml_adapters():
    """Two scikit-activeml classifiers that wrap an already fitted model (their fit does nothing)."""
    from skactiveml.base import SkactivemlClassifier

    class Fitted(SkactivemlClassifier):
        """A fitted scikit-learn classifier as a scikit-activeml one."""

        def __init__(self, model=None, classes=None, missing_label=np.nan):
            super().__init__(classes=classes, missing_label=missing_label)
            self.model = model

        def fit(self, X, y, sample_weight=None):
            self.classes_ = self.model.classes_
            return self

        def predict_proba(self, X):
            return self.model.predict_proba(X)

        def predict(self, X):
            return self.model.predict(X)

    class Sampled(Fitted):
        """... whose ``sample_proba`` gives the model's MC-dropout samples (T, n, C)."""

        def sample_proba(self, X):
            return self.model.predict_proba_samples(X)

    return Fitted, Sampled


def bench_side_by_side() -> None:
    try:
        from skactiveml.pool import BatchBALD, GreedyBALD, QueryByCommittee
    except ImportError:
        print("### Side by side with scikit-activeml: skipped, scikit-activeml is not installed "
              "(pip install --no-deps scikit-activeml makefun)\n")
        return
    import skactiveml

    Fitted, Sampled = skactiveml_adapters()
    pool, _ = course_split()
    rows = {name: {"agree": 0, "diff": 0.0, "kit": [], "peer": []}
            for name in ("vote entropy", "consensus KL", "BALD", "BatchBALD (batch 4)")}
    for seed in SEEDS:
        labeled = np.zeros(len(pool), dtype=bool)
        labeled[np.random.default_rng(seed).choice(len(pool), 40, replace=False)] = True
        ids = np.flatnonzero(~labeled)
        y = np.where(labeled, pool.y, np.nan)
        committee = Committee(n_members=5, random_state=seed).fit(pool.X[labeled], pool.y[labeled])
        members = [Fitted(m, classes=committee.classes_).fit(None, None) for m in committee.members_]
        cnn = CNNClassifier(random_state=seed).fit(pool.X[labeled], pool.y[labeled])
        sampler = Sampled(cnn, classes=cnn.classes_).fit(None, None)
        member_samples = committee.predict_proba_samples(pool.X[ids])
        mc_samples = cnn.predict_proba_samples(pool.X[ids])
        cases = {
            "vote entropy": (lambda: vote_entropy_sampling(committee, pool.X, labeled, 10, np.random.default_rng(0)),
                             lambda: QueryByCommittee(method="vote_entropy", random_state=0).query(
                                 pool.X, y, ensemble=members, fit_ensemble=False, candidates=ids, batch_size=10,
                                 return_utilities=True),
                             vote_entropy(member_samples.argmax(axis=2), 10)),
            "consensus KL": (lambda: consensus_kl_sampling(committee, pool.X, labeled, 10, np.random.default_rng(0)),
                             lambda: QueryByCommittee(method="KL_divergence", random_state=0).query(
                                 pool.X, y, ensemble=members, fit_ensemble=False, candidates=ids, batch_size=10,
                                 return_utilities=True),
                             consensus_kl(member_samples)),
            "BALD": (lambda: bald_sampling(cnn, pool.X, labeled, 10, np.random.default_rng(0)),
                     lambda: GreedyBALD(sample_predictions_method_name="sample_proba", random_state=0).query(
                         pool.X, y, ensemble=sampler, fit_ensemble=False, candidates=ids, batch_size=10,
                         return_utilities=True),
                     bald_scores(mc_samples)),
            "BatchBALD (batch 4)": (
                lambda: batch_bald_sampling(cnn, pool.X, labeled, 4, np.random.default_rng(0), max_configs=1000),
                lambda: BatchBALD(n_MC_samples=1000, sample_predictions_method_name="sample_proba",
                                  random_state=0).query(pool.X, y, ensemble=sampler, fit_ensemble=False,
                                                        candidates=ids, batch_size=4, return_utilities=True),
                None),
        }
        for name, (kit, peer, scores) in cases.items():
            kit_s, mine = best_of(kit, repeat=3)
            peer_s, (theirs, utilities) = best_of(peer, repeat=3)
            row = rows[name]
            row["kit"].append(kit_s)
            row["peer"].append(peer_s)
            if scores is None:  # BatchBALD: the picks themselves
                row["agree"] += mine.tolist() == theirs.tolist()
                continue
            position = np.searchsorted(ids, mine), np.searchsorted(ids, theirs)
            same = set(mine.tolist()) == set(theirs.tolist())
            if name == "vote entropy":  # ties: the picked items' scores must be the same
                same = np.allclose(np.sort(scores[position[0]]), np.sort(scores[position[1]]))
            row["agree"] += same
            row["diff"] = max(row["diff"], float(np.abs(utilities[0][ids] - scores).max()))
    print(f"### Side by side with scikit-activeml {skactiveml.__version__} (batch of 10 from 1,308 unlabeled digits, "
          f"{len(SEEDS)} seeds)\n")
    print("| method | picks agree | max score difference | kit (s) | scikit-activeml (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, row in rows.items():
        diff = "—" if name.startswith("BatchBALD") else f"{row['diff']:.1e}"
        print(f"| {name} | {row['agree']} of {len(SEEDS)} | {diff} | {np.median(row['kit']):.4f} "
              f"| {np.median(row['peer']):.4f} |", flush=True)


# --------------------------------------------------------------------------- the cost of a round


def bench_round_cost() -> None:
    pool, test = course_split()
    CNNClassifier().fit(pool.X[:20], pool.y[:20])  # torch's start-up, out of the timings
    scratch, warm, scratch_epochs, warm_epochs = [], [], [], []
    for seed in SEEDS[:3]:
        h = run_active_learning(pool.X, pool.y, test.X, test.y, "entropy", initial_labeled=INITIAL, batch_size=BATCH,
                                n_rounds=ROUNDS, model=CNNClassifier(), seed=seed, progress=False)
        X, y = pool.X[h.labeled_ids[:-BATCH]], h.labels[:-BATCH]          # 180 labels, then the last batch of 20
        X200, y200 = pool.X[h.labeled_ids], h.labels
        seconds, model = best_of(lambda: CNNClassifier(random_state=seed).fit(X200, y200), repeat=1)
        scratch.append(seconds)
        scratch_epochs.append(model.n_epochs_)
        before = CNNClassifier(warm_start=True, random_state=seed).fit(X, y)
        start = time.perf_counter()
        before.fit(X200, y200)
        warm.append(time.perf_counter() - start)
        warm_epochs.append(before.n_epochs_)
    print("\n### The cost of a round: the CNN on 200 labels (entropy sampling, seeds 0..2)\n")
    print("| fit | seconds | epochs |\n|---|---:|---:|")
    print(f"| from scratch | {np.mean(scratch):.2f} +- {np.std(scratch, ddof=1):.2f} | {np.mean(scratch_epochs):.0f} |")
    print(f"| warm start (after 180) | {np.mean(warm):.2f} +- {np.std(warm, ddof=1):.2f} | {np.mean(warm_epochs):.0f} |")

    names = {"entropy": STRATEGIES["entropy"], "bald (T = 20)": bald_sampling, "batch_bald": batch_bald_sampling,
             "badge": badge_sampling, "core_set": STRATEGIES["core_set"]}
    print(f"\nSelection seconds per round (batch {BATCH}, the CNN fitted on 200 random labels; best of 3, "
          "batch_bald once):\n")
    print("| pool size | " + " | ".join(names) + " |")
    print("|---:|" + "---:|" * len(names))
    big = augment_pool(load_digits(), max(SELECT_SIZES), seed=0)
    for X, y in [(pool.X, pool.y)] + [(big.X[:n], big.y[:n]) for n in SELECT_SIZES]:
        labeled = np.zeros(len(X), dtype=bool)
        labeled[np.random.default_rng(0).choice(len(X), 200, replace=False)] = True
        model = CNNClassifier(random_state=0).fit(X[labeled], y[labeled])
        cells = []
        for name, strategy in names.items():
            if name == "batch_bald" and len(X) > 10_000:
                cells.append("—")
                continue
            seconds, picked = best_of(lambda: strategy(model, X, labeled, BATCH, np.random.default_rng(0)),
                                      repeat=1 if name == "batch_bald" else 3)
            assert len(set(picked.tolist())) == BATCH and not labeled[picked].any()
            cells.append(f"{seconds:.3f}")
        print(f"| {len(X):,} | " + " | ".join(cells) + " |", flush=True)


# --------------------------------------------------------------------------- learning curves


def bench_learning_curves() -> None:
    pool, test = course_split()
    setup = dict(initial_labeled=INITIAL, batch_size=BATCH, n_rounds=ROUNDS, progress=False)
    start = time.perf_counter()
    histories = compare_strategies(["random", "entropy", bald_sampling, batch_bald_sampling, badge_sampling,
                                    "core_set"], SEEDS, pool.X, pool.y, test.X, test.y,
                                   model=CNNClassifier(warm_start=True), **setup)
    histories += compare_strategies([vote_entropy_sampling], SEEDS, pool.X, pool.y, test.X, test.y,
                                    model=Committee(n_members=5), **setup)
    seconds = time.perf_counter() - start
    most = INITIAL + BATCH * ROUNDS
    columns = (40, 80, 120, 160, 200)
    print(f"\n### Learning curves on the digits ({INITIAL} initial labels + {ROUNDS} rounds of {BATCH}; test accuracy, "
          f"mean +- std over {len(SEEDS)} seeds)\n")
    print("| strategy | " + " | ".join(f"{n} labels" for n in columns)
          + " | " + " | ".join(f"labels to {t:.0%}" for t in TARGETS) + " | seconds per round |")
    print("|---|" + "---:|" * (len(columns) + len(TARGETS) + 1))
    for name in dict.fromkeys(h.strategy for h in histories):
        runs = [h for h in histories if h.strategy == name]
        acc = np.array([h.accuracy for h in runs])
        at = [runs[0].n_labeled.index(n) for n in columns]
        cells = [f"{acc[:, i].mean():.3f} +- {acc[:, i].std(ddof=1):.3f}" for i in at]   # sample std, as the plots
        for target in TARGETS:
            reached = [n for n in (h.labels_to_reach(target) for h in runs) if n is not None]
            cell = (f"{np.mean(reached):.0f} +- {np.std(reached, ddof=1):.0f}" if len(reached) > 1 else
                    f"{reached[0]}" if reached else f"> {most}")
            cells.append(cell + (f" ({len(reached)} of {len(runs)})" if 0 < len(reached) < len(runs) else ""))
        per_round = np.mean([np.mean(np.add(h.seconds_training, h.seconds_selecting)) for h in runs])
        label = name + (" (committee of 5 logistic regressions)" if name == "vote_entropy" else "")
        print(f"| {label} | " + " | ".join(cells) + f" | {per_round:.2f} |", flush=True)
    print(f"\n({len(histories)} runs in {seconds:.0f} s)")


def main() -> None:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        bench_side_by_side()
        bench_round_cost()
        bench_learning_curves()


if __name__ == "__main__":
    main()
