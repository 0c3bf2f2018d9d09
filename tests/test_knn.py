"""Tests of dcai_lab.knn: the nearest-neighbour indexes (exact, LSH, HNSW) and recall@k."""

import numpy as np
import pytest

from dcai_lab.knn import KnnIndex, recall_at_k


def gaussian(n: int = 300, d: int = 12, seed: int = 0) -> np.ndarray:
    """Random directions: no ties in cosine similarity, so exact neighbours are unique."""
    return np.random.default_rng(seed).standard_normal((n, d))


KINDS = ("flat", "lsh", "hnsw")


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force_knn(x: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """NumPy cosine top-k of each id among the other points, most similar first."""
    sims = unit(x)[ids] @ unit(x).T
    sims[np.arange(len(ids)), ids] = -np.inf  # exclude self
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


# --------------------------------------------------------------------------- neighbours of pool ids, search by vectors


def test_flat_neighbors_equal_brute_force():
    x = gaussian()
    ids = np.arange(0, 300, 7)
    sims, found = KnnIndex(x, kind="flat").neighbors(ids, k=10)
    np.testing.assert_array_equal(found, brute_force_knn(x, ids, 10))
    np.testing.assert_allclose(sims, np.take_along_axis(unit(x)[ids] @ unit(x).T, found, axis=1), atol=1e-5)
    assert np.all(np.diff(sims, axis=1) <= 1e-6), "most similar first"


def test_search_with_query_vectors_includes_self():
    x = gaussian()
    index = KnnIndex(x, kind="flat")
    sims, found = index.search(x[:5] * 3.0, k=4)  # scaling a query does not change cosine neighbours
    np.testing.assert_array_equal(found[:, 0], np.arange(5))
    np.testing.assert_allclose(sims[:, 0], 1.0, atol=1e-5)
    one_sims, one_found = index.search(x[2:3], k=4)  # a single query is a (1, d) array
    np.testing.assert_array_equal(one_found, found[2:3])
    empty_sims, empty_found = index.search(np.zeros((0, 12)), k=3)
    assert empty_sims.shape == empty_found.shape == (0, 3)


def test_search_takes_vectors_only_and_neighbors_takes_pool_ids():
    """Behaviour changed on purpose (issue 12): search no longer changes meaning with the dtype of its argument."""
    index = KnnIndex(gaussian(10, 3))
    with pytest.raises(ValueError, match=r"search takes query vectors \(m, d\); for the neighbours of pool ids use "
                                         r"index\.neighbors\(ids, k\)"):
        index.search(np.array([0, 3]), k=2)
    with pytest.raises(ValueError, match=r"queries must be a 2-D array \(m, 3\).*queries\[None, :\]"):
        index.search(gaussian(10, 3)[2], k=2)
    with pytest.raises(ValueError, match=r"ids must be integer pool ids \(row numbers\), got dtype float64"):
        index.neighbors(gaussian(10, 3)[0], k=2)
    with pytest.raises(ValueError, match=r"ids must be a 1-D array of pool ids, got shape \(2, 3\)"):
        index.neighbors(gaussian(2, 3), k=2)


@pytest.mark.parametrize("kind", KINDS)
def test_ids_are_pool_ids_and_self_is_excluded(kind):
    x = gaussian()
    sims, found = KnnIndex(x, kind=kind).neighbors(np.array([5, 17]), k=20)
    assert found.shape == (2, 20) and found.dtype == np.int64 and sims.dtype == np.float32
    assert 5 not in found[0] and 17 not in found[1]
    assert found.min() >= 0 and found.max() < len(x)
    assert all(len(set(row)) == 20 for row in found)


def test_exclude_self_up_to_the_whole_pool():
    x = gaussian(20, 4)
    _, found = KnnIndex(x).neighbors(np.arange(20), k=19)
    for i, row in enumerate(found):
        assert sorted(row) == [j for j in range(20) if j != i]


def test_a_point_with_a_duplicate_still_leaves_itself_out():
    x = gaussian(20, 4)
    x[7] = x[3]  # two identical points: either may come first
    _, found = KnnIndex(x).neighbors([3, 7], k=3)
    assert 3 not in found[0] and 7 in found[0] and 7 not in found[1] and 3 in found[1]


# Measured on the 1,797 digits (pixels), every third digit as a query, k=10, seeds 0..2:
# LSH with 256 bits 0.64-0.65, HNSW (M=16, ef_search=64) 1.00. Asserted with a margin.
@pytest.mark.parametrize("kind, options, bound", [
    ("lsh", dict(n_bits=256), 0.55),
    ("hnsw", dict(hnsw_m=16, ef_search=64), 0.95),
])
def test_approximate_recall_at_10_on_digits(digits, kind, options, bound):
    queries = np.arange(0, len(digits), 3)
    _, exact = KnnIndex(digits.X, kind="flat").neighbors(queries, k=10)
    _, approx = KnnIndex(digits.X, kind=kind, **options).neighbors(queries, k=10)
    assert recall_at_k(approx, exact) >= bound


def test_lsh_and_hnsw_are_deterministic_and_seeded():
    x = gaussian(500, 16)
    for kind in ("lsh", "hnsw"):
        a = KnnIndex(x, kind=kind, seed=3).neighbors(np.arange(50), k=10)[1]
        b = KnnIndex(x, kind=kind, seed=3).neighbors(np.arange(50), k=10)[1]
        np.testing.assert_array_equal(a, b)
    lsh_0 = KnnIndex(x, kind="lsh", seed=0).neighbors(np.arange(50), k=10)[1]
    lsh_1 = KnnIndex(x, kind="lsh", seed=1).neighbors(np.arange(50), k=10)[1]
    assert not np.array_equal(lsh_0, lsh_1), "the seed picks the random hyperplanes"


def test_lsh_similarity_estimates_cosine():
    x = gaussian(400, 16)
    sims, found = KnnIndex(x, kind="lsh", n_bits=1024).neighbors(np.arange(20), k=30)
    true = np.take_along_axis(unit(x)[:20] @ unit(x).T, found, axis=1)
    assert np.abs(sims - true).mean() < 0.1


def test_lsh_bits_are_signs_of_projections_and_hamming_gives_the_similarity():
    x = gaussian(200, 16)
    index = KnnIndex(x, kind="lsh", n_bits=64, seed=1)
    bits = index.lsh_bits(np.arange(200))
    np.testing.assert_array_equal(bits, unit(x) @ index.hyperplanes.T > 0)
    sims, found = index.neighbors(np.array([7]), k=5)
    hamming = (bits[found[0]] != bits[7]).sum(axis=1)
    np.testing.assert_allclose(sims[0], np.cos(np.pi * hamming / 64), atol=1e-6)
    with pytest.raises(ValueError, match="lsh_bits exists only for kind='lsh'"):
        KnnIndex(x).lsh_bits([0])
    with pytest.raises(ValueError, match="hyperplanes exists only for kind='lsh'"):
        KnnIndex(x).hyperplanes


def test_index_facts():
    x = gaussian(50, 6)
    index = KnnIndex(x, kind="lsh", n_bits=32)
    assert (len(index), index.dim, index.n_bits) == (50, 6, 32)
    assert repr(index) == "KnnIndex(kind='lsh', n=50, dim=6)"
    assert KnnIndex(x, kind="lsh").n_bits == 24  # default 4 * d
    assert KnnIndex(x).memory_bytes() >= 50 * 6 * 4 < KnnIndex(gaussian(500, 6)).memory_bytes()
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1, atol=1e-6)


def test_embeddings_are_not_modified():
    x = gaussian(10, 3)
    before = x.copy()
    KnnIndex(x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("scale, dtype", [(1e200, np.float64), (1e-200, np.float64), (1e20, np.float32)])
@pytest.mark.parametrize("kind", KINDS)
def test_huge_and_tiny_embeddings_give_the_same_neighbours(kind, scale, dtype):
    """Regression (issue 12): x1e200 overflowed to inf norms (NaN vectors), x1e-200 to zero norms."""
    x = gaussian(200, 8, seed=4)
    ids = np.arange(0, 200, 9)
    expected = KnnIndex(x, kind=kind).neighbors(ids, k=5)
    got = KnnIndex((x * scale).astype(dtype), kind=kind).neighbors(ids, k=5)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_allclose(got[0], expected[0], atol=1e-5)
    queries = (x[:4] * scale).astype(dtype)
    np.testing.assert_array_equal(KnnIndex(x, kind=kind).search(x[:4], 3)[1],
                                  KnnIndex(x * 1.0, kind=kind).search(queries, 3)[1])


def test_recall_at_k():
    assert recall_at_k([[1, 2]], [[1, 2]]) == 1.0
    assert recall_at_k([[2, 9], [-1, -1]], [[1, 2], [3, 4]]) == 0.25
    with pytest.raises(ValueError, match="one row per query"):
        recall_at_k([[1, 2]], [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"approx_ids and exact_ids must be pool ids \(integers\)"):
        recall_at_k([[1.5]], [[1]])


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("k", [0, -3, 2.5, True, "2"])
def test_bad_k(k):
    with pytest.raises(ValueError, match=r"k must be an integer in 1\.\.9"):
        KnnIndex(gaussian(10, 3)).neighbors(np.array([0]), k=k)


def test_k_larger_than_the_pool():
    index = KnnIndex(gaussian(10, 3))
    with pytest.raises(ValueError, match=r"k must be an integer in 1\.\.9, got 10 \(the pool has 10 points, minus "
                                         r"the query\)"):
        index.neighbors(np.array([0]), k=10)  # 9 other points
    with pytest.raises(ValueError, match=r"k must be an integer in 1\.\.10, got 11 \(the pool has 10 points\)"):
        index.search(gaussian(1, 3), k=11)


def test_nan_and_zero_norm_embeddings():
    x = gaussian(10, 3)
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"embeddings must be finite \(row 4 holds NaN or infinity\)"):
        KnnIndex(x)
    x = gaussian(10, 3)
    x[[2, 7]] = 0
    with pytest.raises(ValueError, match=r"embeddings rows \[2, 7\] are all zero"):
        KnnIndex(x)
    with pytest.raises(ValueError, match=r"queries rows \[0\] are all zero"):
        KnnIndex(gaussian(10, 3)).search(np.zeros((1, 3)), k=2)


def test_hnsw_with_one_link_per_point_raises_instead_of_crashing():
    """Regression (issue 12): KnnIndex(kind="hnsw", hnsw_m=1) segfaulted inside faiss."""
    with pytest.raises(ValueError, match=r"hnsw_m must be an integer >= 2, got 1 \(faiss's HNSW needs at least 2"):
        KnnIndex(gaussian(50, 4), kind="hnsw", hnsw_m=1)
    for bad in (0, True, 2.5):
        with pytest.raises(ValueError, match="hnsw_m must be an integer >= 2"):
            KnnIndex(gaussian(50, 4), kind="hnsw", hnsw_m=bad)
    _, found = KnnIndex(gaussian(50, 4), kind="hnsw", hnsw_m=2).neighbors([0], k=3)  # the smallest that works
    assert found.shape == (1, 3)


@pytest.mark.parametrize("n_bits", [0, 2.5, 10**9, "64"])
def test_bad_lsh_code_lengths(n_bits):
    """Regression (issue 12): n_bits=2.5 was accepted, n_bits=10**9 failed with a cryptic error."""
    with pytest.raises(ValueError, match=r"n_bits must be an integer in 1\.\.16384"):
        KnnIndex(gaussian(10, 3), kind="lsh", n_bits=n_bits)


def test_bad_queries_ids_and_kind():
    index = KnnIndex(gaussian(10, 3))
    with pytest.raises(ValueError, match=r"queries must have 3 columns, got shape \(2, 5\)"):
        index.search(gaussian(2, 5), k=2)
    with pytest.raises(ValueError, match=r"ids must be pool ids in 0\.\.9 \(row numbers\); got \[10\]"):
        index.neighbors(np.array([10]), k=2)
    with pytest.raises(ValueError, match=r"ids must be pool ids \(integers\), got a boolean mask"):
        index.neighbors(np.ones(10, dtype=bool), k=2)
    with pytest.raises(ValueError, match=r"kind must be one of 'flat', 'lsh', 'hnsw'.*, got 'annoy'"):
        KnnIndex(gaussian(10, 3), kind="annoy")
    for name in ("ef_search", "ef_construction"):
        with pytest.raises(ValueError, match=f"{name} must be an integer >= 1, got 0"):
            KnnIndex(gaussian(10, 3), kind="hnsw", **{name: 0})
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -1"):
        KnnIndex(gaussian(10, 3), kind="lsh", seed=-1)
