"""SEALS benchmark: nearest-neighbour indexes, and rare-concept search on a pool of a million digits.

Run: ``python -m benchmarks seals`` (or ``python -m benchmarks.bench_seals``); about 3 minutes
on 2 cores (measured 180 s), about 2 more the first time (embedding 1,150,000 images, then
cached under ``data/cache/``, 590 MB).
``python -m benchmarks.bench_seals --pool-size 100000`` for a quick run.

Set-up (all seeded):

- **digits**: scikit-learn's 1,797 digits, split into 1,348 train / 449 test digits with
  ``split(load_digits(), train_size=0, test_size=0.25, seed=0)``, the split the shipped encoders
  were trained outside of.
- **pool**: ``augment_pool(train, 1.15 * n, seed=0)`` then ``make_rare(..., rare_class=RARE_CLASS,
  prevalence=PREVALENCE, seed=0)``, cut to the first ``n`` items: distorted copies of the *train*
  digits only, one class rare. The test set is the 449 original test digits, never augmented,
  so average precision on it is honest.
- **embeddings**: ``dcai_lab.embed.embed(..., method="ssl", normalize=True)`` (the shipped SSL encoder).
- **indexes**: flat (exact), LSH and HNSW over the pool: build seconds, memory, search time per
  query and recall@k against the flat index.
- **rare-concept search**: :func:`dcai_lab.rare.rare_concept_search`, binary logistic regression
  on the embeddings, 5 positives + 95 random negatives to start, ``BATCH_SIZE`` labels per round
  for ``N_ROUNDS`` rounds, seeds ``SEEDS``; full-pool MaxEnt, SEALS + MaxEnt, SEALS + ID (k = ``K_SEALS``,
  ``SEALS_INDEX`` index) and random, side by side in one run. SEALS's selection time includes the
  candidate-pool update (index search for the new labels).

Choice of k and batch size (a sweep over 3 seeds at the same 500-label budget, SEALS + MaxEnt over
full MaxEnt): with 20 labels per round, k = 30 / 50 / 100 / 200 gave recall ratios 0.91 / 0.92 / 0.96 /
0.96 (HNSW) at 202x / 122x / 64x / 34x fewer points scored; with 50 labels per round 0.94 / 0.95 / 1.01 /
0.98 at 219x / 137x / 73x / 38x. The candidate pool grows by up to k per label, so k trades points
scored against recall; k = 50 with 50 labels per round meets both targets.

The results go to ``benchmarks/results/seals_<n>.json`` (``seals_1m.json`` for the million), which
notebook 02 reads.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dcai_lab.augment import augment_pool
from dcai_lab.data import Dataset, load_digits, make_rare, split
from dcai_lab.knn import KnnIndex, recall_at_k
from dcai_lab.rare import RARE_METHODS, rare_concept_search

POOL_SIZE = 1_000_000
RARE_CLASS = 3
PREVALENCE = 0.002
K = 10  # recall@k of the indexes
N_QUERIES = 1000
K_SEALS = 50
SEALS_INDEX = "hnsw"
BATCH_SIZE = 50
N_ROUNDS = 8
SEEDS = (0, 1, 2, 3, 4)
RESULTS = Path(__file__).parent / "results"


def train_test() -> tuple[Dataset, Dataset]:
    """The digits outside / inside the test split of the shipped encoders (``embed.CHECKPOINT_SPLIT``)."""
    _, train, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    return train, test


def rare_pool(train: Dataset, n: int, seed: int = 0) -> tuple[Dataset, np.ndarray]:
    """The augmented train digits and the positions in it of the ``n``-item pool with ``RARE_CLASS`` rare.

    ``make_rare`` keeps every item of the other classes, so ``1.15 * n`` augmented items (about
    10% of them of the rare class) leave more than ``n``; the pool is the first ``n`` kept.
    """
    augmented = augment_pool(train, int(1.15 * n), seed=seed)
    numbered = Dataset(augmented.images, augmented.y, augmented.class_names, augmented.name,
                       source_index=np.arange(len(augmented)))  # source_index = position in `augmented`
    kept = make_rare(numbered, RARE_CLASS, PREVALENCE, seed=seed).source_index
    if len(kept) < n:
        raise RuntimeError(f"only {len(kept)} items left after make_rare, {n} wanted")
    return augmented, kept[:n]


def index_table(emb: np.ndarray, k: int = K, n_queries: int = N_QUERIES) -> tuple[list[dict], dict]:
    """Build flat, LSH and HNSW indexes; build time, memory, query time and recall@k against flat.

    Returns the table's rows and the indexes with default options, by kind.
    """
    queries = np.random.default_rng(0).choice(len(emb), n_queries, replace=False)
    rows, exact, indexes = [], None, {}
    for kind, options in (("flat", {}), ("lsh", {}), ("lsh", {"n_bits": 2048}), ("hnsw", {})):
        start = time.perf_counter()
        index = KnnIndex(emb, kind=kind, **options)
        build = time.perf_counter() - start
        start = time.perf_counter()
        _, found = index.neighbors(queries, k)
        search = time.perf_counter() - start
        exact = found if kind == "flat" else exact
        name = {"flat": "flat (exact, IndexFlatIP)", "lsh": f"LSH ({index.n_bits} bits)",
                "hnsw": f"HNSW (M={index.hnsw_m}, ef_search={index.ef_search})"}[kind]
        rows.append(dict(index=name, build_seconds=build, memory_mb=index.memory_bytes() / 1e6,
                         ms_per_query=1000 * search / n_queries, recall_at_k=recall_at_k(found, exact)))
        print(f"| {name} | {build:.1f} | {rows[-1]['memory_mb']:.0f} | {rows[-1]['ms_per_query']:.3f} "
              f"| {rows[-1]['recall_at_k']:.3f} |", flush=True)
        if not options:
            indexes[kind] = index
    return rows, indexes


def rare_search(emb, is_positive, test_emb, is_positive_test, index, k, batch_size, n_rounds, seeds,
                methods=RARE_METHODS):
    """Every method and seed on the same pool; one DataFrame, one row per method, seed and round."""
    import pandas as pd

    frames = []
    for seed in seeds:
        for method in methods:
            start = time.perf_counter()
            frames.append(rare_concept_search(method, emb, is_positive, test_emb, is_positive_test, index=index,
                                              k=k, batch_size=batch_size, n_rounds=n_rounds, seed=seed))
            last = frames[-1].iloc[-1]
            print(f"- {method}, seed {seed}: {time.perf_counter() - start:.0f} s, positives found "
                  f"{last['positives_found']:.3f}, AP {last['average_precision']:.3f}", flush=True)
    return pd.concat(frames, ignore_index=True)


def summarize(frame) -> dict:
    """Per method: mean over the selecting rounds of points scored and selection seconds; final recall and AP."""
    selecting = frame[frame["round"] < frame["round"].max()]
    final = frame[frame["round"] == frame["round"].max()]
    out = {}
    for method, group in selecting.groupby("method", sort=False):
        end = final[final["method"] == method]
        out[method] = dict(points_scored=float(group["n_scored"].mean()),
                           points_scored_max=int(group["n_scored"].max()),
                           selection_seconds=float(group["seconds_selecting"].mean()),
                           labels=int(end["n_labeled"].iloc[0]),
                           positives_found=float(end["positives_found"].mean()),
                           positives_found_std=float(end["positives_found"].std(ddof=0)),
                           average_precision=float(end["average_precision"].mean()),
                           average_precision_std=float(end["average_precision"].std(ddof=0)))
    full = out.get("full MaxEnt")
    for method, row in out.items():
        if full and method.startswith("SEALS"):
            row["fewer_points_scored"] = full["points_scored"] / row["points_scored"]
            row["less_selection_time"] = full["selection_seconds"] / row["selection_seconds"]
            row["recall_ratio"] = row["positives_found"] / full["positives_found"]
            row["ap_ratio"] = row["average_precision"] / full["average_precision"]
    return out


def print_tables(frame, summary: dict) -> None:
    per_round = frame.groupby(["method", "round"], sort=False).agg(
        n_labeled=("n_labeled", "first"), n_scored=("n_scored", "mean"), seconds=("seconds_selecting", "mean"),
        found=("positives_found", "mean"), ap=("average_precision", "mean")).reset_index()
    methods = list(dict.fromkeys(frame["method"]))
    print("\n### Per round (mean over seeds): points scored / selection seconds\n")
    print("| round | labels | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for r, group in per_round.groupby("round"):
        cells = [f"{row.n_scored:,.0f} / {row.seconds:.4f}" for row in group.set_index("method").loc[methods].itertuples()]
        print(f"| {r} | {group['n_labeled'].iloc[0]} | " + " | ".join(cells) + " |")
    print("\n### Summary: mean over the selecting rounds; recall and AP after the last round (mean +- std over seeds)\n")
    print("| method | points scored / round | selection s / round | positives found (recall) | test AP "
          "| fewer points | less time | recall ratio | AP ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method, row in summary.items():
        ratios = (f"{row['fewer_points_scored']:.0f}x | {row['less_selection_time']:.0f}x | {row['recall_ratio']:.3f} "
                  f"| {row['ap_ratio']:.3f}") if "recall_ratio" in row else "| | |"
        print(f"| {method} | {row['points_scored']:,.0f} | {row['selection_seconds']:.4f} | "
              f"{row['positives_found']:.3f} +- {row['positives_found_std']:.3f} | "
              f"{row['average_precision']:.3f} +- {row['average_precision_std']:.3f} | {ratios} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE, help="items in the unlabeled pool")
    parser.add_argument("--k", type=int, default=K_SEALS, help="SEALS: neighbours per labeled point")
    parser.add_argument("--index", default=SEALS_INDEX, help="SEALS: flat, lsh or hnsw")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--rounds", type=int, default=N_ROUNDS)
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0 .. n-1")
    parser.add_argument("--methods", default=",".join(RARE_METHODS), help="comma-separated, from RARE_METHODS")
    parser.add_argument("--skip-indexes", action="store_true", help="skip the index table")
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    args = parser.parse_args(argv or [])
    from dcai_lab.embed import embed

    start = time.perf_counter()
    train, test = train_test()
    augmented, kept = rare_pool(train, args.pool_size)
    is_positive, is_positive_test = augmented.y[kept] == RARE_CLASS, test.y == RARE_CLASS
    print(f"pool: {len(kept):,} distorted train digits, class {RARE_CLASS} rare: {is_positive.sum():,} items "
          f"({is_positive.mean():.2%}); test: {len(test)} original digits, {is_positive_test.sum()} of class "
          f"{RARE_CLASS} ({time.perf_counter() - start:.0f} s)", flush=True)
    start_embed = time.perf_counter()
    emb = embed(augmented, method="ssl", normalize=True, progress=False)[kept]
    test_emb = embed(test, method="ssl", normalize=True, progress=False)
    print(f"embeddings: ssl, d = {emb.shape[1]} ({time.perf_counter() - start_embed:.0f} s)", flush=True)
    results = dict(pool_size=len(kept), rare_class=RARE_CLASS, prevalence=float(is_positive.mean()),
                   n_positives=int(is_positive.sum()), k=args.k, index=args.index, batch_size=args.batch_size,
                   n_rounds=args.rounds, seeds=list(range(args.seeds)))
    if not args.skip_indexes:
        print(f"\n### Nearest-neighbour indexes: n = {len(emb):,}, d = {emb.shape[1]}, recall@{K} over "
              f"{N_QUERIES} pool points (neighbours other than the point itself) against exact search\n")
        print("| index | build (s) | memory (MB) | search (ms / query) | recall@k |")
        print("|---|---|---|---|---|")
        results["indexes"], indexes = index_table(emb)
    else:
        indexes = {}
    start_index = time.perf_counter()
    index = indexes.get(args.index) or KnnIndex(emb, kind=args.index)
    del indexes
    print(f"\nSEALS index: {index!r} ({time.perf_counter() - start_index:.0f} s); k = {args.k}, "
          f"{args.batch_size} labels per round, {args.rounds} rounds, {args.seeds} seeds\n", flush=True)
    frame = rare_search(emb, is_positive, test_emb, is_positive_test, index, args.k, args.batch_size, args.rounds,
                        range(args.seeds), methods=args.methods.split(","))
    results["summary"] = summarize(frame)
    results["per_round"] = frame.groupby(["method", "round"], sort=False)[
        ["n_labeled", "n_scored", "seconds_selecting", "positives_found", "average_precision"]].mean().reset_index(
    ).to_dict(orient="records")
    print_tables(frame, results["summary"])
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        name = "seals_1m.json" if len(kept) == 1_000_000 else f"seals_{len(kept)}.json"
        (RESULTS / name).write_text(json.dumps(results, indent=1) + "\n")
        print(f"\nwrote {RESULTS / name}")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
