"""SEALS benchmark: nearest-neighbour indexes, and rare-concept search on a pool of a million digits.

Run: ``python -m benchmarks.bench_seals`` (or ``python -m benchmarks seals``); about 10 minutes
on 2 cores. ``python -m benchmarks.bench_seals --pool-size 100000`` for a quick run.

Set-up (all seeded):

- **digits**: scikit-learn's 1,797 digits, split into 1,348 train / 449 test digits with
  ``split(load_digits(), train_size=0, test_size=0.25, seed=0)``, the split the shipped encoders
  were trained outside of.
- **pool**: ``augment_pool(train, ...)`` then ``make_rare(..., rare_class=RARE_CLASS,
  prevalence=PREVALENCE)``, cut to ``--pool-size`` items: distorted copies of the *train*
  digits only, one class rare. The test set is the 25% of original digits, never augmented.
- **embeddings**: ``dcai_lab.embed.embed(..., method="ssl", normalize=True)`` when it works,
  else a PCA of the pixels (the table says which).
- **indexes**: flat (exact), LSH and HNSW over the pool; build seconds, memory, search
  milliseconds per query and recall@k against the flat index.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from dcai_lab.data import Dataset, augment_pool, load_digits, make_rare, split
from dcai_lab.seals import KnnIndex, recall_at_k

POOL_SIZE = 1_000_000
RARE_CLASS = 3
PREVALENCE = 0.005
K = 10
N_QUERIES = 1000


def train_test() -> tuple[Dataset, Dataset]:
    """The digits outside / inside the test split of the shipped encoders (``embed.CHECKPOINT_SPLIT``).

    ``split(load_digits(), train_size=0, test_size=0.25, seed=0)``: the 449 test digits were never
    seen by the SSL encoder, so average precision measured on them is honest.
    """
    _, train, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    return train, test


def rare_pool(train: Dataset, n: int, seed: int = 0) -> Dataset:
    """``n`` distorted train digits in which ``RARE_CLASS`` makes up ``PREVALENCE`` of the items."""
    others = 1 - np.mean(train.y == RARE_CLASS)
    augmented = augment_pool(train, int(np.ceil(1.02 * n / others)), seed=seed)
    pool = make_rare(augmented, RARE_CLASS, PREVALENCE, seed=seed)
    return pool.subset(np.arange(n), name=f"{pool.name}[:{n}]")


def embeddings(pool: Dataset, test: Dataset) -> tuple[np.ndarray, np.ndarray, str]:
    """SSL embeddings of pool and test from ``dcai_lab.embed`` when it works, else a PCA of the pixels."""
    try:
        from dcai_lab.embed import embed

        return (np.asarray(embed(pool, method="ssl", normalize=True), dtype=np.float32),
                np.asarray(embed(test, method="ssl", normalize=True), dtype=np.float32), "ssl")
    except Exception as exc:  # a module under construction may fail in any way
        reason = f"{type(exc).__name__}: {exc}"
    from sklearn.decomposition import PCA

    print(f"- embed(method='ssl') is not available ({reason}); using a 32-component PCA of the pixels")
    pca = PCA(n_components=32, random_state=0).fit(pool.X[:50_000])
    unit = lambda z: (z / np.linalg.norm(z, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    return unit(pca.transform(pool.X)), unit(pca.transform(test.X)), "pca"


def index_table(emb: np.ndarray, k: int = K, n_queries: int = N_QUERIES) -> dict[str, KnnIndex]:
    """Build flat, LSH and HNSW indexes; print build time, memory, query time and recall@k."""
    queries = np.random.default_rng(0).choice(len(emb), n_queries, replace=False)
    print(f"\n### Nearest-neighbour indexes: n = {len(emb):,}, d = {emb.shape[1]}, recall@{k} over "
          f"{n_queries} pool points (neighbours other than the point itself) against exact search\n")
    print("| index | build (s) | memory (MB) | search (ms / query) | recall@k |")
    print("|---|---|---|---|---|")
    indexes, exact = {}, None
    for kind in ("flat", "lsh", "hnsw"):
        start = time.perf_counter()
        index = KnnIndex(emb, kind=kind)
        build = time.perf_counter() - start
        start = time.perf_counter()
        _, found = index.search(queries, k)
        search = time.perf_counter() - start
        if kind == "flat":
            exact = found
        name = {"flat": "flat (exact, IndexFlatIP)", "lsh": f"LSH ({index.n_bits} bits)",
                "hnsw": f"HNSW (M={index.hnsw_m}, ef_search={index.ef_search}, 1 build thread)"}[kind]
        print(f"| {name} | {build:.2f} | {index.memory_bytes() / 1e6:.0f} | {1000 * search / n_queries:.3f} "
              f"| {recall_at_k(found, exact):.3f} |", flush=True)
        indexes[kind] = index
    return indexes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE, help="items in the unlabeled pool")
    args = parser.parse_args(argv or [])
    start = time.perf_counter()
    train, test = train_test()
    pool = rare_pool(train, args.pool_size)
    n_rare = int(np.sum(pool.y == RARE_CLASS))
    print(f"pool: {len(pool):,} distorted train digits, class {RARE_CLASS} rare: {n_rare:,} items "
          f"({n_rare / len(pool):.2%}); test: {len(test)} original digits ({time.perf_counter() - start:.0f} s)")
    start_embed = time.perf_counter()
    pool_emb, test_emb, how = embeddings(pool, test)
    print(f"embeddings: {how}, d = {pool_emb.shape[1]} ({time.perf_counter() - start_embed:.0f} s)")
    index_table(pool_emb)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
