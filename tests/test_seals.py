"""Tests of dcai_lab.seals: the candidate pool and the SEALS loop."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.active import run_active_learning
from dcai_lab.history import LoopStopped
from dcai_lab.knn import KnnIndex
from dcai_lab.seals import CandidatePool, run_seals


def gaussian(n: int = 300, d: int = 12, seed: int = 0) -> np.ndarray:
    """Random directions: no ties in cosine similarity, so exact neighbours are unique."""
    return np.random.default_rng(seed).standard_normal((n, d))


def brute_force_knn(x: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """NumPy cosine top-k of each id among the other points, most similar first."""
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = unit[ids] @ unit.T
    sims[np.arange(len(ids)), ids] = -np.inf  # exclude self
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


def brute_force_candidates(x: np.ndarray, labeled, k: int) -> np.ndarray:
    labeled = np.unique(labeled)
    union = np.unique(brute_force_knn(x, labeled, k))
    return np.setdiff1d(union, labeled)


@pytest.fixture(scope="module")
def gaussian_index():
    return KnnIndex(gaussian(), kind="flat")


# --------------------------------------------------------------------------- CandidatePool


@pytest.mark.parametrize("k", [1, 5, 20])
def test_candidate_pool_equals_brute_force_union(k):
    x = gaussian()
    labeled = np.random.default_rng(1).choice(len(x), 15, replace=False)
    pool = CandidatePool(KnnIndex(x, kind="flat"), k=k, labeled=labeled)
    expected = brute_force_candidates(x, labeled, k)
    np.testing.assert_array_equal(pool.ids(), expected)
    assert len(pool) == len(expected)
    np.testing.assert_array_equal(pool.labeled, np.sort(labeled))
    assert not np.isin(pool.ids(), labeled).any()
    assert repr(pool) == f"CandidatePool(k={k}, labeled=15, candidates={len(expected)})"


@settings(max_examples=40, deadline=None, derandomize=True)
@given(k=st.integers(1, 299), batches=st.lists(st.lists(st.integers(0, 299), max_size=12), min_size=1, max_size=5))
def test_any_sequence_of_updates_equals_the_brute_force_union(gaussian_index, k, batches):
    pool, x = CandidatePool(gaussian_index, k=k), gaussian()
    for step in range(len(batches)):  # after every update, not only the last: the ids are kept, not recomputed
        pool.add_labeled(np.array(batches[step], dtype=np.int64))
        labeled = np.unique(np.concatenate([np.array(b, dtype=np.int64) for b in batches[:step + 1]]))
        expected = brute_force_candidates(x, labeled, k) if len(labeled) else np.zeros(0, np.int64)
        np.testing.assert_array_equal(pool.ids(), expected)
        assert len(pool) == len(expected) == pool.sizes[-1]
        np.testing.assert_array_equal(pool.labeled, labeled)


@pytest.mark.parametrize("kind", ["flat", "lsh", "hnsw"])
def test_incremental_updates_equal_a_rebuild(kind):
    x = gaussian()
    index = KnnIndex(x, kind=kind)
    rng = np.random.default_rng(2)
    order = rng.permutation(len(x))
    pool = CandidatePool(index, k=8, labeled=order[:5])
    start = 5
    for batch in (3, 10, 1, 25):  # five rounds of labeling
        pool.add_labeled(order[start:start + batch])
        start += batch
        rebuilt = CandidatePool(index, k=8, labeled=order[:start])
        np.testing.assert_array_equal(pool.ids(), rebuilt.ids())
        np.testing.assert_array_equal(pool.labeled, np.sort(order[:start]))
    if kind == "flat":
        np.testing.assert_array_equal(pool.ids(), brute_force_candidates(x, order[:start], 8))
    assert pool.n_searched == start, "each labeled point is searched once"


def test_re_adding_labeled_points_is_a_no_op(gaussian_index):
    pool = CandidatePool(gaussian_index, k=5, labeled=[1, 2, 3])
    ids, searched = pool.ids(), pool.n_searched
    pool.add_labeled([3, 2, 2])
    np.testing.assert_array_equal(pool.ids(), ids)
    assert pool.n_searched == searched


def test_labeling_a_candidate_removes_it(gaussian_index):
    pool = CandidatePool(gaussian_index, k=5, labeled=[0])
    first = pool.ids()[0]
    pool.add_labeled([first])
    assert first not in pool.ids()


def test_k_at_least_the_pool_makes_everyone_a_candidate():
    x = gaussian(50, 4)
    pool = CandidatePool(KnnIndex(x), k=50, labeled=[3, 9])
    np.testing.assert_array_equal(pool.ids(), np.setdiff1d(np.arange(50), [3, 9]))
    pool.add_labeled([0])
    assert len(pool) == 47 and pool.n_searched == 0  # nothing needs a search
    assert len(CandidatePool(KnnIndex(x), k=49)) == 0  # nothing labeled yet: no candidates


def test_pool_records_its_size_per_update(gaussian_index):
    """Behaviour changed on purpose (issue 12): the pool keeps no timings (the loop times the update)."""
    pool = CandidatePool(gaussian_index, k=4)
    assert pool.sizes == []
    pool.add_labeled([0, 1])
    pool.add_labeled([1])  # nothing new: recorded, no search
    pool.add_labeled([2])
    assert pool.sizes[1] == pool.sizes[0] and pool.sizes[2] == len(pool) and len(pool.sizes) == 3
    assert pool.n_searched == 3
    assert not hasattr(pool, "update_seconds") and not hasattr(pool, "search_seconds")


def test_candidate_pool_bad_inputs():
    index = KnnIndex(gaussian(10, 3))
    with pytest.raises(ValueError, match=r"labeled must be pool ids in 0\.\.9.*\[12\]"):
        CandidatePool(index, k=2, labeled=[1, 12])
    pool = CandidatePool(index, k=2)
    with pytest.raises(ValueError, match=r"ids must be pool ids in 0\.\.9.*\[-1\]"):
        pool.add_labeled([-1])
    with pytest.raises(ValueError, match=r"ids must be pool ids \(integers\), got a boolean mask"):
        pool.add_labeled(np.ones(10, dtype=bool))
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        CandidatePool(index, k=0)
    with pytest.raises(ValueError, match="must be a KnnIndex"):
        CandidatePool(gaussian(10, 3), k=2)
    assert len(pool) == 0 and pool.ids().size == 0


# --------------------------------------------------------------------------- run_seals


@pytest.mark.parametrize("strategy", ["entropy", "margin", "information_density", "random", "core_set"])
def test_seals_with_k_at_least_the_pool_selects_what_full_pool_selects(course_pool, course_test, strategy):
    X, y = course_pool.X[:400], course_pool.y[:400]
    options = dict(initial_labeled=20, batch_size=7, n_rounds=3, seed=1, progress=False)
    full = run_active_learning(X, y, course_test.X, course_test.y, strategy=strategy, embeddings=X, **options)
    seals = run_seals(X, y, course_test.X, course_test.y, embeddings=X, k=400, index_kind="flat",
                      strategy=strategy, **options)
    for a, b in zip(full.selected, seals.selected):
        np.testing.assert_array_equal(a, b)
    assert seals.candidate_pool_size == full.candidate_pool_size == [380, 373, 366, 359]
    assert seals.accuracy == full.accuracy


def test_seals_scores_only_the_candidate_pool_round_by_round(course_pool, course_test):
    X, y = course_pool.X, course_pool.y
    index = KnnIndex(X, kind="flat")
    h = run_seals(X, y, course_test.X, course_test.y, index=index, k=6, strategy="entropy", initial_labeled=15,
                  batch_size=5, n_rounds=4, seed=0, progress=False, keep_scores=True)
    for r in range(len(h)):
        labeled_before = h.labeled_ids[:h.n_labeled[r]]
        expected = brute_force_candidates(X, labeled_before, 6)  # from scratch, in pool ids
        np.testing.assert_array_equal(h.scored_ids[r], expected)
        assert h.candidate_pool_size[r] == len(expected)
        if r < 4:
            assert h.n_scored[r] == len(expected)
            assert np.isin(h.selected[r], expected).all(), "SEALS picks only candidates"
    assert h.n_scored[-1] == 0 and h.n_labeled == [15, 20, 25, 30, 35]
    assert all(s > 0 for s in h.seconds_selecting[:-1])


def test_the_loop_adds_the_candidate_pool_update_to_the_selection_time(course_pool, course_test):
    """Behaviour changed on purpose (issue 12): the loop times the update and adds it to seconds_selecting."""
    class SlowPool(CandidatePool):
        def add_labeled(self, ids):
            time.sleep(0.05)
            super().add_labeled(ids)

    X = course_pool.X[:300]
    h = run_active_learning(X, course_pool.y[:300], course_test.X, course_test.y, "random", initial_labeled=20,
                            n_rounds=2, candidates=SlowPool(KnnIndex(X), k=10), progress=False)
    assert all(s >= 0.05 for s in h.seconds_selecting[:2]) and h.seconds_selecting[2] == 0.0


def test_run_seals_uses_a_prebuilt_index_and_its_vectors(course_pool, course_test):
    X = course_pool.X[:300]
    index = KnnIndex(X, kind="flat")
    seen = []

    def spy(model, X_pool, labeled, batch_size, rng, *, candidates=None, embeddings=None, pool_mean=None):
        seen.append(embeddings)
        return candidates[:batch_size]

    run_seals(X, course_pool.y[:300], course_test.X, course_test.y, index=index, k=5, strategy=spy,
              initial_labeled=20, n_rounds=1, progress=False)
    assert seen[0] is index.vectors


def test_too_few_candidates_for_a_batch_stops_the_loop_with_a_clear_error(course_pool, course_test):
    with pytest.raises(LoopStopped, match="only .* unlabeled candidates remain but batch_size is 40") as stop:
        run_seals(course_pool.X, course_pool.y, course_test.X, course_test.y, embeddings=course_pool.X, k=1,
                  index_kind="flat", initial_labeled=20, batch_size=40, n_rounds=2, progress=False)
    assert stop.value.history.n_labeled == [] and len(stop.value.history.labels) == 20


def test_run_seals_bad_inputs(course_pool, course_test):
    args = (course_pool.X, course_pool.y, course_test.X, course_test.y)
    with pytest.raises(ValueError, match="needs embeddings"):
        run_seals(*args)
    with pytest.raises(ValueError, match="index holds 100 points but X_pool has 1348"):
        run_seals(*args, index=KnnIndex(course_pool.X[:100]))
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        run_seals(*args, embeddings=course_pool.X, k=0)
    with pytest.raises(ValueError, match="index must be a KnnIndex"):
        run_seals(*args, index=course_pool.X)
    with pytest.raises(ValueError, match="index_kind must be one of 'flat', 'lsh', 'hnsw'.*got 'tree'"):
        run_seals(*args, embeddings=course_pool.X, index_kind="tree")
