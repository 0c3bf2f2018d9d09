"""Nearest-neighbour search by cosine similarity over a pool's embeddings (notebooks 02 and 04).

Every id is a **pool id**: row ``i`` of the embeddings is id ``i``, in every round. The rows
are scaled to unit length, so the inner product of two rows is their cosine similarity,
``cos(a, b) = a.b / (|a| |b|)``. Three indexes (faiss):

- ``"flat"``: exact search, the inner product with every row (``n * d`` per query);
- ``"lsh"``: random-hyperplane locality-sensitive hashing: bit ``j`` of a point is
  ``r_j . x > 0`` for a random direction ``r_j``. Two points at angle ``theta`` disagree on a
  bit with probability ``theta / pi``, so the Hamming distance ``h`` of their codes estimates
  ``theta ~= pi * h / n_bits``. faiss scans every code (fast popcounts on ``n_bits / 8`` bytes
  per point): the search is still linear in the pool, only cheaper per point;
- ``"hnsw"``: a navigable small-world graph; a greedy walk keeps the ``ef_search`` best points
  met and visits their links (up to ``2 * hnsw_m`` each) layer by layer, so its search cost
  grows roughly like ``log n``;
- ``"ivfsq"`` and ``"ivfpq"``: an inverted file of compressed vectors, for pools whose float
  vectors do not fit in memory (notebook 02, section 12). k-means cuts the space into ``nlist``
  cells and every point is stored, compressed, in the list of its cell; a query scans only the
  lists of its ``nprobe`` nearest cells, ``n * nprobe / nlist`` codes instead of ``n``. The
  codes: ``"ivfsq"`` keeps each coordinate in 8 bits (``d`` bytes instead of ``4 d``, error
  ``range / 512`` per coordinate); ``"ivfpq"`` (product quantization, Jégou et al. 2011) cuts a
  point's offset from its cell's centre into ``pq_bytes`` sub-vectors and keeps for each the
  number of the nearest of 256 centroids: ``pq_bytes`` bytes, far smaller and far coarser.
  Either can re-rank the ``rerank * k`` best codes of a query by their exact cosine, read from
  the embeddings (a memory-mapped file works: only those rows are read).

Embeddings given as a ``np.memmap`` of float32 unit rows (``np.load(path, mmap_mode="r")``,
:mod:`dcai_lab.pool_files`) are not copied: they are checked and added to the index chunk by chunk.

>>> rng = np.random.default_rng(0)
>>> index = KnnIndex(rng.standard_normal((100, 8)), kind="flat")
>>> sims, ids = index.neighbors([3], k=2)       # the 2 nearest neighbours of pool point 3
>>> ids.shape, bool(3 in ids)
((1, 2), False)
>>> sims, ids = index.search(index.vectors[[3]], k=1)   # search by vector: point 3 finds itself
>>> ids.tolist()
[[3]]
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import CHUNK_ROWS, as_array, check_choice, check_ids, check_int, check_matrix, check_seed, \
    unit_rows
from dcai_lab._ivf import MIN_IVF_POINTS, TRAIN_PER_CENTROID
from dcai_lab._ivf import faiss_threads as _faiss_threads
from dcai_lab._ivf import train_ivf as _train_ivf
from dcai_lab._ivf import unit_memmap as _unit_memmap

__all__ = ["KnnIndex", "recall_at_k", "exact_search", "ivf_settings", "INDEX_KINDS"]

INDEX_KINDS = ("flat", "lsh", "hnsw", "ivfsq", "ivfpq")
IVF_KINDS = ("ivfsq", "ivfpq")
MAX_BITS = 16_384  # LSH: longer codes cost n * n_bits / 8 bytes and add little recall


class KnnIndex:
    """A faiss index over a pool's embeddings: :meth:`neighbors` of pool ids, :meth:`search` by vectors.

    Parameters
    ----------
    embeddings : array (n, d); row ``i`` is pool id ``i``. Finite, no all-zero row.
    kind : ``"flat"`` (exact, ``IndexFlatIP``), ``"lsh"`` (``IndexLSH``), ``"hnsw"``
        (``IndexHNSWFlat`` with the inner product), ``"ivfsq"`` (``IndexIVFScalarQuantizer``,
        8 bits) or ``"ivfpq"`` (``IndexIVFPQ``); see the module docstring.
    n_bits : LSH code length, default ``4 * d`` (at most 16,384).
    hnsw_m : HNSW links per point, at least 2 (memory, build time and recall grow with it).
    ef_search, ef_construction : HNSW queue sizes while searching (faiss uses
        ``max(ef_search, k)``) and building.
    seed : seeds LSH's random hyperplanes, HNSW's level generator and the IVF k-means.
    nlist : IVF cells; default the power of two nearest ``sqrt(n)`` (at most ``n / 39``).
    nprobe : IVF cells scanned per query (recall and search time grow with it).
    pq_bytes : IVF-PQ bytes per point; it must divide ``d``; default ``d / 8`` (or the
        nearest divisor of ``d`` below it).
    rerank : IVF only: re-rank the ``rerank * k`` best codes of a query by their exact cosine,
        read from the embeddings; 0 returns the codes' estimates. Default 0 for ``"ivfsq"``,
        4 for ``"ivfpq"`` (its codes are too coarse to order close neighbours).

    Notes
    -----
    Flat, LSH and IVF search are deterministic. The HNSW graph depends on the order in which
    threads insert points, so it is built with one faiss thread: the same embeddings and
    seed always give the same graph and the same neighbours. The IVF kinds train on a seeded
    sample of ``39 * nlist`` points (at least 9,984, the pool if smaller) and need at least
    9,984 points.

    >>> x = np.random.default_rng(0).standard_normal((500, 16))
    >>> _, exact = KnnIndex(x, kind="flat").neighbors(np.arange(50), k=10)
    >>> _, lsh = KnnIndex(x, kind="lsh", n_bits=256).neighbors(np.arange(50), k=10)
    >>> 0.3 < recall_at_k(lsh, exact) < 1.0
    True
    """

    def __init__(self, embeddings, kind: str = "flat", n_bits: int | None = None, hnsw_m: int = 16,
                 ef_search: int = 64, ef_construction: int = 40, seed: int = 0, nlist: int | None = None,
                 nprobe: int = 8, pq_bytes: int | None = None, rerank: int | None = None) -> None:
        import faiss

        self.kind = check_choice(kind, "kind", INDEX_KINDS)
        if isinstance(embeddings, np.memmap):
            self.vectors = _unit_memmap(embeddings)
        else:
            x = check_matrix(embeddings, "embeddings", what="(n_points, dim)", dtype=None)
            self.vectors = unit_rows(x, "embeddings", dtype=np.float32)
        n, d = self.vectors.shape
        self.n_bits = 4 * d if n_bits is None else check_int(n_bits, "n_bits", min=1, max=MAX_BITS)
        self.hnsw_m = check_int(hnsw_m, "hnsw_m", min=2, hint=" (faiss's HNSW needs at least 2 links per point)")
        self.ef_search = check_int(ef_search, "ef_search", min=1)
        self.ef_construction = check_int(ef_construction, "ef_construction", min=1)
        self.seed = check_seed(seed)
        self.nprobe = check_int(nprobe, "nprobe", min=1)
        rerank = (4 if self.kind == "ivfpq" else 0) if rerank is None else rerank
        self.rerank = check_int(rerank, "rerank", min=0, hint=" (0 = no re-ranking)")
        self.nlist = self.pq_bytes = None
        if self.kind in IVF_KINDS:
            self.nlist, self.pq_bytes = ivf_settings(self.kind, n, d, nlist, pq_bytes)
        if self.kind == "flat":
            self.index = faiss.IndexFlatIP(d)
        elif self.kind == "lsh":
            self.index = faiss.IndexLSH(d, self.n_bits)  # rotate_data=True: random hyperplanes, threshold 0
            self.index.rrot.init(self.seed)
            self.index.train(np.ascontiguousarray(self.vectors[:CHUNK_ROWS]))  # trains nothing on the data
        elif self.kind in IVF_KINDS:
            self.index = _train_ivf(self.vectors, self.nlist, self.pq_bytes, self.seed)
            self.index.nprobe = min(self.nprobe, self.nlist)
        else:
            self.index = faiss.IndexHNSWFlat(d, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.rng = faiss.RandomGenerator(self.seed)
            self.index.hnsw.efConstruction = self.ef_construction
            self.index.hnsw.efSearch = self.ef_search
            with _faiss_threads(1):  # all points in one call: the insertion order (hence the graph) is faiss's
                self.index.add(np.ascontiguousarray(self.vectors))
            return
        for start in range(0, n, CHUNK_ROWS):  # a memory-mapped file is read one chunk at a time
            self.index.add(np.ascontiguousarray(self.vectors[start:start + CHUNK_ROWS]))

    @classmethod
    def from_faiss(cls, index, embeddings, kind: str = "ivfsq", rerank: int | None = None) -> "KnnIndex":
        """A KnnIndex around a faiss index built elsewhere over the same embeddings (row ``i`` is pool id ``i``).

        For indexes made by :mod:`dcai_lab.knn_shards` (shards searched together, lists on disk) or
        read with ``faiss.read_index``; ``kind`` says how to read its scores (``"lsh"``: Hamming
        distances; ``"ivfsq"`` / ``"ivfpq"``: re-ranked by ``rerank`` as in the constructor). The
        search settings (``nprobe``, ``efSearch``) are the index's own.
        """
        self = cls.__new__(cls)
        self.kind = check_choice(kind, "kind", INDEX_KINDS)
        self.vectors = _unit_memmap(embeddings) if isinstance(embeddings, np.memmap) else unit_rows(
            check_matrix(embeddings, "embeddings", what="(n_points, dim)", dtype=None), "embeddings", np.float32)
        if index.ntotal != len(self.vectors) or index.d != self.vectors.shape[1]:
            raise ValueError(f"the faiss index holds {index.ntotal} vectors of {index.d} dimensions, the embeddings "
                             f"{self.vectors.shape}: build the index over these embeddings (row i = pool id i)")
        self.index, self.seed = index, None
        self.n_bits = getattr(index, "nbits", None)
        self.hnsw_m = self.ef_search = self.ef_construction = self.nlist = self.pq_bytes = self.nprobe = None
        rerank = (4 if self.kind == "ivfpq" else 0) if rerank is None else rerank
        self.rerank = check_int(rerank, "rerank", min=0, hint=" (0 = no re-ranking)")
        return self

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @property
    def dim(self) -> int:
        """Number of dimensions ``d`` of the embeddings."""
        return self.vectors.shape[1]

    def __repr__(self) -> str:
        return f"KnnIndex(kind={self.kind!r}, n={len(self)}, dim={self.dim})"

    def neighbors(self, ids, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar pool points of each pool point in ``ids``, itself left out.

        Returns ``(similarities, neighbour_ids)``, each of shape ``(len(ids), k)``, most similar
        first. Similarities are cosines (LSH: the estimate ``cos(pi * hamming / n_bits)``).
        HNSW may find fewer than ``k`` when its graph cannot reach them: missing ids are
        ``-1`` (similarity ``-inf``).
        """
        ids = check_ids(ids, len(self), "ids")
        k = check_int(k, "k", min=1, max=len(self) - 1, hint=f" (the pool has {len(self)} points, minus the query)")
        sims, found = self._search(self.vectors[ids], k + 1)
        keep = found != ids[:, None]            # drop the query itself, or the last one where it is absent
        keep[keep.all(axis=1), -1] = False
        return sims[keep].reshape(-1, k), found[keep].reshape(-1, k)

    def search(self, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar pool points of each query vector (a row of ``queries``, any length).

        ``queries`` is an array (m, d) of vectors embedded like the pool; for the neighbours
        of pool points use :meth:`neighbors`. Returns ``(similarities, pool_ids)`` as there.
        """
        queries = as_array(queries, "queries")
        if queries.ndim == 1 and np.issubdtype(queries.dtype, np.integer):
            raise ValueError("search takes query vectors (m, d); for the neighbours of pool ids use "
                             "index.neighbors(ids, k)")
        queries = check_matrix(queries, "queries", what=f"(m, {self.dim}), one vector per query", n_cols=self.dim,
                               min_rows=0, dtype=None)
        k = check_int(k, "k", min=1, max=len(self), hint=f" (the pool has {len(self)} points)")
        return self._search(unit_rows(queries, "queries", dtype=np.float32), k)

    def _search(self, unit_queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """faiss's search of checked unit float32 queries: cosine similarities and pool ids (m, k)."""
        if len(unit_queries) == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        if self.kind in IVF_KINDS and self.rerank:
            return self._reranked(unit_queries, k)
        scores, found = self.index.search(unit_queries, k)
        found = found.astype(np.int64)
        sims = np.cos(np.pi * scores / self.n_bits) if self.kind == "lsh" else scores
        return np.where(found < 0, -np.inf, sims).astype(np.float32), found

    def _reranked(self, unit_queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """IVF: the ``rerank * k`` best codes per query, re-ranked by the exact cosine of their vectors."""
        _, found = self.index.search(unit_queries, min(len(self), self.rerank * k))
        found = found.astype(np.int64)
        rows = np.unique(found[found >= 0])  # sorted: a memory-mapped file is read in order
        vectors = np.asarray(self.vectors[rows], dtype=np.float32)
        where = np.searchsorted(rows, np.maximum(found, 0))
        sims = np.einsum("qkd,qd->qk", vectors[where], unit_queries)
        sims[found < 0] = -np.inf
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # ties keep the codes' order
        return np.take_along_axis(sims, order, axis=1).astype(np.float32), np.take_along_axis(found, order, axis=1)

    # ------------------------------------------------------------------ LSH, inside

    @property
    def hyperplanes(self) -> np.ndarray:
        """LSH only: the ``n_bits`` random hyperplane normals ``r_j``, an array (n_bits, d)."""
        import faiss

        self._need_lsh("hyperplanes")
        return faiss.vector_to_array(self.index.rrot.A).reshape(self.n_bits, self.dim)

    def lsh_bits(self, ids) -> np.ndarray:
        """LSH only: the bit codes of pool points, a bool array (m, n_bits); bit ``j`` is ``r_j . x > 0``.

        >>> index = KnnIndex(np.eye(3) + 0.1, kind="lsh", n_bits=8)
        >>> bits = index.lsh_bits([0, 1, 2])
        >>> bits.shape, bool(np.array_equal(bits, index.vectors @ index.hyperplanes.T > 0))
        ((3, 8), True)
        """
        self._need_lsh("lsh_bits")
        codes = self.index.sa_encode(self.vectors[check_ids(ids, len(self), "ids")])  # bit j: bit j % 8 of byte j // 8
        return np.unpackbits(codes, axis=1, count=self.n_bits, bitorder="little").astype(bool)

    def _need_lsh(self, what: str) -> None:
        if self.kind != "lsh":
            raise ValueError(f"{what} exists only for kind='lsh', this index is {self.kind!r}")

    def memory_bytes(self) -> int:
        """Size of the faiss index in bytes (its serialized form: vectors, codes or graph)."""
        import faiss

        return int(faiss.serialize_index(self.index).nbytes)


def recall_at_k(approx_ids, exact_ids) -> float:
    """Fraction of the exact ``k`` nearest neighbours that an approximate search also returned.

    ``recall@k = mean over queries of |approx_i & exact_i| / k``, ``k`` the number of columns
    of ``exact_ids``. Ids of ``-1`` (not found) never count.

    >>> recall_at_k([[1, 2, 3], [4, 5, 6]], [[3, 2, 9], [4, 5, 6]])
    0.8333333333333334
    """
    approx, exact = np.asarray(approx_ids), np.asarray(exact_ids)
    if approx.ndim != 2 or exact.ndim != 2 or approx.shape[0] != exact.shape[0] or 0 in exact.shape:
        raise ValueError(f"approx_ids and exact_ids must be 2-D with one row per query (at least one query and one "
                         f"neighbour), got shapes {approx.shape} and {exact.shape}")
    if not (np.issubdtype(approx.dtype, np.integer) and np.issubdtype(exact.dtype, np.integer)):
        raise ValueError(f"approx_ids and exact_ids must be pool ids (integers), got {approx.dtype} and {exact.dtype}")
    hits = sum(len(np.intersect1d(a[a >= 0], e[e >= 0])) for a, e in zip(approx, exact))
    return float(hits / exact.size)


def ivf_settings(kind: str, n: int, d: int, nlist: int | None = None, pq_bytes: int | None = None):
    """``(nlist, pq_bytes)`` of an IVF index over ``n`` points of ``d`` dimensions, checked or defaulted.

    ``nlist`` defaults to the power of two nearest ``sqrt(n)``, at most ``n / 39`` (k-means
    needs 39 points per cell); ``pq_bytes`` (``"ivfpq"`` only, else None) must divide ``d``,
    default ``d / 8``.

    >>> ivf_settings("ivfpq", 1_000_000, 128)
    (1024, 16)
    """
    kind = check_choice(kind, "kind", IVF_KINDS)
    if n < MIN_IVF_POINTS:
        raise ValueError(f"kind={kind!r} needs at least {MIN_IVF_POINTS:,} points to train its cells and codes, "
                         f"got {n:,}; use kind='flat' or 'hnsw' for a pool this small")
    most = max(1, n // TRAIN_PER_CENTROID)
    default_nlist = min(most, 2 ** int(round(np.log2(np.sqrt(n)))))
    nlist = default_nlist if nlist is None else check_int(
        nlist, "nlist", min=1, max=most, hint=f" (k-means needs {TRAIN_PER_CENTROID} points per cell)")
    if kind != "ivfpq":
        return nlist, None
    if pq_bytes is None:
        pq_bytes = max(b for b in range(1, max(1, d // 8) + 1) if d % b == 0)
    pq_bytes = check_int(pq_bytes, "pq_bytes", min=1, max=d)
    if d % pq_bytes:
        raise ValueError(f"pq_bytes must divide the embedding dimension {d}, got {pq_bytes}; "
                         f"try one of {[b for b in range(1, min(d, 64) + 1) if d % b == 0]}")
    return nlist, pq_bytes


def exact_search(embeddings, queries, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact ``k`` largest inner products of each query with the rows of ``embeddings``, chunk by chunk.

    ``(similarities, ids)`` of shape (m, k), largest first (equal similarities in any order).
    Reads the embeddings (a memory-mapped file works) one chunk of rows at a time
    (``faiss.knn`` per chunk, merged with ``faiss.ResultHeap``), so memory stays at one chunk:
    the reference against which approximate indexes are measured on huge pools. For unit
    rows the inner product is the cosine similarity.

    >>> x = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    >>> sims, ids = exact_search(x, [[1.0, 0.0]], k=2)
    >>> ids.tolist(), np.round(sims.astype(float), 2).tolist()
    ([[0, 2]], [[1.0, 0.6]])
    """
    import faiss

    if not isinstance(embeddings, np.memmap):
        embeddings = check_matrix(embeddings, "embeddings", what="(n_points, dim)", dtype=None)
    elif embeddings.ndim != 2:
        raise ValueError(f"embeddings must be a 2-D array (n_points, dim), got shape {embeddings.shape}")
    n, d = embeddings.shape
    queries = check_matrix(queries, "queries", what=f"(m, {d}), one vector per query", n_cols=d, dtype=np.float32)
    k = check_int(k, "k", min=1, max=n, hint=f" (there are {n} rows)")
    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for start in range(0, n, CHUNK_ROWS):
        chunk = np.ascontiguousarray(embeddings[start:start + CHUNK_ROWS], dtype=np.float32)
        sims, ids = faiss.knn(queries, chunk, min(k, len(chunk)), metric=faiss.METRIC_INNER_PRODUCT)
        heap.add_result(sims, ids + start)
    heap.finalize()
    return heap.D, heap.I
