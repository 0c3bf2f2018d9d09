"""Tests of dcai_lab.knn for huge pools: the IVF kinds, memory-mapped embeddings, exact search chunk by chunk."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.knn import KnnIndex, exact_search, ivf_settings, recall_at_k


def clustered(n: int = 20_000, d: int = 16, seed: int = 0) -> np.ndarray:
    """Unit vectors around 200 directions, like a pool of distorted copies of a few digits."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((200, d))
    x = centres[rng.integers(0, 200, n)] + 0.3 * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def brute_force(x: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    sims = x[ids].astype(np.float64) @ x.T.astype(np.float64)
    sims[np.arange(len(ids)), ids] = -np.inf
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


@pytest.fixture(scope="module")
def pool():
    return clustered()


@pytest.fixture(scope="module")
def memmapped(pool, tmp_path_factory):
    path = tmp_path_factory.mktemp("emb") / "embeddings.npy"
    np.save(path, pool)
    return np.load(path, mmap_mode="r")


QUERIES = np.arange(0, 20_000, 50)


def test_ivfsq_finds_most_true_neighbours_and_reranking_finds_more(pool):
    exact = brute_force(pool, QUERIES, 10)
    sq = KnnIndex(pool, kind="ivfsq", nprobe=8)
    assert (sq.nlist, sq.pq_bytes, sq.rerank) == (128, None, 0)  # 2^round(log2(sqrt(20,000)))
    plain = recall_at_k(sq.neighbors(QUERIES, 10)[1], exact)
    sq.rerank = 2
    reranked = recall_at_k(sq.neighbors(QUERIES, 10)[1], exact)
    assert 0.8 < plain <= reranked and reranked > 0.95
    pq = KnnIndex(pool, kind="ivfpq", nprobe=8, rerank=0)
    assert pq.pq_bytes == 2  # d / 8
    coarse = recall_at_k(pq.neighbors(QUERIES, 10)[1], exact)
    pq.rerank = 8
    assert coarse < recall_at_k(pq.neighbors(QUERIES, 10)[1], exact)


def test_reranked_similarities_are_the_exact_cosines(pool):
    index = KnnIndex(pool, kind="ivfpq", rerank=4)
    sims, ids = index.neighbors(QUERIES[:20], 5)
    np.testing.assert_allclose(sims, np.einsum("qkd,qd->qk", pool[ids], pool[QUERIES[:20]]), atol=1e-6)
    assert (np.diff(sims, axis=1) <= 1e-7).all() and not (ids == QUERIES[:20, None]).any()


def test_more_cells_scanned_never_lose_recall(pool):
    exact = brute_force(pool, QUERIES, 10)
    index = KnnIndex(pool, kind="ivfsq", nprobe=1, rerank=2)
    recalls = []
    for nprobe in (1, 4, 128):
        index.index.nprobe = nprobe
        recalls.append(recall_at_k(index.neighbors(QUERIES, 10)[1], exact))
    assert recalls == sorted(recalls) and recalls[-1] > 0.98  # all 128 cells: only the codes' error is left


def test_a_memory_mapped_file_is_used_as_it_is_and_gives_the_same_index(pool, memmapped):
    from_file = KnnIndex(memmapped, kind="ivfsq")
    in_memory = KnnIndex(pool, kind="ivfsq")
    assert from_file.vectors is memmapped  # no float copy of the pool
    np.testing.assert_array_equal(from_file.neighbors(QUERIES, 10)[1], in_memory.neighbors(QUERIES, 10)[1])
    flat_file, flat = KnnIndex(memmapped, kind="flat"), KnnIndex(pool, kind="flat")
    np.testing.assert_array_equal(flat_file.neighbors(QUERIES, 5)[1], flat.neighbors(QUERIES, 5)[1])


def test_building_twice_gives_the_same_neighbours(pool):
    a, b = KnnIndex(pool, kind="ivfpq", seed=3), KnnIndex(pool, kind="ivfpq", seed=3)
    np.testing.assert_array_equal(a.neighbors(QUERIES, 10)[1], b.neighbors(QUERIES, 10)[1])
    assert faiss.serialize_index(a.index).tobytes() == faiss.serialize_index(b.index).tobytes()


def test_lsh_trained_on_one_chunk_is_the_lsh_of_the_whole_pool(pool):
    old = faiss.IndexLSH(pool.shape[1], 64)  # the former build: train on every vector
    old.rrot.init(0)
    old.train(pool)
    old.add(pool)
    new = KnnIndex(pool, kind="lsh", n_bits=64)
    np.testing.assert_array_equal(new.index.search(pool[QUERIES], 8)[1], old.search(pool[QUERIES], 8)[1])


def test_ivf_stores_compressed_codes(pool):
    flat = KnnIndex(pool, kind="flat").memory_bytes()
    sq, pq = KnnIndex(pool, kind="ivfsq").memory_bytes(), KnnIndex(pool, kind="ivfpq").memory_bytes()
    n, d = pool.shape
    assert n * (d + 8) < sq < n * (d + 8) + 200_000 < flat  # d one-byte codes + an 8-byte id per point
    assert n * (2 + 8) < pq < n * (2 + 8) + 200_000


def test_memory_mapped_embeddings_must_be_unit_float32_rows(tmp_path, pool):
    np.save(tmp_path / "raw.npy", pool * 2)
    with pytest.raises(ValueError, match=r"must hold finite unit rows .* rows \[0, 1, 2, 3, 4\]"):
        KnnIndex(np.load(tmp_path / "raw.npy", mmap_mode="r"), kind="ivfsq")
    np.save(tmp_path / "f64.npy", pool.astype(np.float64))
    with pytest.raises(ValueError, match=r"must be a float32 array \(n_points, dim\), got dtype float64"):
        KnnIndex(np.load(tmp_path / "f64.npy", mmap_mode="r"), kind="flat")


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="ivfsq", n=9_000), r"kind='ivfsq' needs at least 9,984 points .* got 9,000; use kind='flat'"),
    (dict(kind="ivfpq", pq_bytes=3), r"pq_bytes must divide the embedding dimension 16, got 3; try one of \[1, 2, 4"),
    (dict(kind="ivfsq", nlist=1_000), r"nlist must be an integer in 1\.\.512, got 1000 \(k-means needs 39 points"),
    (dict(kind="ivfsq", nprobe=0), r"nprobe must be an integer >= 1, got 0"),
    (dict(kind="ivfsq", rerank=-1), r"rerank must be an integer >= 0, got -1 \(0 = no re-ranking\)"),
])
def test_bad_ivf_settings_say_what_to_do(pool, kwargs, message):
    n = kwargs.pop("n", 20_000)
    with pytest.raises(ValueError, match=message):
        KnnIndex(pool[:n], **kwargs)


def test_ivf_settings_defaults():
    assert ivf_settings("ivfsq", 100_000, 128) == (256, None)
    assert ivf_settings("ivfpq", 10_000_000, 128) == (4096, 16)
    assert ivf_settings("ivfpq", 10_000, 12) == (128, 1)  # 10,000 / 39 = 256 cells at most; 12 / 8 -> 1
    assert ivf_settings("ivfpq", 20_000, 100, pq_bytes=25) == (128, 25)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 300), m=st.integers(1, 5), k=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_exact_search_is_the_brute_force_top_k(n, m, k, seed):
    from unittest import mock

    import dcai_lab.knn as knn

    with mock.patch.object(knn, "CHUNK_ROWS", 64):  # several chunks to merge
        check_exact_search(n, m, k, seed)


def check_exact_search(n, m, k, seed):
    rng = np.random.default_rng(seed)
    x, q = rng.standard_normal((n, 6)).astype(np.float32), rng.standard_normal((m, 6)).astype(np.float32)
    k = min(k, n)
    sims, ids = exact_search(x, q, k)
    expected = np.sort(q @ x.T, axis=1)[:, ::-1][:, :k]
    np.testing.assert_allclose(sims, expected, atol=1e-5)
    np.testing.assert_allclose(np.einsum("qkd,qd->qk", x[ids], q), sims, atol=1e-5)
    assert all(len(set(row)) == k for row in ids.tolist())


def test_exact_search_reads_a_memory_mapped_file(memmapped, pool):
    sims, ids = exact_search(memmapped, pool[QUERIES[:10]], 3)
    np.testing.assert_array_equal(ids[:, 0], QUERIES[:10])  # a point is its own best match
    np.testing.assert_array_equal(ids[:, 1:], brute_force(pool, QUERIES[:10], 2))
    with pytest.raises(ValueError, match=r"queries must have 16 columns, got shape \(1, 3\)"):
        exact_search(memmapped, np.ones((1, 3)), 2)
    with pytest.raises(ValueError, match=r"k must be an integer in 1\.\.20000, got 0"):
        exact_search(memmapped, pool[:1], 0)


def test_from_faiss_wraps_an_index_built_elsewhere(pool):
    built = KnnIndex(pool, kind="ivfsq", nprobe=8)
    wrapped = KnnIndex.from_faiss(faiss.deserialize_index(faiss.serialize_index(built.index)), pool, kind="ivfsq")
    np.testing.assert_array_equal(wrapped.neighbors(QUERIES, 5)[1], built.neighbors(QUERIES, 5)[1])
    with pytest.raises(ValueError, match=r"the faiss index holds 20000 vectors of 16 dimensions, the embeddings "
                                         r"\(100, 16\)"):
        KnnIndex.from_faiss(built.index, pool[:100], kind="ivfsq")
