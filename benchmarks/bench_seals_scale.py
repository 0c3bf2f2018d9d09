"""SEALS at scale: the cost of a round against the size of the pool, 100,000 to 10,000,000 digits.

Run: ``python -m benchmarks seals_scale`` (``make bench BENCH=seals_scale``) runs the three sizes
of ``SIZES``, each in its own process (so each size's peak memory is its own);
``python -m benchmarks.bench_seals_scale --size 100000`` runs one. The first run of a size builds
its pool on disk (:func:`dcai_lab.pool_files.make_pool_files`: chunk by chunk, resumable, cached
under ``data/cache/``: 0.6 GB per million items); later runs open it.

Set-up (all seeded), per pool size ``n``:

- **pool**: the pool of ``benchmarks.bench_seals`` (distorted *train* digits, class ``RARE_CLASS``
  rare at ``PREVALENCE``, the first ``n`` of ``1.15 n`` augmented items), built into memory-mapped
  files with the shipped SSL encoder's unit embeddings; the test set is the 449 original test digits.
- **index**: ``AllCoresIndex(embeddings, kind=INDEX_KIND, nlist=..., nprobe=NPROBE)`` (a
  :class:`~dcai_lab.knn.KnnIndex` that searches on ``N_THREADS`` threads), an IVF index of
  8-bit scalar-quantized vectors (``d`` = 128 bytes per point instead of 512; :mod:`dcai_lab.knn`)
  whose cells hold about ``CELL_SIZE`` points at every pool size (``nlist`` the power of two nearest
  ``n / CELL_SIZE``): a query scans ``NPROBE`` cells, so the cost of finding a new label's neighbours
  does not grow with the pool, which is what SEALS needs (with ``sqrt(n)`` cells it grows like
  ``sqrt(n)``). Built from the memory-mapped file chunk by chunk. Its recall@``RECALL_K`` against
  exact search (:func:`dcai_lab.knn.exact_search`) is measured for ``N_QUERIES`` random pool points,
  at every ``nprobe`` of ``NPROBE_SWEEP``. Why SQ8 and not PQ: on these pools a digit's nearest
  neighbours are distorted copies of the same digit, closer together than product quantization's
  error (README, "SEALS at ten million items", gives the measured recalls).
- **k**: ``K_SEALS`` = 100 neighbours per label, as in the SEALS paper; with 50 the candidate
  pool of the 1M pool found measurably fewer 3s than full-pool MaxEnt (README).
- **rare-concept search**: the search of :func:`dcai_lab.rare.rare_concept_search` for ``METHODS``
  (full-pool MaxEnt and SEALS + MaxEnt with k = ``K_SEALS``), 5 positives + 95 negatives to start,
  ``BATCH_SIZE`` labels per round for ``N_ROUNDS`` rounds, seeds ``SEEDS``, side by side in one run,
  both with the same scorer, the fastest this machine allows (:class:`FastMaxEnt`: MaxEnt of
  :class:`Float32LogisticRegression`, ``sigmoid(x . w + b)`` in float32; a whole pool on
  ``N_THREADS`` threads, a candidate pool from the rows it keeps), the loop's BLAS and OpenMP on
  ``LOOP_THREADS`` (the index search on ``N_THREADS``). Per round: points scored and selection
  seconds (SEALS's include the index search for the new labels), and SEALS's round in parts (index
  search, reading the new candidates' rows, scoring, the rest); at the end: positives found (recall
  of the rare class) and test average precision. A second pass gives the same labels in rounds of
  ``SMALL_BATCH``: a SEALS round searches only its new labels, so its cost falls with the batch,
  while a full-pool round scores the whole pool whatever the batch.
- **baseline**: full-pool scoring of the pool with the model of the first round (seed 0), measured
  three ways (best of ``BASELINE_REPEATS``): the library loop's own ``entropy_sampling`` (float64
  chunks of ``SCORE_CHUNK_ROWS``, input checks, one thread); ``predict_proba`` on float32 chunks on
  a thread pool; and the linear model's logits written out by hand in float32 (``x . w + b``, the
  fastest we could make it). Reported in points per second, so the ratios can be read against the
  fastest: the search's full-pool rounds should take about as long as the fastest way.
- **bookkeeping**: the loop's own per-round work outside the selection timer (the unlabeled ids,
  the candidate pool's ids), measured once, so nothing that grows with the pool hides there.
- **memory**: the process's peak resident set (``resource.getrusage``, file pages of the
  memory-mapped embeddings included) and, at the end, its anonymous and file-backed parts.

Results: ``benchmarks/results/seals_scale_<n>.json``, read by :func:`dcai_lab.seals_scaling.plot_seals_scaling`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from benchmarks.bench_active import best_of
from dcai_lab._ivf import faiss_threads
from dcai_lab.knn import KnnIndex

SIZES = (100_000, 1_000_000, 10_000_000)
RARE_CLASS, PREVALENCE = 3, 0.002
INDEX_KIND, CELL_SIZE, NPROBE = "ivfsq", 1_200, 2
NPROBE_SWEEP = (1, 2, 4, 8, 16)
RECALL_K, N_QUERIES = 10, 200
K_SEALS, BATCH_SIZE, N_ROUNDS = 100, 50, 8
SMALL_BATCH = 10  # a second pass: the same labels in rounds of 10 (a round's cost follows its new labels)
SEEDS = (0, 1, 2, 3, 4)
METHODS = ("full MaxEnt", "SEALS + MaxEnt")
BASELINE_REPEATS = 3
N_THREADS = 2  # the machine's cores: full-pool scoring and the index search use them all
LOOP_THREADS = 1  # the loop's BLAS / OpenMP (model fits): small models; an idle BLAS thread would spin on a core
SCORE_ROWS = 16_384  # rows per chunk of the fast scorer
ONE_THREAD_ROWS = 65_536  # fewer candidates are scored on the loop's own thread
RESULTS = Path(__file__).parent / "results"
PLOT = RESULTS / "seals_scale.png"


def results_path(n: int, folder: Path = RESULTS) -> Path:
    return folder / f"seals_scale_{n}.json"


def load_pool(n: int, cache_dir=None, progress: bool = True):
    """The ``n``-item pool's files (built on first use), the rare-class flags and the test set's embeddings."""
    from benchmarks.bench_seals import train_test
    from dcai_lab.embed import embed
    from dcai_lab.pool_files import make_pool_files

    train, test = train_test()
    start = time.perf_counter()
    pool = make_pool_files(train, n, rare_class=RARE_CLASS, prevalence=PREVALENCE, cache_dir=cache_dir,
                           progress=progress, verify=True)
    seconds = time.perf_counter() - start
    test_emb = embed(test, method="ssl", normalize=True, cache_dir=cache_dir, progress=False)
    return pool, pool.y == RARE_CLASS, test_emb, test.y == RARE_CLASS, seconds


def index_recall(index, n_queries: int = N_QUERIES, k: int = RECALL_K, seed: int = 0) -> dict:
    """recall@k of ``index.neighbors`` against exact search over random pool points (the point itself left out),
    and milliseconds per query (all of them in one call, on the index's threads, as the loop searches), at
    ``index.nprobe`` and for ``NPROBE_SWEEP``."""
    from dcai_lab.knn import exact_search, recall_at_k

    ids = np.sort(np.random.default_rng(seed).choice(len(index), min(n_queries, len(index)), replace=False))
    start = time.perf_counter()
    _, exact = exact_search(index.vectors, np.asarray(index.vectors[ids]), k + 1)
    exact_seconds = time.perf_counter() - start
    keep = exact != ids[:, None]
    keep[keep.all(axis=1), -1] = False
    exact = exact[keep].reshape(len(ids), k)
    sweep = {}
    for nprobe in sorted(set(NPROBE_SWEEP) | {index.nprobe}):
        index.index.nprobe = nprobe
        index.neighbors(ids[:10], k)
        start = time.perf_counter()
        _, found = index.neighbors(ids, k)
        seconds = time.perf_counter() - start
        sweep[nprobe] = dict(recall_at_k=recall_at_k(found, exact), ms_per_query=1000 * seconds / len(ids))
    index.index.nprobe = index.nprobe
    return dict(**sweep[index.nprobe], k=k, n_queries=len(ids), exact_search_seconds=exact_seconds,
                nprobe_sweep={str(p): v for p, v in sweep.items()})


class AllCoresIndex(KnnIndex):
    """A :class:`~dcai_lab.knn.KnnIndex` whose searches run on ``N_THREADS`` faiss threads, whatever the
    caller's thread limit (the loop keeps everything else on ``LOOP_THREADS``)."""

    search_seconds: list  # of every search, in order (set to [] to start counting)

    def _search(self, unit_queries, k):
        start = time.perf_counter()
        with faiss_threads(N_THREADS):
            found = super()._search(unit_queries, k)
        self.search_seconds = getattr(self, "search_seconds", []) + [time.perf_counter() - start]
        return found


def first_model(emb, is_positive, seed: int = 0):
    """The model of round 0 of the rare-concept search (seed ``seed``): what full-pool scoring scores first."""
    from dcai_lab.rare import initial_rare_labels

    ids = initial_rare_labels(is_positive, 5, 95, seed=seed)
    model = LogisticRegression(max_iter=1000, random_state=seed).fit(np.asarray(emb[ids]), is_positive[ids].astype(int))
    labeled = np.zeros(len(emb), dtype=bool)
    labeled[ids] = True
    return model, labeled


def nlist_for(n: int) -> int:
    """IVF cells for an ``n``-item pool: the power of two nearest ``n / CELL_SIZE`` (at least 1)."""
    return 2 ** max(0, round(np.log2(max(n / CELL_SIZE, 1))))


def _best(scores: np.ndarray, ids: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``batch_size`` largest ``scores`` and their ``ids``, largest first, ties to the lowest id."""
    if len(scores) > batch_size:
        keep = scores >= np.partition(scores, len(scores) - batch_size)[len(scores) - batch_size]
        scores, ids = scores[keep], ids[keep]  # the batch and every tie of its smallest score
    order = np.lexsort((ids, -scores))[:batch_size]
    return scores[order], ids[order]


def top_of_ids(entropies, emb, ids: np.ndarray, batch_size: int, n_threads: int, rows: int = SCORE_ROWS) -> np.ndarray:
    """The ``batch_size`` ids (sorted distinct pool ids) of largest ``entropies(x)``, ties to the lowest id.

    ``ids`` are scored ``rows`` at a time on ``n_threads`` threads, each chunk keeping its own top.
    A chunk of ids close together (the whole unlabeled pool) is read as one slice of ``emb`` and
    scored whole, labeled rows included; scattered ids (a candidate pool) are gathered.
    """
    from concurrent.futures import ThreadPoolExecutor

    def top_of_chunk(start: int):
        part = ids[start:start + rows]
        span = part[-1] - part[0] + 1
        if span <= 2 * len(part):
            scores = entropies(np.asarray(emb[part[0]:part[-1] + 1]))[part - part[0]]
        else:
            scores = entropies(np.asarray(emb[part]))
        return _best(scores, part, batch_size)

    if n_threads == 1:
        parts = [top_of_chunk(start) for start in range(0, len(ids), rows)]
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            parts = list(pool.map(top_of_chunk, range(0, len(ids), rows)))
    return _best(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), batch_size)[1]


class Float32LogisticRegression(LogisticRegression):
    """scikit-learn's logistic regression (fitted as usual) whose binary ``predict_proba`` is written out in
    float32: ``p = sigmoid(x . w + b)``, no float64 copy of the pool."""

    def predict_proba(self, X):
        x = np.asarray(X, dtype=np.float32)
        p = 1 / (1 + np.exp(-(x @ self.coef_.astype(np.float32).ravel() + np.float32(self.intercept_[0]))))
        return np.stack([1 - p, p], axis=1)


def _maxent_of(model):
    """``x -> -sum_y p log p`` of ``model.predict_proba(x)``, row by row."""
    def entropies(x):
        p = model.predict_proba(x)
        return -(p * np.log(np.maximum(p, 1e-30))) @ np.ones(p.shape[1], p.dtype)  # row sums; faster than .sum(1)

    return entropies


@functools.cache
def _threadpools():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()  # finding the thread pools takes milliseconds: once


def one_blas_thread():
    """``threadpool_limits(1, user_api="blas")`` in a fraction of a millisecond (the pools are found once)."""
    return _threadpools().limit(limits=1, user_api="blas")


class FastMaxEnt:
    """MaxEnt as fast as this machine allows, a strategy of the loop (``run_active_learning(strategy=FastMaxEnt())``,
    one per run): the entropy ``-sum_y p log p`` of ``model.predict_proba`` (a :class:`Float32LogisticRegression`)
    for the candidates (all unlabeled ids for full-pool MaxEnt); ties to the lowest id.

    - More than ``ONE_THREAD_ROWS`` candidates (a whole pool): float32 chunks on ``N_THREADS`` threads,
      slices of the memory-mapped pool read as they are scored.
    - Fewer (SEALS's candidate pool): on the loop's own thread (starting threads would cost more than
      they save), from rows kept in memory: a candidate's row is read from the pool once, when it
      joins, so a round reads only the new labels' new neighbours, and scores the kept rows as one
      contiguous block (rows of candidates since labeled included, and counted as scored).
    """

    __name__ = "fast_maxent"

    def __init__(self) -> None:
        self.kept = np.zeros((0, 0), np.float32)  # the rows read so far, in the order read (capacity grows)
        self.n_kept = 0
        self.sorted_ids = np.zeros(0, np.int64)  # their pool ids, sorted, and the row of each in self.kept
        self.sorted_rows = np.zeros(0, np.int64)
        self.seconds: list[tuple[float, float]] = []  # candidate pool calls: (reading new rows, scoring and top-k)

    def __call__(self, model, X_pool, labeled, batch_size: int, rng, *, candidates=None, **_) -> np.ndarray:
        entropies = _maxent_of(model)
        ids = np.flatnonzero(~labeled) if candidates is None else np.asarray(candidates, np.int64)
        with one_blas_thread():  # per chunk thread; on the loop's thread, so no idle BLAS thread spins on a core
            if len(ids) > ONE_THREAD_ROWS:
                return top_of_ids(entropies, X_pool, ids, batch_size, N_THREADS)
            start = time.perf_counter()
            rows = self._rows_of(X_pool, ids)  # first: it reads the new candidates' rows
            read = time.perf_counter()
            picks = _best(entropies(self.kept[:self.n_kept])[rows], ids, batch_size)[1]
            self.seconds.append((read - start, time.perf_counter() - read))
            return picks

    def _rows_of(self, X_pool, ids: np.ndarray) -> np.ndarray:
        """The kept row of each of ``ids``; rows not kept yet are read from ``X_pool`` (in pool order) and kept."""
        where = np.searchsorted(self.sorted_ids, ids)
        known = (self.sorted_ids[np.minimum(where, self.n_kept - 1)] == ids) if self.n_kept else np.zeros(len(ids), bool)
        new = np.sort(ids[~known])
        if np.any(new[1:] == new[:-1]):
            raise ValueError("FastMaxEnt needs distinct candidate ids (the loop's candidates are)")
        if self.n_kept + len(new) > len(self.kept) or self.kept.shape[1] != X_pool.shape[1]:
            capacity = max(2 * len(self.kept), self.n_kept + len(new), ONE_THREAD_ROWS)  # pages used when written
            grown = np.empty((capacity, X_pool.shape[1]), np.float32)
            if self.n_kept:
                grown[:self.n_kept] = self.kept[:self.n_kept]
            self.kept = grown
        new_rows = np.arange(self.n_kept, self.n_kept + len(new))
        self.kept[new_rows] = np.take(np.asarray(X_pool), new, axis=0)  # np.take: faster than a memmap's [new]
        self.n_kept += len(new)
        rows = np.empty(len(ids), np.int64)
        rows[known] = self.sorted_rows[where[known]]
        rows[~known] = new_rows[np.searchsorted(new, ids[~known])]
        at = np.searchsorted(self.sorted_ids, new)  # a merge: the kept ids stay sorted
        self.sorted_ids, self.sorted_rows = np.insert(self.sorted_ids, at, new), np.insert(self.sorted_rows, at, new_rows)
        return rows


def float32_chunks(model, emb, labeled, batch_size: int, n_threads: int, rows: int = 65_536) -> np.ndarray:
    """Full-pool MaxEnt with ``predict_proba`` on float32 slices of the pool, on ``n_threads`` threads; top ids."""
    return top_of_ids(_maxent_of(model), emb, np.flatnonzero(~labeled), batch_size, n_threads, rows)


def linear_by_hand(model, emb, labeled, batch_size: int, n_threads: int, rows: int = SCORE_ROWS) -> np.ndarray:
    """Full-pool MaxEnt of a binary logistic regression written out in float32: ``p = sigmoid(x . w + b)``."""
    w, b = model.coef_.astype(np.float32).ravel(), np.float32(model.intercept_[0])

    def entropies(x):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        q = 1 - p
        return -(p * np.log(np.maximum(p, 1e-30)) + q * np.log(np.maximum(q, 1e-30)))

    return top_of_ids(entropies, emb, np.flatnonzero(~labeled), batch_size, n_threads, rows)


def baseline(emb, is_positive, repeats: int = BASELINE_REPEATS) -> dict:
    """Points per second of full-pool MaxEnt scoring, three ways; and whether they pick the same batch."""
    from threadpoolctl import threadpool_limits

    from dcai_lab.strategies import SCORE_CHUNK_ROWS, entropy_sampling

    model, labeled = first_model(emb, is_positive)
    n_scored = int((~labeled).sum())
    out, picks = {}, {}
    for name, run in [
            ("loop's entropy_sampling (float64 chunks), 1 thread",
             lambda: entropy_sampling(model, emb, labeled, BATCH_SIZE, np.random.default_rng(0))),
            (f"predict_proba on float32 chunks, {N_THREADS} threads",
             lambda: float32_chunks(model, emb, labeled, BATCH_SIZE, N_THREADS)),
            (f"logits by hand in float32, {N_THREADS} threads",
             lambda: linear_by_hand(model, emb, labeled, BATCH_SIZE, N_THREADS))]:
        with threadpool_limits(1):
            seconds, picks[name] = best_of(run, repeats)
        out[name] = dict(seconds=seconds, points_per_second=n_scored / seconds)
        print(f"  {name}: {seconds:.3f} s, {n_scored / seconds / 1e6:.2f} M points/s", flush=True)
    first = next(iter(picks.values()))
    return dict(points=n_scored, score_chunk_rows=SCORE_CHUNK_ROWS, ways=out,
                same_batch={name: int(len(np.intersect1d(ids, first))) for name, ids in picks.items()})


def rare_search(emb, is_positive, test_emb, is_positive_test, index, k: int, batch_size: int, n_rounds: int,
                seeds):
    """Full-pool MaxEnt and SEALS + MaxEnt for every seed, each with a :class:`FastMaxEnt` of its own; the per-round
    frame, and SEALS's rounds in parts (:func:`round_parts`).

    What :func:`dcai_lab.rare.rare_concept_search` does for these two methods (the same initial
    labels, the loop, :func:`dcai_lab.rare.rare_search_curve`), with the fast scorer as the strategy.
    """
    import pandas as pd

    from dcai_lab.active import run_active_learning
    from dcai_lab.rare import initial_rare_labels, rare_search_curve
    from dcai_lab.seals import run_seals

    y_pool, y_test = is_positive.astype(np.int64), is_positive_test.astype(np.int64)
    frames, parts = [], []
    for seed in seeds:
        options = dict(initial_labeled=initial_rare_labels(is_positive, 5, 95, seed=seed), batch_size=batch_size,
                       n_rounds=n_rounds, seed=seed, model=Float32LogisticRegression(max_iter=1000, random_state=seed),
                       progress=False, classes=[0, 1], n_threads=LOOP_THREADS)
        for method in METHODS:
            start = time.perf_counter()
            if method == "SEALS + MaxEnt":
                index.search_seconds, strategy = [], FastMaxEnt()
                history = run_seals(emb, y_pool, test_emb, y_test, k=k, index=index, strategy=strategy, **options)
                parts.append(round_parts(history, index.search_seconds, strategy.seconds))
            else:
                history = run_active_learning(emb, y_pool, test_emb, y_test, strategy=FastMaxEnt(), **options)
            frame = rare_search_curve(history, emb, is_positive, test_emb, y_test, model=options["model"])
            frame.insert(0, "method", method)
            frames.append(frame)
            last = frame.iloc[-1]
            print(f"- {method}, seed {seed}: {time.perf_counter() - start:.0f} s, positives found "
                  f"{last['positives_found']:.3f}, AP {last['average_precision']:.3f}", flush=True)
    return pd.concat(frames, ignore_index=True), pd.concat(parts, ignore_index=True)


def round_parts(history, search_seconds: list, strategy_seconds: list):
    """A SEALS run's selection seconds per round, in parts: the index search for the labels that prepared the
    round (round 0: the initial labels), reading the new candidates' rows, scoring them and taking the top, and
    the rest (the candidate pool's merge, reading the queries' vectors, the strategy's thread limit)."""
    import pandas as pd

    n = len(history.seconds_selecting) - 1  # the selecting rounds; the search after the last one prepares none
    if len(strategy_seconds) != n or len(search_seconds) != n + 1:
        raise ValueError(f"round_parts needs one search per update ({len(search_seconds)} for {n + 1}: an "
                         f"AllCoresIndex) and every round scored from kept rows ({len(strategy_seconds)} of {n})")
    frame = pd.DataFrame(dict(round=range(n), selection=history.seconds_selecting[:n], index_search=search_seconds[:n],
                              read_rows=[r for r, _ in strategy_seconds], score=[c for _, c in strategy_seconds]))
    frame["other"] = frame["selection"] - frame[["index_search", "read_rows", "score"]].sum(axis=1)
    return frame


def parts_summary(parts) -> dict:
    """Mean seconds of each part of a SEALS round: round 0 (the initial labels' search), later rounds, all."""
    columns = ["selection", "index_search", "read_rows", "score", "other"]
    return {"round 0": parts.loc[parts["round"] == 0, columns].mean().to_dict(),
            "rounds 1+": parts.loc[parts["round"] > 0, columns].mean().to_dict(),
            "all rounds": parts[columns].mean().to_dict()}


def bookkeeping(index, n_labeled: int = 500, seed: int = 0) -> dict:
    """Seconds of the loop's per-round work outside the selection timer: unlabeled ids, candidate ids."""
    from dcai_lab.seals import CandidatePool

    labeled_ids = np.random.default_rng(seed).choice(len(index), n_labeled, replace=False)
    labeled = np.zeros(len(index), dtype=bool)
    labeled[labeled_ids] = True
    pool = CandidatePool(index, K_SEALS, labeled=labeled_ids)
    return dict(unlabeled_ids_seconds=best_of(lambda: np.flatnonzero(~labeled), 5)[0],
                candidate_ids_seconds=best_of(pool.ids, 5)[0], candidates=len(pool))


def memory() -> dict:
    """Peak resident set (GB) and the current anonymous / file-backed parts (``/proc/self/status``)."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    kb = {key: int(status[key].split()[0]) for key in ("VmHWM", "RssAnon", "RssFile") if key in status}
    return dict(peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                **{f"{key}_gb": value / 1e6 for key, value in kb.items()})


def run_size(n: int, *, seeds=SEEDS, n_rounds: int = N_ROUNDS, batch_size: int = BATCH_SIZE, k: int = K_SEALS,
             index_kind: str = INDEX_KIND, nprobe: int = NPROBE, n_queries: int = N_QUERIES,
             repeats: int = BASELINE_REPEATS, small_batch: int = SMALL_BATCH, cache_dir=None,
             progress: bool = True) -> dict:
    """The whole benchmark at one pool size; the results as a dict (what ``seals_scale_<n>.json`` holds)."""
    from benchmarks.bench_seals import summarize

    start, load_start = time.perf_counter(), os.getloadavg()
    pool, is_positive, test_emb, is_positive_test, pool_seconds = load_pool(n, cache_dir, progress)
    emb = pool.embeddings
    print(f"pool: {len(pool):,} items, {int(is_positive.sum()):,} of class {RARE_CLASS} ({is_positive.mean():.2%}); "
          f"embeddings {emb.shape} float32 memory-mapped ({emb.nbytes / 1e9:.2f} GB) from {pool.folder.name} "
          f"({pool_seconds:.0f} s; built in {pool.info['seconds_building']:.0f} s)", flush=True)
    build_start = time.perf_counter()
    index = AllCoresIndex(emb, kind=index_kind, nlist=nlist_for(len(emb)), nprobe=nprobe)
    build = time.perf_counter() - build_start
    info = dict(kind=index_kind, nlist=index.nlist, nprobe=index.nprobe, rerank=index.rerank,
                build_seconds=build, memory_mb=index.memory_bytes() / 1e6, **index_recall(index, n_queries))
    print(f"index: {index!r}, nlist {index.nlist}, nprobe {index.nprobe}: built in {build:.0f} s, "
          f"{info['memory_mb']:.0f} MB, recall@{RECALL_K} {info['recall_at_k']:.3f}, "
          f"{info['ms_per_query']:.3f} ms per query", flush=True)
    print("full-pool scoring baseline:", flush=True)
    phases = dict(open_pool=pool_seconds, index_build=build, index_recall=time.perf_counter() - build_start - build)
    phase_start = time.perf_counter()
    base = baseline(emb, is_positive, repeats)
    phases["baseline"] = time.perf_counter() - phase_start
    phase_start = time.perf_counter()
    frame, parts = rare_search(emb, is_positive, test_emb, is_positive_test, index, k, batch_size, n_rounds, seeds)
    phases["rare_search"] = time.perf_counter() - phase_start
    phase_start = time.perf_counter()
    small_rounds = n_rounds * batch_size // small_batch
    if small_rounds * small_batch != n_rounds * batch_size:
        raise ValueError(f"small_batch={small_batch} must divide the {n_rounds * batch_size} labels of the first pass")
    small, small_parts = rare_search(emb, is_positive, test_emb, is_positive_test, index, k, small_batch,
                                     small_rounds, seeds)
    phases["rare_search_small_batch"] = time.perf_counter() - phase_start
    phases["rare_search_by_method"] = {m: float(frame.loc[frame["method"] == m, "seconds_selecting"].sum())
                                       for m in METHODS}
    results = dict(pool_size=len(pool), rare_class=RARE_CLASS, prevalence=float(is_positive.mean()),
                   n_positives=int(is_positive.sum()), k=k, batch_size=batch_size, n_rounds=n_rounds,
                   seeds=list(seeds), methods=list(METHODS), pool_folder=pool.folder.name,
                   pool_build_seconds=pool.info["seconds_building"], pool_open_seconds=pool_seconds,
                   index=info, baseline=base, bookkeeping=bookkeeping(index), summary=summarize(frame),
                   seals_round_parts=parts_summary(parts),
                   small_batch=dict(batch_size=small_batch, n_rounds=small_rounds, summary=summarize(small),
                                    seals_round_parts=parts_summary(small_parts)))
    results["per_round"] = frame.groupby(["method", "round"], sort=False)[
        ["n_labeled", "n_scored", "seconds_selecting", "positives_found", "average_precision"]].mean().reset_index(
    ).to_dict(orient="records")
    results.update(memory=memory(), seconds=time.perf_counter() - start, phase_seconds=phases, machine=dict(
        cpus=os.cpu_count(), load_average_start=list(load_start), load_average_end=list(os.getloadavg())))
    print_summary(results)
    return results


def print_summary(r: dict) -> None:
    print(f"\n### n = {r['pool_size']:,}: mean over the selecting rounds and {len(r['seeds'])} seeds\n")
    for batch, summary, parts in [(r["batch_size"], r["summary"], r["seals_round_parts"]),
                                  (r["small_batch"]["batch_size"], r["small_batch"]["summary"],
                                   r["small_batch"]["seals_round_parts"])]:
        print(f"{batch} labels per round:\n")
        print("| method | points scored / round | selection s / round | positives found | test AP |")
        print("|---|---:|---:|---:|---:|")
        for method, row in summary.items():
            print(f"| {method} | {row['points_scored']:,.0f} | {row['selection_seconds']:.4f} | "
                  f"{row['positives_found']:.3f} | {row['average_precision']:.3f} |")
        seals = summary.get("SEALS + MaxEnt", {})
        if "fewer_points_scored" in seals:
            print(f"\nSEALS + MaxEnt: {seals['fewer_points_scored']:.0f}x fewer points, "
                  f"{seals['less_selection_time']:.0f}x "
                  f"less selection time, recall ratio {seals['recall_ratio']:.3f}, AP ratio {seals['ap_ratio']:.3f}")
        print("SEALS round, ms: " + "; ".join(f"{when}: " + ", ".join(f"{part} {1000 * sec:.1f}" for part, sec in
                                                                        row.items()) for when, row in parts.items()))
        print()
    print(f"peak memory {r['memory']['peak_rss_gb']:.2f} GB; {r['seconds']:.0f} s; load average "
          f"{r['machine']['load_average_start'][0]:.1f} -> {r['machine']['load_average_end'][0]:.1f}")


def cost_model(results: dict, n: float = 1e9, machine_gb: float = 64.0, round_seconds: float = 10.0) -> list[tuple]:
    """Per-item costs measured at one pool size, scaled to ``n`` items: rows (quantity, per item, at n).

    Assumptions (stated in README): the costs grow linearly in the number of items, except SEALS's
    round, whose candidates follow the labels and whose index search scans ``nprobe * n / nlist``
    codes per query; with ``nlist`` grown in proportion to ``n`` (faiss's advice for a billion:
    2^16..2^18 cells, trained on a sample) that stays as measured. A machine is this one: 2 cores,
    ``machine_gb`` of memory of which half may hold an index.
    """
    m = results["pool_size"]
    d = 128
    index_bytes = results["index"]["memory_mb"] * 1e6 / m
    embed_seconds = results["pool_build_seconds"] / (m * 1.15)  # per augmented item: distort and embed
    build_seconds = results["index"]["build_seconds"] / m
    fastest = max(w["points_per_second"] for w in results["baseline"]["ways"].values())
    loop_pps = results["baseline"]["ways"]["loop's entropy_sampling (float64 chunks), 1 thread"]["points_per_second"]
    seals = results["summary"]["SEALS + MaxEnt"]["selection_seconds"]
    full_fast, full_loop = n / fastest, n / loop_pps
    return [
        ("embeddings on disk (float32, d = 128)", f"{4 * d} B", f"{4 * d * n / 1e9:,.0f} GB"),
        ("IVF-SQ8 index in memory", f"{index_bytes:.0f} B", f"{index_bytes * n / 1e9:,.0f} GB: "
         f"{int(np.ceil(index_bytes * n / 1e9 / (machine_gb / 2)))} machines of {machine_gb:.0f} GB (shards)"),
        ("distort + embed, 2 cores", f"{embed_seconds * 1e6:.0f} us", f"{embed_seconds * n / 86400:,.0f} machine-days"),
        ("index build (train + add), 2 cores", f"{build_seconds * 1e6:.1f} us",
         f"{build_seconds * n / 3600:,.1f} machine-hours"),
        ("full-pool MaxEnt round, fastest way", f"{1e9 / fastest:.0f} ns",
         f"{full_fast:,.0f} s on one machine; {int(np.ceil(full_fast / round_seconds))} machines for a "
         f"{round_seconds:.0f} s round"),
        ("full-pool MaxEnt round, the loop's scoring", f"{1e9 / loop_pps:.0f} ns",
         f"{full_loop:,.0f} s on one machine"),
        (f"SEALS + MaxEnt round (k = {results['k']}, {results['batch_size']} labels)", "none", f"about {seals:.3f} s, as at {m:,} items, on one machine"),
    ] + [(f"SEALS + MaxEnt round (k = {results['k']}, {small['batch_size']} labels)", "none",
          f"about {small['summary']['SEALS + MaxEnt']['selection_seconds']:.3f} s, as at {m:,} items, on one machine")
         for small in [results.get("small_batch")] if small]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, help="one pool size, in this process (default: every size of SIZES, "
                        "each in its own process)")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0 .. n-1")
    parser.add_argument("--rounds", type=int, default=N_ROUNDS)
    parser.add_argument("--nprobe", type=int, default=NPROBE, help="IVF cells scanned per query")
    parser.add_argument("--no-save", action="store_true", help="do not write benchmarks/results/")
    parser.add_argument("--cost-model", action="store_true", help="print the cost model for a billion items from "
                        "the stored results of the largest pool, and stop")
    parser.add_argument("--plot", action="store_true", help=f"draw the curve of the stored results into {PLOT}, and stop")
    args = parser.parse_args(argv or [])
    if args.plot:
        from dcai_lab.seals_scaling import load_scaling_results, plot_seals_scaling

        plot_seals_scaling(load_scaling_results(RESULTS)).savefig(PLOT, dpi=100)
        print(f"wrote {PLOT}")
        return
    if args.cost_model:
        from dcai_lab.seals_scaling import load_scaling_results

        largest = load_scaling_results(RESULTS)[-1]
        print(f"| quantity | per item (measured at {largest['pool_size']:,}) | at 1,000,000,000 items |")
        print("|---|---:|---|")
        for row in cost_model(largest):
            print("| " + " | ".join(row) + " |")
        return
    if args.size is None:
        for n in SIZES:
            command = [sys.executable, "-m", "benchmarks.bench_seals_scale", "--size", str(n), "--seeds",
                       str(args.seeds), "--rounds", str(args.rounds), "--nprobe", str(args.nprobe)] + (["--no-save"] if args.no_save else [])
            subprocess.run(command, check=True, cwd=Path(__file__).parents[1])
        if not args.no_save:
            main(["--plot"])
        return
    results = run_size(args.size, seeds=tuple(range(args.seeds)), n_rounds=args.rounds, nprobe=args.nprobe)
    if not args.no_save:
        RESULTS.mkdir(exist_ok=True)
        results_path(args.size).write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {results_path(args.size)}")


if __name__ == "__main__":
    main(sys.argv[1:])
