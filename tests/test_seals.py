"""Tests of dcai_lab.seals: the kNN index, the candidate pool and the SEALS loop."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.active import run_active_learning
from dcai_lab.data import augment_pool, load_digits, make_rare, split
from dcai_lab.seals import (RARE_METHODS, CandidatePool, KnnIndex, initial_rare_labels, positives_found,
                             rare_concept_search, recall_at_k, run_seals)


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


# --------------------------------------------------------------------------- KnnIndex


def test_flat_search_equals_brute_force():
    x = gaussian()
    ids = np.arange(0, 300, 7)
    sims, found = KnnIndex(x, kind="flat").search(ids, k=10)
    np.testing.assert_array_equal(found, brute_force_knn(x, ids, 10))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(sims, np.take_along_axis(unit[ids] @ unit.T, found, axis=1), atol=1e-5)
    assert np.all(np.diff(sims, axis=1) <= 1e-6), "most similar first"


def test_search_with_query_vectors_includes_self():
    x = gaussian()
    index = KnnIndex(x, kind="flat")
    sims, found = index.search(x[:5] * 3.0, k=4)  # scaling a query does not change cosine neighbours
    np.testing.assert_array_equal(found[:, 0], np.arange(5))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)
    one_sims, one_found = index.search(x[2], k=4)  # a single 1-D query
    np.testing.assert_array_equal(one_found, found[2:3])


def test_ids_are_pool_ids_and_self_is_excluded():
    x = gaussian()
    for kind in ("flat", "lsh", "hnsw"):
        _, found = KnnIndex(x, kind=kind).search(np.array([5, 17]), k=20)
        assert found.shape == (2, 20) and found.dtype == np.int64
        assert 5 not in found[0] and 17 not in found[1]
        assert found.min() >= 0 and found.max() < len(x)
        assert all(len(set(row)) == 20 for row in found)


def test_exclude_self_up_to_the_whole_pool():
    x = gaussian(20, 4)
    _, found = KnnIndex(x).search(np.arange(20), k=19)
    for i, row in enumerate(found):
        assert sorted(row) == [j for j in range(20) if j != i]


# Measured on the 1,797 digits (pixels), every third digit as a query, k=10, seeds 0..2:
# LSH with 256 bits 0.64-0.65, HNSW (M=16, ef_search=64) 1.00. Asserted with a margin.
@pytest.mark.parametrize("kind, options, bound", [
    ("lsh", dict(n_bits=256), 0.55),
    ("hnsw", dict(hnsw_m=16, ef_search=64), 0.95),
])
def test_approximate_recall_at_10_on_digits(kind, options, bound):
    x = load_digits().X
    queries = np.arange(0, len(x), 3)
    _, exact = KnnIndex(x, kind="flat").search(queries, k=10)
    _, approx = KnnIndex(x, kind=kind, **options).search(queries, k=10)
    assert recall_at_k(approx, exact) >= bound


def test_lsh_and_hnsw_are_deterministic_and_seeded():
    x = gaussian(500, 16)
    for kind in ("lsh", "hnsw"):
        a = KnnIndex(x, kind=kind, seed=3).search(np.arange(50), k=10)[1]
        b = KnnIndex(x, kind=kind, seed=3).search(np.arange(50), k=10)[1]
        np.testing.assert_array_equal(a, b)
    lsh_0 = KnnIndex(x, kind="lsh", seed=0).search(np.arange(50), k=10)[1]
    lsh_1 = KnnIndex(x, kind="lsh", seed=1).search(np.arange(50), k=10)[1]
    assert not np.array_equal(lsh_0, lsh_1), "the seed picks the random hyperplanes"


def test_lsh_similarity_estimates_cosine():
    x = gaussian(400, 16)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims, found = KnnIndex(x, kind="lsh", n_bits=1024).search(np.arange(20), k=30)
    true = np.take_along_axis(unit[:20] @ unit.T, found, axis=1)
    assert np.abs(sims - true).mean() < 0.1


def test_recall_at_k():
    assert recall_at_k([[1, 2]], [[1, 2]]) == 1.0
    assert recall_at_k([[2, 9], [-1, -1]], [[1, 2], [3, 4]]) == 0.25
    with pytest.raises(ValueError, match="one row per query"):
        recall_at_k([[1, 2]], [[1, 2], [3, 4]])


@pytest.mark.parametrize("k", [0, -3, 2.5])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive"):
        KnnIndex(gaussian(10, 3)).search(np.array([0]), k=k)


def test_k_larger_than_the_pool():
    index = KnnIndex(gaussian(10, 3))
    with pytest.raises(ValueError, match="larger than the pool.*k <= 9"):
        index.search(np.array([0]), k=10)  # 9 other points
    with pytest.raises(ValueError, match="larger than the pool.*k <= 10"):
        index.search(gaussian(1, 3), k=11)


def test_nan_and_zero_norm_embeddings():
    x = gaussian(10, 3)
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"embeddings must be finite: rows \[4\]"):
        KnnIndex(x)
    x = gaussian(10, 3)
    x[[2, 7]] = 0
    with pytest.raises(ValueError, match=r"zero-norm rows.*\[2, 7\]"):
        KnnIndex(x)
    with pytest.raises(ValueError, match="zero-norm"):
        KnnIndex(gaussian(10, 3)).search(np.zeros((1, 3)), k=2)


def test_bad_queries_and_kind():
    index = KnnIndex(gaussian(10, 3))
    with pytest.raises(ValueError, match="queries_or_ids must have 3 columns"):
        index.search(gaussian(2, 5), k=2)
    with pytest.raises(ValueError, match=r"pool ids in 0..9.*\[10\]"):
        index.search(np.array([10]), k=2)
    with pytest.raises(ValueError, match="exclude_self=True needs pool ids"):
        index.search(gaussian(2, 3), k=2, exclude_self=True)
    with pytest.raises(ValueError, match="kind must be one of"):
        KnnIndex(gaussian(10, 3), kind="annoy")


def test_embeddings_are_not_modified():
    x = gaussian(10, 3)
    before = x.copy()
    KnnIndex(x)
    np.testing.assert_array_equal(x, before)


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


GAUSSIAN_INDEX = KnnIndex(gaussian(), kind="flat")


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 299), batches=st.lists(st.lists(st.integers(0, 299), max_size=12), min_size=1, max_size=5))
def test_any_sequence_of_updates_equals_the_brute_force_union(k, batches):
    pool = CandidatePool(GAUSSIAN_INDEX, k=k)
    for batch in batches:
        pool.add_labeled(np.array(batch, dtype=np.int64))
    labeled = np.unique(np.concatenate([np.array(b, dtype=np.int64) for b in batches]))
    expected = brute_force_candidates(gaussian(), labeled, k) if len(labeled) else np.zeros(0, np.int64)
    np.testing.assert_array_equal(pool.ids(), expected)
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


def test_re_adding_labeled_points_is_a_no_op():
    x = gaussian()
    pool = CandidatePool(KnnIndex(x), k=5, labeled=[1, 2, 3])
    ids, searched = pool.ids(), pool.n_searched
    pool.add_labeled([3, 2, 2])
    np.testing.assert_array_equal(pool.ids(), ids)
    assert pool.n_searched == searched


def test_labeling_a_candidate_removes_it():
    x = gaussian()
    pool = CandidatePool(KnnIndex(x), k=5, labeled=[0])
    first = pool.ids()[0]
    pool.add_labeled([first])
    assert first not in pool.ids()


def test_k_at_least_the_pool_makes_everyone_a_candidate():
    x = gaussian(50, 4)
    pool = CandidatePool(KnnIndex(x), k=50, labeled=[3, 9])
    np.testing.assert_array_equal(pool.ids(), np.setdiff1d(np.arange(50), [3, 9]))
    pool.add_labeled([0])
    assert len(pool) == 47


def test_candidate_pool_bad_inputs():
    index = KnnIndex(gaussian(10, 3))
    with pytest.raises(ValueError, match=r"pool ids in 0..9.*\[12\]"):
        CandidatePool(index, k=2, labeled=[1, 12])
    pool = CandidatePool(index, k=2)
    with pytest.raises(ValueError, match=r"pool ids in 0..9.*\[-1\]"):
        pool.add_labeled([-1])
    with pytest.raises(ValueError, match="k must be a positive"):
        CandidatePool(index, k=0)
    with pytest.raises(ValueError, match="must be a KnnIndex"):
        CandidatePool(gaussian(10, 3), k=2)
    assert len(pool) == 0 and pool.ids().size == 0


def test_pool_records_its_size_and_time_per_update():
    x = gaussian()
    pool = CandidatePool(KnnIndex(x), k=4)
    assert pool.sizes == [] and pool.update_seconds == []
    pool.add_labeled([0, 1])
    pool.add_labeled([1])  # nothing new: recorded, no search
    pool.add_labeled([2])
    assert pool.sizes[1] == pool.sizes[0] and pool.sizes[2] == len(pool)
    assert len(pool.update_seconds) == 3 and pool.search_seconds == pytest.approx(sum(pool.update_seconds))
    assert pool.n_searched == 3


# --------------------------------------------------------------------------- run_seals


def digits_task():
    _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    return pool, test


@pytest.mark.parametrize("strategy", ["entropy", "margin", "information_density", "random", "core_set"])
def test_seals_with_k_at_least_the_pool_selects_what_full_pool_selects(strategy):
    pool, test = digits_task()
    X = pool.X[:400]
    options = dict(initial_labeled=20, batch_size=7, n_rounds=3, seed=1, progress=False)
    full = run_active_learning(X, pool.y[:400], test.X, test.y, strategy=strategy, embeddings=X, **options)
    seals = run_seals(X, pool.y[:400], test.X, test.y, embeddings=X, k=400, index_kind="flat",
                      strategy=strategy, **options)
    for a, b in zip(full.selected, seals.selected):
        np.testing.assert_array_equal(a, b)
    assert seals.candidate_pool_size == full.candidate_pool_size == [380, 373, 366, 359]
    assert seals.accuracy == full.accuracy


def test_seals_scores_only_the_candidate_pool_round_by_round():
    pool, test = digits_task()
    X, y = pool.X, pool.y
    index = KnnIndex(X, kind="flat")
    h = run_seals(X, y, test.X, test.y, index=index, k=6, strategy="entropy", initial_labeled=15,
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


def test_too_few_candidates_for_a_batch_stops_the_loop_with_a_clear_error():
    from dcai_lab.active import LoopStopped

    pool, test = digits_task()
    with pytest.raises(LoopStopped, match="only .* unlabeled candidates remain but batch_size is 40") as stop:
        run_seals(pool.X, pool.y, test.X, test.y, embeddings=pool.X, k=1, index_kind="flat", initial_labeled=20,
                  batch_size=40, n_rounds=2, progress=False)
    assert stop.value.history.n_labeled == [] and len(stop.value.history.labels) == 20


def test_run_seals_bad_inputs():
    pool, test = digits_task()
    with pytest.raises(ValueError, match="needs embeddings"):
        run_seals(pool.X, pool.y, test.X, test.y)
    with pytest.raises(ValueError, match="index holds 100 points but X_pool has 1348"):
        run_seals(pool.X, pool.y, test.X, test.y, index=KnnIndex(pool.X[:100]))
    with pytest.raises(ValueError, match="k must be a positive"):
        run_seals(pool.X, pool.y, test.X, test.y, embeddings=pool.X, k=0)


# --------------------------------------------------------------------------- rare-concept search


def rare_task():
    _, train, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    pool = make_rare(augment_pool(train, 3000, seed=0), rare_class=3, prevalence=0.01, seed=0)
    return pool.X, pool.y == 3, test.X, test.y == 3


def test_initial_rare_labels_and_positives_found():
    is_positive = np.zeros(1000, bool)
    is_positive[::50] = True
    ids = initial_rare_labels(is_positive, n_positives=5, n_negatives=95, seed=0)
    assert len(np.unique(ids)) == 100 and is_positive[ids].sum() == 5
    assert positives_found(ids, is_positive) == 5 / 20
    with pytest.raises(ValueError, match="n_positives must be between 1 and the 20"):
        initial_rare_labels(is_positive, n_positives=21)
    with pytest.raises(ValueError, match="pool ids in 0..999"):
        positives_found([1000], is_positive)


def test_rare_concept_search_methods():
    X, pos, X_test, pos_test = rare_task()
    index = KnnIndex(X, kind="flat")
    options = dict(index=index, k=10, batch_size=10, n_rounds=3, seed=0)
    frames = {m: rare_concept_search(m, X, pos, X_test, pos_test, **options) for m in RARE_METHODS}
    n_pos = int(pos.sum())
    for method, f in frames.items():
        assert f["method"].eq(method).all()
        assert f["n_labeled"].tolist() == [100, 110, 120, 130]
        assert f["positives_found"].iloc[0] == 5 / n_pos, "every method starts from the same 5 positives"
        assert f["positives_found"].is_monotonic_increasing
        assert f["average_precision"].between(pos_test.mean(), 1).all()
    assert frames["full MaxEnt"]["n_scored"].tolist()[:3] == [len(X) - 100, len(X) - 110, len(X) - 120]
    seals = frames["SEALS + MaxEnt"]
    assert (seals["n_scored"].iloc[:3] <= seals["n_labeled"].iloc[:3] * 10).all()
    assert frames["random"]["n_scored"].eq(0).all()
    # the refitted model of round 0 is the loop's: same labels, same fit
    first = frames["random"]["average_precision"].iloc[0]
    assert all(f["average_precision"].iloc[0] == first for f in frames.values())
    with pytest.raises(ValueError, match="method must be one of"):
        rare_concept_search("MaxEnt", X, pos, X_test, pos_test)
    with pytest.raises(ValueError, match="needs index="):
        rare_concept_search("SEALS + ID", X, pos, X_test, pos_test)
    with pytest.raises(ValueError, match=r"one flag per pool item \(\d+\).*got shapes \(89,\)"):
        rare_concept_search("random", X, pos[:89], X_test, pos_test)
    with pytest.raises(ValueError, match=r"per test item"):
        rare_concept_search("random", X, pos, X_test, pos_test[:-1])


def test_rare_search_finds_more_positives_than_random():
    X, pos, X_test, pos_test = rare_task()
    index = KnnIndex(X, kind="flat")
    found = {m: rare_concept_search(m, X, pos, X_test, pos_test, index=index, k=20, batch_size=10,
                                    n_rounds=5, seed=0)["positives_found"].iloc[-1] for m in RARE_METHODS}
    assert found["SEALS + MaxEnt"] > found["random"] and found["full MaxEnt"] > found["random"]


def test_lsh_bits_are_signs_of_projections_and_hamming_gives_the_similarity():
    x = gaussian(200, 16)
    index = KnnIndex(x, kind="lsh", n_bits=64, seed=1)
    bits = index.lsh_bits(np.arange(200))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_array_equal(bits, unit @ index.hyperplanes.T > 0)
    sims, found = index.search(np.array([7]), k=5)
    hamming = (bits[found[0]] != bits[7]).sum(axis=1)
    np.testing.assert_allclose(sims[0], np.cos(np.pi * hamming / 64), atol=1e-6)
    with pytest.raises(ValueError, match="only for kind='lsh'"):
        KnnIndex(x).lsh_bits([0])
