"""The IVF machinery shared by :mod:`dcai_lab.knn` and :mod:`dcai_lab.knn_shards`: training, checks, threads.

Private to the package (the public faces are ``KnnIndex(kind="ivfsq" | "ivfpq")`` and
:func:`dcai_lab.knn_shards.train_ivf`); one home, so a shard's trained index is exactly the one
``KnnIndex`` trains.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from dcai_lab._checks import CHUNK_ROWS, some

PQ_CENTROIDS = 256  # IVF-PQ: one byte per code
TRAIN_PER_CENTROID = 39  # faiss's k-means wants at least 39 training points per centroid
MIN_IVF_POINTS = PQ_CENTROIDS * TRAIN_PER_CENTROID  # 9,984 points train PQ's 256-centroid codebooks
HNSW_CELLS = 1024  # IVF with more cells finds a point's cell with an HNSW graph of the centroids
UNIT_TOLERANCE = 1e-4  # memory-mapped embeddings: |norm - 1| allowed without a copy


def unit_memmap(vectors: np.memmap) -> np.memmap:
    """A memory-mapped embedding file, checked chunk by chunk (float32, finite unit rows) and returned as is."""
    if vectors.ndim != 2 or vectors.dtype != np.float32 or 0 in vectors.shape:
        raise ValueError(f"memory-mapped embeddings must be a float32 array (n_points, dim), got dtype "
                         f"{vectors.dtype} and shape {vectors.shape}")
    for start in range(0, len(vectors), CHUNK_ROWS):
        norms = np.linalg.norm(vectors[start:start + CHUNK_ROWS], axis=1)
        bad = np.flatnonzero(~(np.abs(norms - 1) <= UNIT_TOLERANCE))  # NaN fails too
        if len(bad):
            raise ValueError(f"memory-mapped embeddings must hold finite unit rows (embed(..., normalize=True)), "
                             f"rows {some(bad + start)} do not; normalise them into a new file, or load them into "
                             "memory (np.asarray) to be normalised here")
    return vectors


def train_ivf(vectors, nlist: int, pq_bytes: int | None, seed: int):
    """An empty, trained IVF index (inner product): k-means cells, and the codes' ranges (SQ, ``pq_bytes``
    None) or codebooks (PQ), from a seeded sample.

    Above ``HNSW_CELLS`` cells the centroids go into an HNSW graph (built with one thread:
    deterministic), so that assigning each of ``n`` points to its cell costs about ``log nlist``
    comparisons instead of ``nlist`` (faiss's advice for large ``nlist``).
    """
    import faiss

    n, d = vectors.shape
    n_train = min(n, max(MIN_IVF_POINTS, TRAIN_PER_CENTROID * nlist))
    sample = np.sort(np.random.default_rng(seed).choice(n, n_train, replace=False))
    train = np.ascontiguousarray(vectors[sample], dtype=np.float32)
    kmeans = faiss.Kmeans(d, nlist, niter=10, seed=seed, spherical=True, verbose=False)
    kmeans.train(train)
    if nlist > HNSW_CELLS:
        quantizer = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        quantizer.hnsw.rng = faiss.RandomGenerator(seed)
        quantizer.hnsw.efSearch = 16  # faiss searches with max(efSearch, nprobe); at small nprobe as good as 64 (README)
    else:
        quantizer = faiss.IndexFlatIP(d)
    with faiss_threads(1):
        quantizer.add(kmeans.centroids)
    if pq_bytes is None:
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFPQ(quantizer, d, nlist, pq_bytes, 8, faiss.METRIC_INNER_PRODUCT)
        index.pq.cp.seed = seed
    index.train(train)  # the quantizer is full, so this trains the codes only
    return index


@contextmanager
def faiss_threads(n_threads: int):
    """Run faiss with ``n_threads`` OpenMP threads, then restore the previous number."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
