"""Tests of dcai_lab.pool_files: a pool generated and embedded chunk by chunk into memory-mapped files."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import dcai_lab.pool_files as pool_files
from dcai_lab.augment import augment_pool
from dcai_lab.data import Dataset, make_rare
from dcai_lab.embed import embed
from dcai_lab.pool_files import PoolFiles, make_pool_files, open_pool_files


def reference_pool(dataset, n, seed=0, rare_class=None, prevalence=None, oversample=1.15):
    """The pool built in memory the slow way: augment_pool, make_rare, the first n."""
    n_aug = n if rare_class is None else int(oversample * n)
    augmented = augment_pool(dataset, n_aug, seed=seed)
    if rare_class is None:
        return augmented, np.arange(n)
    numbered = Dataset(augmented.images, augmented.y, augmented.class_names, augmented.name,
                       source_index=np.arange(n_aug))
    return augmented, make_rare(numbered, rare_class, prevalence, seed=seed).source_index[:n]


@pytest.fixture
def count_chunks(monkeypatch):
    """Counts the chunks embedded (calls of pool_files._embed_rows)."""
    calls = []
    real = pool_files._embed_rows

    def counting(encoder, images, method):
        calls.append(len(images))
        return real(encoder, images, method)

    monkeypatch.setattr(pool_files, "_embed_rows", counting)
    return calls


def test_pool_equals_augment_make_rare_and_embed_across_a_chunk_boundary(digits, tmp_path):
    n = 60_000  # 69,000 augmented items: two random-stream chunks of 65,536
    pool = make_pool_files(digits, n, rare_class=3, prevalence=0.002, method="pixels", cache_dir=tmp_path,
                           progress=False)
    augmented, kept = reference_pool(digits, n, rare_class=3, prevalence=0.002)
    assert kept[-1] >= 65_536  # the pool really spans both chunks
    np.testing.assert_array_equal(pool.positions, kept)
    np.testing.assert_array_equal(pool.images, augmented.images[kept])
    np.testing.assert_array_equal(pool.y, augmented.y[kept])
    np.testing.assert_array_equal(pool.source_index, augmented.source_index[kept])
    np.testing.assert_array_equal(pool.embeddings, embed(augmented.images[kept], method="pixels", normalize=True))
    assert isinstance(pool.embeddings, np.memmap) and not pool.embeddings.flags.writeable


def test_ssl_embeddings_are_those_of_embed(digits, tmp_path):
    pool = make_pool_files(digits, 3_000, cache_dir=tmp_path, progress=False)
    augmented = augment_pool(digits, 3_000, seed=0)
    expected = embed(augmented.images, method="ssl", normalize=True, cache=False, progress=False)
    np.testing.assert_allclose(pool.embeddings, expected, atol=1e-6)
    assert pool.embeddings.shape == (3_000, 128)
    np.testing.assert_allclose(np.linalg.norm(pool.embeddings, axis=1), 1, atol=1e-5)


def test_a_cached_pool_is_opened_not_rebuilt_and_the_key_follows_the_arguments(digits, tmp_path, count_chunks):
    first = make_pool_files(digits, 2_000, method="pixels", cache_dir=tmp_path, progress=False)
    assert len(count_chunks) == 1
    again = make_pool_files(digits, 2_000, method="pixels", cache_dir=tmp_path, progress=False, verify=True)
    assert len(count_chunks) == 1 and again.folder == first.folder
    other_seed = make_pool_files(digits, 2_000, seed=1, method="pixels", cache_dir=tmp_path, progress=False)
    other_data = make_pool_files(digits.subset(np.arange(1_000)), 2_000, method="pixels", cache_dir=tmp_path,
                                 progress=False)
    assert len({first.folder, other_seed.folder, other_data.folder}) == 3
    assert not np.array_equal(first.images, other_seed.images)
    assert open_pool_files(first.folder).info == first.info


def test_an_interrupted_build_resumes_at_the_first_missing_chunk(digits, tmp_path, monkeypatch):
    n = 70_000  # two chunks without a rare class
    calls = []
    real = pool_files._embed_rows

    def fails_on_second(encoder, images, method):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C in the second chunk
        return real(encoder, images, method)

    monkeypatch.setattr(pool_files, "_embed_rows", fails_on_second)
    with pytest.raises(KeyboardInterrupt):
        make_pool_files(digits, n, method="pixels", cache_dir=tmp_path, progress=False)
    assert [p.name.endswith(".partial") for p in tmp_path.glob("pool-*") if p.is_dir()] == [True]
    resumed = make_pool_files(digits, n, method="pixels", cache_dir=tmp_path, progress=False)
    assert calls == [65_536, 70_000 - 65_536, 70_000 - 65_536]  # the first chunk was not made again
    fresh = make_pool_files(digits, n, method="pixels", cache_dir=tmp_path / "fresh", progress=False)
    np.testing.assert_array_equal(resumed.images, fresh.images)
    np.testing.assert_array_equal(resumed.embeddings, fresh.embeddings)
    resumed.verify()
    assert not list(tmp_path.glob("*.partial"))


def test_verify_finds_rows_changed_on_disk(digits, tmp_path):
    pool = make_pool_files(digits, 1_000, method="pixels", cache_dir=tmp_path, progress=False)
    pool.verify()
    writable = np.load(pool.folder / "embeddings.npy", mmap_mode="r+")
    writable[500, 3] += 0.5
    writable.flush()
    with pytest.raises(ValueError, match=r"rows 0\.\.999 changed since they were written"):
        open_pool_files(pool.folder).verify()


def test_two_builders_of_the_same_pool_build_it_once(digits, tmp_path, count_chunks):
    pools = []
    threads = [threading.Thread(target=lambda: pools.append(
        make_pool_files(digits, 1_500, method="pixels", cache_dir=tmp_path, progress=False))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(count_chunks) == 1 and pools[0].folder == pools[1].folder
    np.testing.assert_array_equal(pools[0].embeddings, pools[1].embeddings)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n=0), r"n must be an integer >= 1, got 0 \(the number of pool items\)"),
    (dict(method="pca"), r"method must be one of 'ssl', 'supervised', 'pixels', got 'pca'"),
    (dict(rare_class=3), r"give both rare_class and prevalence"),
    (dict(rare_class=3, prevalence=1.5), r"prevalence must be a finite number in \(0, 1\)"),
    (dict(rare_class=12, prevalence=0.01), r"rare_class must be an integer in 0\.\.9"),
    (dict(rare_class=3, prevalence=0.01, oversample=0.5), r"oversample must be a finite number >= 1"),
    (dict(n=5_000, rare_class=3, prevalence=0.01, oversample=1.0), r"items are left after make_rare.*raise oversample"),
    (dict(progress="yes"), r"progress must be True or False"),
])
def test_bad_arguments_say_what_to_do(digits, tmp_path, kwargs, message):
    kwargs = {"n": 1_000, "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_pool_files(digits, cache_dir=tmp_path, **kwargs)


def test_not_a_dataset_or_not_a_pool_folder(digits, tmp_path):
    with pytest.raises(ValueError, match=r"dataset must be a Dataset \(e\.g\. load_digits\(\)\), got ndarray"):
        make_pool_files(digits.images, 100, cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"is not a finished pool folder \(no pool\.json\)"):
        PoolFiles(tmp_path)


def test_a_partial_build_whose_file_was_lost_starts_again(digits, tmp_path, monkeypatch):
    calls = []
    real = pool_files._embed_rows

    def fails_on_second(encoder, images, method):
        calls.append(len(images))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(encoder, images, method)

    monkeypatch.setattr(pool_files, "_embed_rows", fails_on_second)
    with pytest.raises(KeyboardInterrupt):
        make_pool_files(digits, 70_000, method="pixels", cache_dir=tmp_path, progress=False)
    (partial,) = tmp_path.glob("pool-*.partial")
    (partial / "embeddings.npy").write_bytes(b"not an npy file")  # damaged: the first chunk's rows are gone
    pool = make_pool_files(digits, 70_000, method="pixels", cache_dir=tmp_path, progress=False)
    assert calls[2:] == [65_536, 70_000 - 65_536]  # both chunks made again
    np.testing.assert_array_equal(pool.embeddings[:10], embed(pool.images[:10], method="pixels", normalize=True))
    pool.verify()


def test_augment_chunk_is_that_chunk_of_augment_pool_and_checks_its_arguments(digits):
    """pool_files builds a pool from augment_chunk (public, in augment), one chunk at a time: the same stream."""
    from dcai_lab.augment import CHUNK_SIZE, augment_chunk

    n = CHUNK_SIZE + 40
    images, base = augment_chunk(digits, n, 3, 1)
    whole = augment_pool(digits, n, seed=3)
    np.testing.assert_array_equal(images, whole.images[CHUNK_SIZE:])
    np.testing.assert_array_equal(digits.source_index[base], whole.source_index[CHUNK_SIZE:])
    with pytest.raises(ValueError, match=r"chunk must be an integer in 0\.\.1, got 2 \(a pool of 65576 items has 2"):
        augment_chunk(digits, n, 3, 2)
    with pytest.raises(ValueError, match=r"unknown distortion\(s\) \['twist'\]; choose from"):
        augment_chunk(digits, 10, 0, 0, twist=1.0)
    with pytest.raises(ValueError, match=r"dataset must be a Dataset"):
        augment_chunk(digits.images, 10, 0, 0)


def test_open_pool_files_names_a_bad_folder_argument():
    with pytest.raises(ValueError, match=r"folder must be a file or folder name"):
        open_pool_files(3)
