"""SEALS: active learning that scores only the neighbours of the labeled points (notebook 02, sections 5-8).

Coleman et al., "Similarity Search for Efficient Active Learning and Search of Rare Concepts"
(AAAI 2022). Full-pool active learning scores *every* unlabeled point in every round. SEALS
scores only the **candidate pool**::

    candidates = (union over labeled i of knn(i, k)) - labeled

the ``k`` nearest neighbours (:class:`dcai_lab.knn.KnnIndex`) of every labeled point. When a
point gets labeled, only *its* neighbours are searched and added, so a round costs
``new labels * k`` neighbours however large the pool, and the candidate pool grows with the
labels, not with the pool. :func:`run_seals` is :func:`dcai_lab.active.run_active_learning`
with a :class:`CandidatePool`: the same loop, the same ``History``, any strategy.

>>> from dcai_lab.knn import KnnIndex
>>> x = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [-1, 0]])
>>> pool = CandidatePool(KnnIndex(x), k=1, labeled=[0])
>>> pool.ids().tolist()
[1]
>>> pool.add_labeled([1, 2])    # 1's neighbour (0) is labeled; 2's is 3
>>> pool.ids().tolist(), pool.labeled.tolist()
([3], [0, 1, 2])
"""

from __future__ import annotations


import numpy as np

from dcai_lab._checks import as_array, check_choice, check_ids, check_int
from dcai_lab.knn import INDEX_KINDS, KnnIndex

__all__ = ["CandidatePool", "run_seals"]


class CandidatePool:
    """SEALS's candidate pool: the ``k`` nearest neighbours of every labeled point, minus the labeled points.

    Two boolean masks over the pool answer "is it labeled / a candidate?" in ``O(1)``, and a
    sorted array holds the candidates' ids; only newly labeled points are searched
    (``index.neighbors(new, k)``), so :meth:`add_labeled` and :meth:`ids` cost ``O(candidates)``,
    not ``O(pool)`` (except with ``k >= len(index) - 1``, where every unlabeled point is a candidate).

    Parameters
    ----------
    index : KnnIndex over the whole pool; ids are pool ids.
    k : neighbours per labeled point. ``k >= len(index) - 1`` makes every unlabeled point a
        candidate (SEALS becomes full-pool active learning) and searches nothing.
    labeled : pool ids labeled at the start (the same as calling :meth:`add_labeled`).

    Attributes
    ----------
    n_searched : labeled points searched so far (each once, when it is first labeled).
    sizes : the number of candidates after each :meth:`add_labeled` call: the pool growing.
    """

    def __init__(self, index: KnnIndex, k: int, labeled=()) -> None:
        if not isinstance(index, KnnIndex):
            raise ValueError(f"index must be a KnnIndex over the pool's embeddings, got {type(index).__name__}")
        self.index, self.k = index, check_int(k, "k", min=1)
        self.everyone = self.k >= len(index) - 1
        self._labeled = np.zeros(len(index), dtype=bool)
        self._candidate = np.zeros(len(index), dtype=bool)
        self._ids = np.zeros(0, np.int64)  # flatnonzero(self._candidate), kept up to date
        self.n_searched = 0
        self.sizes: list[int] = []
        labeled = check_ids(labeled, len(index), "labeled")
        if len(labeled):
            self.add_labeled(labeled)

    def add_labeled(self, ids) -> None:
        """Mark ``ids`` labeled and add their ``k`` nearest neighbours to the candidates.

        Ids already labeled are ignored (re-adding searches nothing).
        """
        ids = check_ids(ids, len(self.index), "ids")
        new = _unique(ids[~self._labeled[ids]])
        self._labeled[new] = True
        self._candidate[new] = False
        if self.everyone:  # every point is among the k nearest of any labeled point
            self._candidate = ~self._labeled if self._labeled.any() else self._candidate
            self._ids = np.flatnonzero(self._candidate)
        elif len(new):
            _, neighbours = self.index.neighbors(new, self.k)
            neighbours = _unique(neighbours[neighbours >= 0])
            joining = neighbours[~self._labeled[neighbours] & ~self._candidate[neighbours]]  # sorted
            self._candidate[joining] = True
            staying = self._ids[self._candidate[self._ids]]  # sorted; the newly labeled ones leave
            self._ids = np.insert(staying, np.searchsorted(staying, joining), joining)  # a merge: still sorted
            self.n_searched += len(new)
        self.sizes.append(len(self))

    def ids(self) -> np.ndarray:
        """Sorted pool ids of the current candidates (never a labeled point)."""
        return self._ids.copy()

    @property
    def labeled(self) -> np.ndarray:
        """Sorted pool ids of the labeled points."""
        return np.flatnonzero(self._labeled)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        return f"CandidatePool(k={self.k}, labeled={int(self._labeled.sum())}, candidates={len(self)})"


def _unique(ids: np.ndarray) -> np.ndarray:
    """``np.unique(ids)`` by a sort: NumPy 2.3+'s ``np.unique`` goes through a hash table, many times slower here.

    >>> _unique(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    ids = np.sort(ids)
    return ids[np.concatenate(([True], ids[1:] != ids[:-1]))] if len(ids) else ids


def run_seals(X_pool, y_pool, X_test, y_test, embeddings=None, k: int = 100, index_kind: str = "lsh",
              strategy="entropy", *, initial_labeled=10, index: KnnIndex | None = None,
              index_options: dict | None = None, seed: int = 0, **loop_options):
    """Active learning that scores only SEALS's candidate pool.

    Builds a :class:`~dcai_lab.knn.KnnIndex` over ``embeddings`` (or uses ``index``) and an
    empty :class:`CandidatePool`, then runs :func:`dcai_lab.active.run_active_learning` with
    ``candidates=pool``. The ``History`` is the loop's: ``candidate_pool_size`` per round, and
    ``seconds_selecting[r]`` the strategy's time plus the index search that prepared round
    ``r``'s candidates (the whole cost of a SEALS selection).

    Parameters
    ----------
    X_pool, y_pool, X_test, y_test : as for ``run_active_learning``.
    embeddings : array (n_pool, d); row ``i`` embeds pool item ``i``; also given to the strategy.
        Not needed with ``index`` (the strategy then gets ``index.vectors``).
    k : neighbours per labeled point (SEALS's k); ``k >= n_pool - 1`` is full-pool active learning.
    index_kind : ``"lsh"`` (default), ``"hnsw"`` or ``"flat"``.
    strategy : any strategy of ``run_active_learning`` (e.g. ``"entropy"`` for MaxEnt).
    initial_labeled : a number of random pool ids, or the pool ids.
    index : a prebuilt KnnIndex over the pool (build once, run many strategies).
    index_options : extra arguments of KnnIndex (``n_bits``, ``hnsw_m``, ``ef_search``).
    seed : seeds the index and the loop.
    **loop_options : passed on to ``run_active_learning`` (``batch_size``, ``n_rounds``, ``model``, ...).

    >>> from dcai_lab.data import course_split
    >>> pool, test = course_split()
    >>> h = run_seals(pool.X, pool.y, test.X, test.y, embeddings=pool.X, k=5, index_kind="flat",
    ...               initial_labeled=20, batch_size=10, n_rounds=2, progress=False)
    >>> h.n_labeled, h.candidate_pool_size[0] <= 20 * 5
    ([20, 30, 40], True)
    """
    from dcai_lab.active import run_active_learning

    if index is None:
        if embeddings is None:
            raise ValueError("run_seals needs embeddings (n_pool, d) or a prebuilt index")
        check_choice(index_kind, "index_kind", INDEX_KINDS)
        if index_options is not None and not isinstance(index_options, dict):
            raise ValueError(f"index_options must be a dict of KnnIndex arguments (e.g. {{'n_bits': 256}}), "
                             f"got {type(index_options).__name__}")
        index = KnnIndex(embeddings, kind=index_kind, seed=seed, **(index_options or {}))
    if not isinstance(index, KnnIndex):
        raise ValueError(f"index must be a KnnIndex over the pool's embeddings, got {type(index).__name__}")
    if as_array(X_pool, "X_pool").ndim != 2:
        raise ValueError(f"X_pool must be a 2-D array (n_pool, n_features), got shape {np.shape(X_pool)}")
    if len(index) != len(X_pool):
        raise ValueError(f"the index holds {len(index)} points but X_pool has {len(X_pool)}: "
                         "row i of the embeddings must be pool item i")
    return run_active_learning(X_pool, y_pool, X_test, y_test, strategy=strategy, initial_labeled=initial_labeled,
                               embeddings=index.vectors if embeddings is None else embeddings,
                               candidates=CandidatePool(index, k), seed=seed, **loop_options)
