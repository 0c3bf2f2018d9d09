"""Tests of dcai_lab.distributed on a local Dask cluster: the same results as one process."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("dask.distributed")

import dask.array as da  # noqa: E402
from dask.distributed import Client, LocalCluster  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from dcai_lab.augment import augment_pool  # noqa: E402
from dcai_lab.distributed import embed_blocks, pool_array, select_uncertain, write_npy  # noqa: E402
from dcai_lab.embed import embed  # noqa: E402
from dcai_lab.strategies import entropy_sampling, least_confidence_sampling, margin_sampling  # noqa: E402


@pytest.fixture(scope="module")
def client():
    """Two worker processes, one thread each: tasks and their arguments really cross process boundaries."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def images(digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "images.npy"
    np.save(path, augment_pool(digits, 2_048, seed=0).images)
    return path


def test_embedding_on_the_cluster_equals_embed_in_one_process(client, images, tmp_path):
    blocks = pool_array(images, block_rows=1_024)  # blocks of whole batches: the same arithmetic as one process
    out = write_npy(embed_blocks(blocks), tmp_path / "embeddings.npy")
    expected = embed(np.load(images), method="ssl", normalize=True, cache=False, progress=False)
    np.testing.assert_array_equal(np.load(out), expected)
    uneven = embed_blocks(pool_array(images, block_rows=700)).compute()
    np.testing.assert_allclose(uneven, expected, atol=1e-6)
    assert uneven.dtype == np.float32 and uneven.shape == (2_048, 128)


@pytest.mark.parametrize("score, select", [("entropy", entropy_sampling), ("margin", margin_sampling),
                                           ("least_confidence", least_confidence_sampling)])
def test_full_pool_scoring_on_the_cluster_picks_what_one_process_picks(client, tmp_path, score, select):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 16)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0.3).astype(int)
    labeled_ids = rng.choice(len(X), 300, replace=False)
    model = LogisticRegression().fit(X[labeled_ids], y[labeled_ids])
    labeled = np.zeros(len(X), dtype=bool)
    labeled[labeled_ids] = True
    np.save(tmp_path / "X.npy", X)
    got = select_uncertain(model, pool_array(tmp_path / "X.npy", block_rows=3_001), 40, labeled_ids=labeled_ids,
                           score=score)
    np.testing.assert_array_equal(got, select(model, X, labeled, 40, np.random.default_rng(0)))
    assert not np.isin(got, labeled_ids).any()


def test_ties_go_to_the_lowest_pool_id_across_blocks(client):
    X = np.zeros((1_000, 2))  # every row scores the same
    model = LogisticRegression().fit([[0.0, -1.0], [0.0, 1.0]], [0, 1])
    got = select_uncertain(model, da.from_array(X, chunks=(77, 2)), 5, labeled_ids=[1, 3])
    np.testing.assert_array_equal(got, [0, 2, 4, 5, 6])


def test_index_shards_filled_on_the_workers_are_those_filled_here(client, tmp_path):
    from dcai_lab.knn_shards import fill_shard, train_ivf

    x = np.random.default_rng(0).standard_normal((12_000, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    np.save(tmp_path / "embeddings.npy", x)
    trained = train_ivf(x, nlist=16)
    bounds = [(0, 5_000), (5_000, 12_000)]
    path = str(tmp_path / "embeddings.npy")
    remote = client.gather([client.submit(fill_shard, trained, path, a, b, pure=False) for a, b in bounds])
    assert remote == [fill_shard(trained, path, a, b) for a, b in bounds]  # byte for byte


def test_a_pool_array_ships_its_path_not_its_rows(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((100_000, 8), np.float32))  # 3.2 MB
    blocks = pool_array(tmp_path / "big.npy", block_rows=10_000)
    assert len(pickle.dumps(blocks)) < 20_000 and blocks.numblocks == (10, 1)
    np.testing.assert_array_equal(blocks[5:8].compute(), np.zeros((3, 8)))


def test_two_files_of_the_same_name_are_two_graphs(tmp_path):
    """Regression: the array's name came from the file name alone, so two pools' embeddings.npy collided."""
    for folder, value in (("a", 1.0), ("b", 2.0)):
        (tmp_path / folder).mkdir()
        np.save(tmp_path / folder / "embeddings.npy", np.full((6, 2), value, np.float32))
    a, b = pool_array(tmp_path / "a" / "embeddings.npy", 4), pool_array(tmp_path / "b" / "embeddings.npy", 4)
    assert a.name != b.name
    assert float(da.concatenate([a, b]).sum().compute()) == 6 * 2 * 1.0 + 6 * 2 * 2.0


def test_write_npy_of_column_blocks_writes_whole_rows(client, tmp_path):
    """Regression: blocks split along columns were zipped with the row starts and written over each other."""
    x = np.arange(7 * 5, dtype=np.int64).reshape(7, 5)
    out = write_npy(da.from_array(x, chunks=(3, 2)), tmp_path / "x.npy")
    np.testing.assert_array_equal(np.load(out), x)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"path: no file .*missing\.npy; give the path of a \.npy file"):
        pool_array(tmp_path / "missing.npy")
    with pytest.raises(ValueError, match=r"path must be a file or folder name"):
        pool_array(3)
    with pytest.raises(ValueError, match=r"array must be a Dask array"):
        write_npy(np.zeros(3), tmp_path / "x.npy")
    with pytest.raises(ValueError, match=r"images must be a Dask array \(N, H, W\)"):
        embed_blocks(np.zeros((3, 8, 8), np.uint8))
    with pytest.raises(ValueError, match=r"method must be one of 'ssl', 'supervised', 'pixels', got 'pca'"):
        embed_blocks(da.zeros((3, 8, 8), dtype=np.uint8), method="pca")
    model = LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(ValueError, match=r"batch_size must be an integer in 1\.\.8, got 9 \(the pool has 8 unlabeled"):
        select_uncertain(model, da.zeros((10, 1)), 9, labeled_ids=[0, 1])
    with pytest.raises(ValueError, match=r"score must be one of 'entropy', 'margin', 'least_confidence'"):
        select_uncertain(model, da.zeros((10, 1)), 2, score="bald")
