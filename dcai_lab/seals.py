"""SEALS: similarity search for efficient active learning and search of rare concepts.

Coleman et al., "Similarity Search for Efficient Active Learning and Search of
Rare Concepts" (AAAI 2022). Full-pool active learning scores *every* unlabeled
point in every round, which is slow on a pool of millions. SEALS scores only the
**candidate pool**: the union of the ``k`` nearest neighbours (in an embedding
space) of every labeled point. Unusual, informative points tend to sit next to
the points already labeled, so little is lost, and the candidate pool grows with
the number of labels, not with the size of the pool.

- :class:`KnnIndex`: a nearest-neighbour index over the pool's embeddings (faiss):
  exact cosine search (``"flat"``), random-hyperplane LSH (``"lsh"``) or an HNSW
  graph (``"hnsw"``). Every id it returns is a **pool id**: row ``i`` of the
  embeddings is id ``i``, in every round.
- :func:`recall_at_k`: how many of the exact neighbours an approximate index finds.
- :class:`CandidatePool`: the candidate set, updated with the newly labeled points only.
- :func:`run_seals`: :func:`dcai_lab.active.run_active_learning` with a candidate pool: the same loop,
  the same ``History`` (with candidates scored and candidate-pool size per round), any strategy.
- Rare-concept search: :func:`initial_rare_labels` (5 positives + random negatives),
  :func:`positives_found`, :func:`rare_average_precision`, :func:`rare_search_curve` and
  :func:`rare_concept_search` (one of :data:`RARE_METHODS`: random, full MaxEnt, SEALS + MaxEnt, SEALS + ID).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> embeddings = rng.standard_normal((100, 8)).astype(np.float32)
>>> index = KnnIndex(embeddings, kind="flat")
>>> sims, ids = index.search(np.array([3]), k=2)     # the 2 nearest neighbours of point 3
>>> ids.shape, bool(3 in ids)
((1, 2), False)
>>> pool = CandidatePool(index, k=2)
>>> pool.add_labeled([3])
>>> np.array_equal(pool.ids(), np.sort(ids[0]))
True
"""

from __future__ import annotations

import numbers
import time
from contextlib import contextmanager

import numpy as np

__all__ = ["KnnIndex", "recall_at_k", "CandidatePool", "INDEX_KINDS", "run_seals", "RARE_METHODS",
           "rare_search_curve", "rare_concept_search",
           "initial_rare_labels", "positives_found", "rare_average_precision"]

INDEX_KINDS = ("flat", "lsh", "hnsw")


# --------------------------------------------------------------------------- validation helpers


def _normalized(vectors, name: str) -> np.ndarray:
    """Rows scaled to unit L2 norm, float32; NaN, infinite or all-zero rows raise ``ValueError``."""
    x = np.asarray(vectors)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n_points, n_dims), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    x = x.astype(np.float32)  # a copy: the caller's array is never changed
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad):
        raise ValueError(f"{name} must be finite: rows {_some(bad)} hold NaN or infinite values; "
                         "fix or drop those rows before building the index")
    norms = np.linalg.norm(x, axis=1)
    zero = np.flatnonzero(norms == 0)
    if len(zero):
        raise ValueError(f"{name} must have no zero-norm rows (cosine similarity needs a direction): rows "
                         f"{_some(zero)} are all zero; drop them or use another embedding")
    x /= norms[:, None]
    return x


def _some(rows: np.ndarray) -> str:
    return f"{rows[:5].tolist()}{' ...' if len(rows) > 5 else ''}"


def _check_ids(ids, n: int, name: str = "ids") -> np.ndarray:
    """A 1-D int64 array of pool ids, each in ``0 .. n - 1``."""
    arr = np.asarray(ids)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of pool ids, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer pool ids (row numbers of the embeddings), got dtype {arr.dtype}")
    outside = arr[(arr < 0) | (arr >= n)]
    if len(outside):
        raise ValueError(f"{name} must be pool ids in 0..{n - 1} (row numbers of the embeddings); "
                         f"got {_some(outside)}, outside the pool of {n}")
    return arr.astype(np.int64)


def _check_k(k, n: int, exclude_self: bool) -> int:
    most = n - 1 if exclude_self else n
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k <= 0:
        raise ValueError(f"k must be a positive number of neighbours, got {k!r}")
    if k > most:
        raise ValueError(f"k={k} is larger than the pool: there are only {most} neighbours to return "
                         f"({n} points{', minus the query itself' if exclude_self else ''}); use k <= {most}")
    return int(k)


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


# --------------------------------------------------------------------------- the index


class KnnIndex:
    """Nearest-neighbour search over a pool's embeddings with cosine similarity (faiss).

    The embeddings are L2-normalized (float32) so that the inner product of two
    rows is their cosine similarity, ``cos(a, b) = a.b / (|a| |b|)``.

    Parameters
    ----------
    embeddings : array of shape (n, d)
        One row per pool point; row ``i`` is pool id ``i``. No NaN, no all-zero row.
    kind : ``"flat"``, ``"lsh"`` or ``"hnsw"``
        - ``"flat"``: exact search, ``faiss.IndexFlatIP``: the inner product with every
          row (cost ``n * d`` per query).
        - ``"lsh"``: random-hyperplane locality-sensitive hashing, ``faiss.IndexLSH(d, n_bits)``.
          Each point becomes ``n_bits`` bits; bit ``j`` is the *sign* of the point's
          projection on a random hyperplane normal ``r_j`` (1 if ``r_j . x > 0``).
          Two points at angle ``theta`` disagree on a bit with probability
          ``theta / pi``, so their Hamming distance ``h`` estimates the angle:
          ``theta ~= pi * h / n_bits``. Search compares short bit codes (fast
          popcounts, ``n_bits / 8`` bytes per point) instead of float vectors; the
          similarities it returns are the estimates ``cos(pi * h / n_bits)``.
        - ``"hnsw"``: ``faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)``,
          a navigable small-world graph: a greedy walk from an entry point visits
          only a few hundred points per query.
    n_bits : int, default ``4 * d``
        LSH code length: more bits, better estimates of the angle, larger codes.
    hnsw_m : int, default 16
        HNSW: links per point (memory and build time grow with it, so does recall).
    ef_search : int, default 64
        HNSW: size of the search queue (faiss uses ``max(ef_search, k)``); larger is
        slower and more accurate.
    ef_construction : int, default 40
        HNSW: size of the queue while building the graph.
    seed : int, default 0
        Seeds the random hyperplanes of LSH (``index.rrot.init(seed)``) and HNSW's
        level generator (``index.hnsw.rng``).

    Notes
    -----
    Determinism: flat and LSH search are deterministic. The HNSW graph depends on
    the order in which threads insert points, so it is built with a single faiss
    (OpenMP) thread (then the previous number of threads is restored): the same
    embeddings and seed always give the same graph and the same neighbours.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((500, 16))
    >>> exact = KnnIndex(x, kind="flat")
    >>> lsh = KnnIndex(x, kind="lsh", n_bits=256)
    >>> _, exact_ids = exact.search(np.arange(50), k=10)
    >>> _, lsh_ids = lsh.search(np.arange(50), k=10)
    >>> 0.3 < recall_at_k(lsh_ids, exact_ids) < 1.0
    True
    """

    def __init__(self, embeddings, kind: str = "flat", n_bits: int | None = None, hnsw_m: int = 16,
                 ef_search: int = 64, ef_construction: int = 40, seed: int = 0) -> None:
        import faiss

        if kind not in INDEX_KINDS:
            raise ValueError(f"kind must be one of {', '.join(map(repr, INDEX_KINDS))}, got {kind!r}")
        self.vectors = _normalized(embeddings, "embeddings")
        self.kind = kind
        n, d = self.vectors.shape
        self.n_bits = int(n_bits) if n_bits is not None else 4 * d
        self.hnsw_m, self.ef_search, self.ef_construction, self.seed = hnsw_m, ef_search, ef_construction, seed
        for name in ("n_bits", "hnsw_m", "ef_search", "ef_construction"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if kind == "flat":
            self.index = faiss.IndexFlatIP(d)
            self.index.add(self.vectors)
        elif kind == "lsh":
            self.index = faiss.IndexLSH(d, self.n_bits)  # rotate_data=True: random hyperplanes, threshold 0
            self.index.rrot.init(seed)
            self.index.train(self.vectors)
            self.index.add(self.vectors)
        else:
            self.index = faiss.IndexHNSWFlat(d, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self.index.hnsw.rng = faiss.RandomGenerator(seed)
            self.index.hnsw.efConstruction = ef_construction
            self.index.hnsw.efSearch = ef_search
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

    def memory_bytes(self) -> int:
        """Size of the faiss index in bytes (its serialized form: vectors, codes or graph)."""
        import faiss

        return int(faiss.serialize_index(self.index).nbytes)

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
        ids = _check_ids(ids, len(self), "ids")
        codes = self.index.sa_encode(self.vectors[ids])  # packed, bit j of a code is bit j % 8 of byte j // 8
        return np.unpackbits(codes, axis=1, count=self.n_bits, bitorder="little").astype(bool)

    def _need_lsh(self, what: str) -> None:
        if self.kind != "lsh":
            raise ValueError(f"{what} exists only for kind='lsh', this index is {self.kind!r}")

    def search(self, queries_or_ids, k: int, exclude_self: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most similar pool points of each query.

        Parameters
        ----------
        queries_or_ids : 1-D integer array of pool ids, or float array of shape (m, d)
            Pool ids search for the neighbours of those pool points; float rows are
            new query vectors (normalized here).
        k : int
            Number of neighbours, ``1 <= k <= n`` (``n - 1`` with ``exclude_self``).
        exclude_self : bool, default True for pool ids, False for vectors
            Leave each queried pool point out of its own neighbours (only with ids).

        Returns
        -------
        similarities : float32 array (m, k)
            Cosine similarities, most similar first (LSH: ``cos(pi * hamming / n_bits)``).
        ids : int64 array (m, k)
            Pool ids (rows of the embeddings). HNSW may return fewer than ``k``
            neighbours when its graph cannot reach ``k`` points; missing ones are ``-1``
            (similarity ``-inf``).
        """
        by_id = np.issubdtype(np.asarray(queries_or_ids).dtype, np.integer)
        if exclude_self is None:
            exclude_self = by_id
        if exclude_self and not by_id:
            raise ValueError("exclude_self=True needs pool ids as queries (there is no 'self' for a new vector)")
        k = _check_k(k, len(self), exclude_self)
        if by_id:
            ids = _check_ids(queries_or_ids, len(self), "queries_or_ids")
            queries = self.vectors[ids]
        else:
            queries = _normalized(np.atleast_2d(queries_or_ids), "queries_or_ids")
            if queries.shape[1] != self.dim:
                raise ValueError(f"queries_or_ids must have {self.dim} columns like the embeddings of the index, "
                                 f"got {queries.shape[1]}; embed the queries the same way as the pool")
        if len(queries) == 0:
            return np.zeros((0, k), np.float32), np.zeros((0, k), np.int64)
        scores, found = self.index.search(queries, k + 1 if exclude_self else k)
        found = found.astype(np.int64)
        sims = np.cos(np.pi * scores / self.n_bits) if self.kind == "lsh" else scores
        sims = np.where(found < 0, -np.inf, sims).astype(np.float32)
        if exclude_self:
            sims, found = _drop_self(sims, found, ids)
        return sims, found


def _drop_self(sims: np.ndarray, found: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From k + 1 neighbours per row keep k: drop the query's own id, or the last one if it is absent."""
    keep = found != ids[:, None]
    keep[keep.all(axis=1), -1] = False
    k = found.shape[1] - 1
    return sims[keep].reshape(-1, k), found[keep].reshape(-1, k)


def recall_at_k(approx_ids, exact_ids) -> float:
    """Fraction of the exact ``k`` nearest neighbours that an approximate search also returned.

    ``recall@k = mean over queries of |approx_i & exact_i| / k``, where ``k`` is the
    number of columns of ``exact_ids``. Ids of ``-1`` (not found) never count.

    >>> recall_at_k([[1, 2, 3], [4, 5, 6]], [[3, 2, 9], [4, 5, 6]])
    0.8333333333333334
    """
    approx, exact = np.asarray(approx_ids), np.asarray(exact_ids)
    if approx.ndim != 2 or exact.ndim != 2 or approx.shape[0] != exact.shape[0]:
        raise ValueError(f"approx_ids and exact_ids must be 2-D with one row per query, got shapes "
                         f"{approx.shape} and {exact.shape}")
    if exact.shape[1] == 0 or exact.shape[0] == 0:
        raise ValueError("exact_ids must have at least one query and one neighbour")
    hits = sum(len(np.intersect1d(a[a >= 0], e[e >= 0])) for a, e in zip(approx, exact))
    return float(hits / exact.size)


# --------------------------------------------------------------------------- the candidate pool


class CandidatePool:
    """SEALS's candidate pool: the ``k`` nearest neighbours of every labeled point, minus the labeled points.

    ``candidates = (union over labeled i of knn(i, k)) - labeled``

    where ``knn(i, k)`` are the ``k`` nearest pool points of point ``i`` other than
    ``i`` itself (``index.search(ids, k, exclude_self=True)``). Only newly labeled
    points are searched, so a round costs ``new labels * k`` neighbours, however
    large the pool. Two boolean masks over the pool keep the state: ``labeled`` and
    ``candidate``.

    Parameters
    ----------
    index : KnnIndex
        Over the whole pool; ids are pool ids.
    k : int
        Neighbours per labeled point. ``k >= len(index) - 1`` makes every unlabeled
        point a candidate (SEALS becomes full-pool active learning); no search is done.
    labeled : pool ids, optional
        The initially labeled points (same as calling :meth:`add_labeled`).

    Attributes
    ----------
    n_searched : int
        Labeled points searched so far (each one once, when it is first labeled).
    update_seconds : list of float
        Time of each :meth:`add_labeled` call (index search and mask updates).
    sizes : list of int
        The number of candidates after each :meth:`add_labeled` call: the pool growing.
    search_seconds : float
        ``sum(update_seconds)``.

    Examples
    --------
    >>> x = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [-1, 0]])
    >>> pool = CandidatePool(KnnIndex(x), k=1, labeled=[0])
    >>> pool.ids().tolist(), len(pool)
    ([1], 1)
    >>> pool.add_labeled([1, 2])    # 1's neighbour (0) is labeled; 2's is 3
    >>> pool.ids().tolist(), pool.labeled.tolist()
    ([3], [0, 1, 2])
    """

    def __init__(self, index: KnnIndex, k: int, labeled=()) -> None:
        if not isinstance(index, KnnIndex):
            raise ValueError(f"index must be a KnnIndex over the pool's embeddings, got {type(index).__name__}")
        if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k <= 0:
            raise ValueError(f"k must be a positive number of neighbours, got {k!r}")
        self.index, self.k = index, int(k)
        self.everyone = self.k >= len(index) - 1
        self._labeled = np.zeros(len(index), dtype=bool)
        self._candidate = np.zeros(len(index), dtype=bool)
        self.n_searched = 0  # how many labeled points have been searched so far
        self.update_seconds: list[float] = []  # time of each add_labeled call (index search + masks)
        self.sizes: list[int] = []  # candidate-pool size after each add_labeled call
        if len(np.asarray(labeled)):
            self.add_labeled(labeled)

    def add_labeled(self, ids) -> None:
        """Mark ``ids`` labeled and add their ``k`` nearest neighbours to the candidates.

        Ids already labeled are ignored (re-adding is a no-op). An id outside the
        pool raises ``ValueError``.
        """
        ids = _check_ids(ids, len(self.index), "ids")
        start = time.perf_counter()
        new = np.unique(ids[~self._labeled[ids]])
        self._labeled[new] = True
        self._candidate[new] = False
        if self.everyone:  # every point is among the k nearest of any labeled point
            self._candidate = ~self._labeled if self._labeled.any() else self._candidate
        elif len(new):
            _, neighbours = self.index.search(new, self.k, exclude_self=True)
            neighbours = neighbours[neighbours >= 0]
            self._candidate[neighbours[~self._labeled[neighbours]]] = True
            self.n_searched += len(new)
        self.update_seconds.append(time.perf_counter() - start)
        self.sizes.append(len(self))

    @property
    def search_seconds(self) -> float:
        """Time spent in :meth:`add_labeled` (index searches and mask updates), over all calls."""
        return float(sum(self.update_seconds))

    def ids(self) -> np.ndarray:
        """Sorted pool ids of the current candidates (never a labeled point)."""
        return np.flatnonzero(self._candidate)

    @property
    def labeled(self) -> np.ndarray:
        """Sorted pool ids of the labeled points."""
        return np.flatnonzero(self._labeled)

    def __len__(self) -> int:
        return int(np.count_nonzero(self._candidate))

    def __repr__(self) -> str:
        return f"CandidatePool(k={self.k}, labeled={int(self._labeled.sum())}, candidates={len(self)})"


# --------------------------------------------------------------------------- the SEALS loop


def run_seals(X_pool, y_pool, X_test, y_test, embeddings=None, k: int = 100, index_kind: str = "lsh",
              strategy="entropy", *, initial_labeled=10, index: KnnIndex | None = None,
              index_options: dict | None = None, seed: int = 0, **loop_options):
    """Active learning that scores only SEALS's candidate pool.

    Builds a :class:`KnnIndex` over ``embeddings`` (or uses ``index``) and an empty
    :class:`CandidatePool`, then runs :func:`dcai_lab.active.run_active_learning`
    with ``candidates=pool``: the same loop and the same ``History`` as full-pool
    active learning; only the strategy scores ``pool.ids()`` instead of every
    unlabeled point. The loop tells the pool about the initial and every new label.

    Parameters
    ----------
    X_pool, y_pool, X_test, y_test : as for ``run_active_learning``.
    embeddings : array (n_pool, d), optional
        Row ``i`` embeds pool item ``i``; also given to the strategy (``information_density``,
        ``core_set``). Not needed when ``index`` is given (the strategy then gets ``index.vectors``).
    k : int, default 100
        Neighbours per labeled point (SEALS's k). ``k >= n_pool - 1`` is full-pool active learning.
    index_kind : ``"lsh"`` (default), ``"hnsw"`` or ``"flat"``
    strategy : str or function
        Any strategy of ``run_active_learning`` (e.g. ``"entropy"`` for MaxEnt).
    initial_labeled : a number of random pool ids, or the pool ids, as for ``run_active_learning``.
    index : KnnIndex, optional
        A prebuilt index over the pool (build once, run many strategies).
    index_options : dict, optional
        Extra arguments of :class:`KnnIndex` (``n_bits``, ``hnsw_m``, ``ef_search``).
    seed : int
        Seeds the index and the loop.
    **loop_options
        Passed on to ``run_active_learning`` (``batch_size``, ``n_rounds``, ``model``, ...).

    Returns
    -------
    History
        As ``run_active_learning``'s, with ``n_scored`` and ``candidate_pool_size`` the
        candidate pool's size, and ``seconds_selecting[r]`` the strategy's time **plus**
        the candidate-pool update (index search) that prepared round ``r``'s candidates:
        the whole cost of a SEALS selection.

    Examples
    --------
    >>> from dcai_lab.data import load_digits, split
    >>> _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    >>> h = run_seals(pool.X, pool.y, test.X, test.y, embeddings=pool.X, k=5, index_kind="flat",
    ...               initial_labeled=20, batch_size=10, n_rounds=2, progress=False)
    >>> h.n_labeled, h.candidate_pool_size[0] <= 20 * 5
    ([20, 30, 40], True)
    """
    from dcai_lab.active import LoopStopped, run_active_learning

    if index is None:
        if embeddings is None:
            raise ValueError("run_seals needs embeddings (n_pool, d) or a prebuilt index")
        index = KnnIndex(embeddings, kind=index_kind, seed=seed, **(index_options or {}))
    if not isinstance(index, KnnIndex):
        raise ValueError(f"index must be a KnnIndex over the pool's embeddings, got {type(index).__name__}")
    if len(index) != len(X_pool):
        raise ValueError(f"the index holds {len(index)} points but X_pool has {len(X_pool)}: "
                         "row i of the embeddings must be pool item i")
    pool = CandidatePool(index, k)
    try:
        history = run_active_learning(X_pool, y_pool, X_test, y_test, strategy=strategy,
                                      initial_labeled=initial_labeled,
                                      embeddings=index.vectors if embeddings is None else embeddings,
                                      candidates=pool, seed=seed, **loop_options)
    except LoopStopped as stop:
        _add_update_seconds(stop.history, pool)
        raise
    return _add_update_seconds(history, pool)


def _add_update_seconds(history, pool: CandidatePool):
    """Add the pool update before round ``r`` (call ``r`` of ``add_labeled``) to ``seconds_selecting[r]``."""
    for r in range(min(len(history.seconds_selecting), len(pool.update_seconds))):
        history.seconds_selecting[r] += pool.update_seconds[r]
    return history


# --------------------------------------------------------------------------- rare-concept search


def initial_rare_labels(is_positive, n_positives: int = 5, n_negatives: int = 95, seed: int = 0) -> np.ndarray:
    """Pool ids of a few random positives and random negatives: the start of a rare-concept search.

    The SEALS paper starts every search from 5 positives and 95 random negatives.

    >>> is_positive = np.arange(1000) % 100 == 0            # 10 positives in 1,000
    >>> ids = initial_rare_labels(is_positive, n_positives=2, n_negatives=3, seed=0)
    >>> len(ids), int(is_positive[ids].sum())
    (5, 2)
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    positives, negatives = np.flatnonzero(is_positive), np.flatnonzero(~is_positive)
    if not 0 < n_positives <= len(positives):
        raise ValueError(f"n_positives must be between 1 and the {len(positives)} positives of the pool, "
                         f"got {n_positives}")
    if not 0 <= n_negatives <= len(negatives):
        raise ValueError(f"n_negatives must be between 0 and the {len(negatives)} negatives of the pool, "
                         f"got {n_negatives}")
    rng = np.random.default_rng(seed)
    return np.sort(np.concatenate([rng.choice(positives, n_positives, replace=False),
                                   rng.choice(negatives, n_negatives, replace=False)]))


def positives_found(labeled_ids, is_positive) -> float:
    """Recall of the rare class in the pool: labeled positives / all positives of the pool.

    >>> positives_found([0, 1, 5], [True, False, False, True, False, True])
    0.6666666666666666
    """
    is_positive = np.asarray(is_positive, dtype=bool)
    labeled = _check_ids(labeled_ids, len(is_positive), "labeled_ids")
    total = int(is_positive.sum())
    if total == 0:
        raise ValueError("is_positive has no positive item: there is nothing to find")
    return float(is_positive[np.unique(labeled)].sum() / total)


def rare_average_precision(model, X_test, is_positive_test) -> float:
    """Average precision of ``model``'s probability of the positive class on a test set.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the test items ranked by the model's
    score (``sklearn.metrics.average_precision_score``): precision averaged over
    the ranks at which positives are found. Random ranking scores the prevalence.
    """
    from sklearn.metrics import average_precision_score

    proba = model.predict_proba(np.asarray(X_test))
    positive_column = list(model.classes_).index(1) if 1 in list(model.classes_) else None
    score = proba[:, positive_column] if positive_column is not None else np.zeros(len(proba))
    return float(average_precision_score(np.asarray(is_positive_test, dtype=int), score))


def rare_search_curve(history, X_pool, is_positive, X_test, is_positive_test, model=None):
    """Per round of a rare-concept search: positives found, test average precision and the selection cost.

    Refits the loop's model on the labels of each round (``history.labeled_ids[:n_labeled]``,
    in the order they were obtained: the same fit as in the loop) to measure its
    average precision on the test set (:func:`rare_average_precision`).

    Parameters
    ----------
    history : History of a run on ``(X_pool, is_positive)`` (binary labels: 1 = the rare concept).
    X_pool : array (N, d), the pool's features.
    is_positive : bool array (N,), the pool's hidden labels.
    X_test, is_positive_test : the held-out test set.
    model : the loop's model; default ``LogisticRegression(max_iter=1000)``.

    Returns
    -------
    pandas.DataFrame, one row per round: ``round``, ``n_labeled``, ``positives_found``
    (recall of the rare class in the pool), ``average_precision``, ``n_scored``,
    ``candidate_pool_size``, ``seconds_selecting``.
    """
    import pandas as pd
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(max_iter=1000) if model is None else model
    if "random_state" in model.get_params() and model.get_params()["random_state"] is None:
        model = clone(model).set_params(random_state=history.seed)
    X_pool = np.asarray(X_pool)
    found, ap = [], []
    for n in history.n_labeled:
        ids = history.labeled_ids[:n]
        found.append(positives_found(ids, is_positive))
        ap.append(rare_average_precision(clone(model).fit(X_pool[ids], history.labels[:n]), X_test, is_positive_test))
    return pd.DataFrame({"strategy": history.strategy, "seed": history.seed, "round": np.arange(len(history)),
                         "n_labeled": history.n_labeled, "positives_found": found, "average_precision": ap,
                         "n_scored": history.n_scored, "candidate_pool_size": history.candidate_pool_size,
                         "seconds_selecting": history.seconds_selecting})


RARE_METHODS = ("random", "full MaxEnt", "SEALS + MaxEnt", "SEALS + ID")


def rare_concept_search(method: str, X_pool, is_positive, X_test, is_positive_test, *, index: KnnIndex | None = None,
                        k: int = 100, n_positives: int = 5, n_negatives: int = 95, batch_size: int = 10,
                        n_rounds: int = 10, seed: int = 0, model=None, progress: bool = False):
    """Run one rare-concept search and return its :func:`rare_search_curve`.

    ``method`` is one of :data:`RARE_METHODS`: ``"random"`` and ``"full MaxEnt"`` (entropy)
    score the whole pool; ``"SEALS + MaxEnt"`` and ``"SEALS + ID"`` (information density)
    score only the candidate pool of ``index`` with ``k`` neighbours per label. Every
    search starts from the same ``n_positives`` positives and ``n_negatives`` random
    negatives (:func:`initial_rare_labels` with ``seed``). The frame's ``method`` column names the run.
    """
    from dcai_lab.active import run_active_learning

    if method not in RARE_METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, RARE_METHODS))}, got {method!r}")
    is_positive = np.asarray(is_positive, dtype=bool)
    if is_positive.shape != (len(X_pool),) or np.shape(is_positive_test) != (len(X_test),):
        raise ValueError(f"is_positive and is_positive_test need one flag per pool item ({len(X_pool)}) and per "
                         f"test item ({len(X_test)}), got shapes {is_positive.shape} and {np.shape(is_positive_test)}")
    y_pool, y_test = is_positive.astype(np.int64), np.asarray(is_positive_test, dtype=np.int64)
    initial = initial_rare_labels(is_positive, n_positives, n_negatives, seed=seed)
    options = dict(initial_labeled=initial, batch_size=batch_size, n_rounds=n_rounds, seed=seed, model=model,
                   progress=progress, classes=[0, 1])
    if method.startswith("SEALS"):
        if index is None:
            raise ValueError(f"{method!r} needs index=KnnIndex(embeddings of the pool)")
        strategy = "entropy" if method == "SEALS + MaxEnt" else "information_density"
        history = run_seals(X_pool, y_pool, X_test, y_test, k=k, strategy=strategy, index=index, **options)
    else:
        strategy = "random" if method == "random" else "entropy"
        embeddings = None if index is None else index.vectors
        history = run_active_learning(X_pool, y_pool, X_test, y_test, strategy=strategy, embeddings=embeddings,
                                      **options)
    frame = rare_search_curve(history, X_pool, is_positive, X_test, y_test, model=model)
    frame.insert(0, "method", method)
    return frame
