"""Tests of dcai_lab.knn_shards: an IVF index in shards, searched together or merged with its lists on disk."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from dcai_lab.knn import KnnIndex
from dcai_lab.knn_shards import fill_shard, merge_on_disk, search_shards, train_ivf
from dcai_lab.seals import CandidatePool

QUERIES = np.arange(0, 20_000, 97)


@pytest.fixture(scope="module")
def pool():
    x = np.random.default_rng(0).standard_normal((20_000, 16))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def whole(pool):
    return KnnIndex(pool, kind="ivfsq", nlist=32, nprobe=4)


@pytest.fixture(scope="module")
def shards(pool):
    trained = train_ivf(pool, nlist=32)
    return trained, [fill_shard(trained, pool, a, b) for a, b in ((0, 7_000), (7_000, 13_000), (13_000, 20_000))]


def test_shards_searched_together_find_what_one_index_finds(pool, whole, shards):
    index = search_shards(shards[1], pool, nprobe=4)
    sims, ids = index.neighbors(QUERIES, 10)
    want_sims, want_ids = whole.neighbors(QUERIES, 10)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(sims, want_sims, atol=1e-6)
    assert isinstance(index.index, faiss.IndexShards) and index.index.count() == 3


def test_each_shard_holds_its_rows_under_their_pool_ids(pool, shards):
    for shard, (a, b) in zip(shards[1], ((0, 7_000), (7_000, 13_000), (13_000, 20_000))):
        index = faiss.deserialize_index(np.frombuffer(shard, dtype=np.uint8))
        ivf = faiss.extract_index_ivf(index)
        ids = np.concatenate([faiss.rev_swig_ptr(ivf.invlists.get_ids(c), ivf.invlists.list_size(c)).copy()
                              for c in range(ivf.nlist) if ivf.invlists.list_size(c)])
        np.testing.assert_array_equal(np.sort(ids), np.arange(a, b))


def test_lists_merged_on_disk_find_what_one_index_finds(pool, whole, shards, tmp_path):
    files = []
    for i, shard in enumerate(shards[1]):
        files.append(tmp_path / f"shard{i}.faiss")
        files[-1].write_bytes(shard)
    index = merge_on_disk(shards[0], files, tmp_path / "merged", pool, nprobe=4)
    np.testing.assert_array_equal(index.neighbors(QUERIES, 10)[1], whole.neighbors(QUERIES, 10)[1])
    lists = (tmp_path / "merged" / "lists.ivfdata").stat().st_size
    assert lists >= 20_000 * (16 + 8)  # every point's 16 one-byte codes and 8-byte id are in the file ...
    assert (tmp_path / "merged" / "index.faiss").stat().st_size < 20_000  # ... not in the index
    reopened = KnnIndex.from_faiss(faiss.read_index(str(tmp_path / "merged" / "index.faiss")), pool, kind="ivfsq")
    faiss.extract_index_ivf(reopened.index).nprobe = 4
    np.testing.assert_array_equal(reopened.neighbors(QUERIES, 10)[1], whole.neighbors(QUERIES, 10)[1])


def test_shards_filled_from_the_pool_file_find_the_same_neighbours(pool, whole, shards, tmp_path):
    path = tmp_path / "embeddings.npy"
    np.save(path, pool)  # unit rows as stored (an array is normalised again: equal up to float rounding)
    from_file = [fill_shard(shards[0], path, a, b) for a, b in ((0, 10_000), (10_000, 20_000))]
    index = search_shards(from_file, str(path), nprobe=4)
    assert isinstance(index.vectors, np.memmap)
    np.testing.assert_array_equal(index.neighbors(QUERIES, 10)[1], whole.neighbors(QUERIES, 10)[1])


def test_seals_candidate_pool_runs_on_shards(pool, whole, shards):
    labeled = np.arange(0, 20_000, 1_000)
    on_shards = CandidatePool(search_shards(shards[1], pool, nprobe=4), k=20, labeled=labeled)
    np.testing.assert_array_equal(on_shards.ids(), CandidatePool(whole, k=20, labeled=labeled).ids())


def test_bad_shard_arguments(pool, shards, tmp_path):
    with pytest.raises(ValueError, match=r"give at least one shard"):
        search_shards([], pool)
    with pytest.raises(ValueError, match=r"stop must be an integer in 10\.\.20000, got 5 \(from start=10"):
        fill_shard(shards[0], pool, 10, 5)
    with pytest.raises(ValueError, match=r"expected a serialized faiss index \(bytes from train_ivf or fill_shard\)"):
        fill_shard("trained.faiss", pool, 0, 10)
    with pytest.raises(ValueError, match=r"shard files .* do not exist"):
        merge_on_disk(shards[0], [tmp_path / "missing.faiss"], tmp_path / "m", pool)
    with pytest.raises(ValueError, match=r"kind must be one of 'ivfsq', 'ivfpq', got 'flat'"):
        train_ivf(pool, kind="flat")
