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
- ``"hnsw"``: a navigable small-world graph; a greedy walk visits a few hundred points per
  query, so its search cost grows roughly like ``log n``.

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

from contextlib import contextmanager

import numpy as np

from dcai_lab._checks import check_choice, check_ids, check_int, check_matrix, check_seed, unit_rows

__all__ = ["KnnIndex", "recall_at_k", "INDEX_KINDS"]

INDEX_KINDS = ("flat", "lsh", "hnsw")
MAX_BITS = 16_384  # LSH: longer codes cost n * n_bits / 8 bytes and add little recall


class KnnIndex:
    """A faiss index over a pool's embeddings: :meth:`neighbors` of pool ids, :meth:`search` by vectors.

    Parameters
    ----------
    embeddings : array (n, d); row ``i`` is pool id ``i``. Finite, no all-zero row.
    kind : ``"flat"`` (exact, ``IndexFlatIP``), ``"lsh"`` (``IndexLSH``) or ``"hnsw"``
        (``IndexHNSWFlat`` with the inner product); see the module docstring.
    n_bits : LSH code length, default ``4 * d`` (at most 16,384).
    hnsw_m : HNSW links per point, at least 2 (memory, build time and recall grow with it).
    ef_search, ef_construction : HNSW queue sizes while searching (faiss uses
        ``max(ef_search, k)``) and building.
    seed : seeds LSH's random hyperplanes and HNSW's level generator.

    Notes
    -----
    Flat and LSH search are deterministic. The HNSW graph depends on the order in which
    threads insert points, so it is built with one faiss thread: the same embeddings and
    seed always give the same graph and the same neighbours.

    >>> x = np.random.default_rng(0).standard_normal((500, 16))
    >>> _, exact = KnnIndex(x, kind="flat").neighbors(np.arange(50), k=10)
    >>> _, lsh = KnnIndex(x, kind="lsh", n_bits=256).neighbors(np.arange(50), k=10)
    >>> 0.3 < recall_at_k(lsh, exact) < 1.0
    True
    """

    def __init__(self, embeddings, kind: str = "flat", n_bits: int | None = None, hnsw_m: int = 16,
                 ef_search: int = 64, ef_construction: int = 40, seed: int = 0) -> None:
        import faiss

        self.kind = check_choice(kind, "kind", INDEX_KINDS)
        x = check_matrix(embeddings, "embeddings", what="(n_points, dim)", dtype=None)
        self.vectors = unit_rows(x, "embeddings", dtype=np.float32)
        n, d = self.vectors.shape
        self.n_bits = 4 * d if n_bits is None else check_int(n_bits, "n_bits", min=1, max=MAX_BITS)
        self.hnsw_m = check_int(hnsw_m, "hnsw_m", min=2, hint=" (faiss's HNSW needs at least 2 links per point)")
        self.ef_search = check_int(ef_search, "ef_search", min=1)
        self.ef_construction = check_int(ef_construction, "ef_construction", min=1)
        self.seed = check_seed(seed)
        if self.kind == "flat":
            self.index = faiss.IndexFlatIP(d)
            self.index.add(self.vectors)
        elif self.kind == "lsh":
            self.index = faiss.IndexLSH(d, self.n_bits)  # rotate_data=True: random hyperplanes, threshold 0
            self.index.rrot.init(self.seed)
            self.index.train(self.vectors)
            self.index.add(self.vectors)
        else:
            self.index = faiss.IndexHNSWFlat(d, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.rng = faiss.RandomGenerator(self.seed)
            self.index.hnsw.efConstruction = self.ef_construction
            self.index.hnsw.efSearch = self.ef_search
            with _faiss_threads(1):
                self.index.add(self.vectors)

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
        queries = np.asarray(queries)
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
        scores, found = self.index.search(unit_queries, k)
        found = found.astype(np.int64)
        sims = np.cos(np.pi * scores / self.n_bits) if self.kind == "lsh" else scores
        return np.where(found < 0, -np.inf, sims).astype(np.float32), found

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


@contextmanager
def _faiss_threads(n_threads: int):
    """Run faiss with ``n_threads`` OpenMP threads, then restore the previous number."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n_threads)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
