"""Tests of dcai_lab.data: Dataset, the loaders, make_rare, split and the course's split."""

import gzip
import pickle
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from dcai_lab import data
from dcai_lab.data import (Dataset, DatasetUnavailableError, course_split, load_torchvision, make_rare, read_idx,
                           split)


def test_load_digits(digits):
    assert digits.images.shape == (1797, 8, 8) and digits.images.dtype == np.uint8
    assert digits.X.shape == (1797, 64) and digits.X.dtype == np.float32
    assert 0.0 == digits.X.min() and digits.X.max() == 1.0
    assert digits.class_names == [str(d) for d in range(10)]
    assert digits.class_counts().sum() == 1797 and digits.class_counts().min() == 174
    # scikit-learn's 0..16 pixel values, rescaled to 0..255
    from sklearn.datasets import load_digits as sk
    np.testing.assert_allclose(digits.X, sk().data / 16, atol=0.5 / 255)


def test_dataset_rejects_bad_arrays():
    with pytest.raises(ValueError, match="uint8"):
        Dataset(np.zeros((2, 8, 8)), [0, 1], ["a", "b"], "x")
    with pytest.raises(ValueError, match="2 images but 3 labels"):
        Dataset(np.zeros((2, 8, 8), np.uint8), [0, 1, 1], ["a", "b"], "x")
    with pytest.raises(ValueError, match=r"y must be a 1-D array of class indices 0\.\.1"):
        Dataset(np.zeros((2, 8, 8), np.uint8), [0, 2], ["a", "b"], "x")
    with pytest.raises(ValueError, match=r"source_index must have one entry per item \(2\), got 3"):
        Dataset(np.zeros((2, 8, 8), np.uint8), [0, 1], ["a", "b"], "x", source_index=[0, 1, 2])


def test_subset_keeps_source_index(digits):
    sub = digits.subset([5, 2]).subset([1])
    assert sub.source_index.tolist() == [2] and sub.y[0] == digits.y[2]


def test_subset_with_a_boolean_mask_selects_the_masked_items(digits):
    """Regression (issue 12): a boolean mask gave copies of items 0 and 1 (True and False as indices)."""
    mask = np.zeros(len(digits), dtype=bool)
    mask[[3, 10, 1796]] = True
    sub = digits.subset(mask)
    assert sub.source_index.tolist() == [3, 10, 1796]
    np.testing.assert_array_equal(sub.images, digits.images[[3, 10, 1796]])
    threes = digits.subset(digits.y == 3)
    assert len(threes) == 183 and (threes.y == 3).all()
    with pytest.raises(ValueError, match=r"indices \(a boolean mask\) must have one entry per item \(1797\)"):
        digits.subset(mask[:5])


@pytest.mark.parametrize("ids", [[0.0, 1.0], [2.7], np.array([1.5, 3.0])])
def test_subset_refuses_float_ids_instead_of_truncating_them(digits, ids):
    """Regression (issue 12): ids 2.7 selected item 2."""
    with pytest.raises(ValueError, match=r"indices must be integer pool ids .*got dtype float64"):
        digits.subset(ids)


def test_subset_refuses_ids_outside_the_data_set(digits):
    with pytest.raises(ValueError, match=r"indices must be pool ids in 0\.\.1796 .*got \[1797\]"):
        digits.subset([0, 1797])
    with pytest.raises(ValueError, match=r"indices must be pool ids in 0\.\.1796 .*got \[-1\]"):
        digits.subset([-1])


def test_course_split_is_the_documented_split(course, digits):
    pool, test = course
    assert (len(pool), len(test)) == (1348, 449)
    _, pool2, test2 = split(digits, train_size=0, test_size=0.25, seed=0)
    assert pool.source_index.tolist() == pool2.source_index.tolist()
    assert test.source_index.tolist() == test2.source_index.tolist()
    assert not set(pool.source_index) & set(test.source_index)
    assert course_split()[0].source_index.tolist() == pool.source_index.tolist()  # the same every time


# --------------------------------------------------------------------------- make_rare and split


def test_make_rare_hits_the_prevalence(digits):
    rare = make_rare(digits, rare_class=3, prevalence=0.01, seed=0)
    n3, n = int((rare.y == 3).sum()), len(rare)
    assert n3 == round(0.01 * (1797 - 183) / 0.99) == 16
    assert abs(n3 / n - 0.01) < 0.001
    assert (rare.class_counts()[[0, 1, 2, 4, 5, 6, 7, 8, 9]] == np.delete(digits.class_counts(), 3)).all()
    np.testing.assert_array_equal(rare.y, digits.y[rare.source_index])
    assert make_rare(digits, 3, 0.01, seed=0).source_index.tolist() == rare.source_index.tolist()


@pytest.mark.parametrize("kwargs, message", [
    (dict(rare_class=10, prevalence=0.01), r"rare_class must be an integer in 0\.\.9, got 10"),
    (dict(rare_class=3, prevalence=0.0), r"prevalence must be a finite number in \(0, 1\), got 0\.0"),
    (dict(rare_class=3, prevalence=1.0), r"prevalence must be a finite number in \(0, 1\), got 1\.0"),
    (dict(rare_class=3, prevalence=0.5), "has only 183; use a prevalence of at most 0.1018"),
    (dict(rare_class="3", prevalence=0.01), r"rare_class must be an integer in 0\.\.9, got '3'"),
    (dict(rare_class=3, prevalence="1%"), r"prevalence must be a finite number in \(0, 1\), got '1%'"),
    (dict(rare_class=3, prevalence=0.01, seed="a"), r"seed must be an integer >= 0, got 'a'"),
])
def test_make_rare_errors(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_rare(digits, **kwargs)


def test_split_is_stratified_disjoint_and_seeded(digits):
    train, pool, test = split(digits, train_size=20, test_size=0.25, seed=0)
    assert (len(train), len(pool), len(test)) == (20, 1328, 449)
    ids = [set(s.source_index) for s in (train, pool, test)]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set().union(*ids) == set(range(1797))
    assert (train.class_counts() == 2).all()
    assert np.abs(test.class_counts() / 449 - digits.class_counts() / 1797).max() < 0.01
    again = split(digits, train_size=20, test_size=0.25, seed=0)
    assert again[0].source_index.tolist() == train.source_index.tolist()
    empty_train, pool2, _ = split(digits, train_size=0, test_size=0.5, seed=1)
    assert len(empty_train) == 0 and len(pool2) == 899  # test gets round(898.5) = 898


@pytest.mark.parametrize("train_size, test_size, message", [
    (1000, 1000, "more than the 1797"),
    (5, 0.2, "at least one item per class"),
    (0, 1.5, r"test_size must be a finite number in \[0, 1\), got 1\.5; pass an int for a count"),
    (-1, 0.2, r"train_size must be an integer in 0\.\.1797, got -1 \(a count of items, or a fraction"),
    ("20", 0.2, r"train_size must be an integer in 0\.\.1797, got '20'"),
    (20, None, r"test_size must be an integer in 0\.\.1797, got None"),
])
def test_split_errors(digits, train_size, test_size, message):
    with pytest.raises(ValueError, match=message):
        split(digits, train_size, test_size)


# --------------------------------------------------------------------------- real on-disk formats


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(folder, images_train, labels_train, images_test, labels_test, compress=False):
    folder.mkdir(parents=True)
    for name, arr in [("train-images-idx3-ubyte", images_train), ("train-labels-idx1-ubyte", labels_train),
                      ("t10k-images-idx3-ubyte", images_test), ("t10k-labels-idx1-ubyte", labels_test)]:
        if compress:
            with gzip.open(folder / f"{name}.gz", "wb") as f:
                f.write(_idx_bytes(arr))
        else:
            (folder / name).write_bytes(_idx_bytes(arr))


@pytest.mark.parametrize("name, sub, compress", [("mnist", "MNIST", False), ("fashion_mnist", "FashionMNIST", True)])
def test_load_mnist_style_from_idx_files(tmp_path, name, sub, compress):
    rng = np.random.default_rng(0)
    train_images = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    test_images = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    _write_mnist(tmp_path / sub / "raw", train_images, np.array([0, 1, 2, 3, 4, 9]), test_images,
                 np.array([7, 8, 9]), compress)
    train = load_torchvision(name, root=tmp_path)
    test = load_torchvision(name, root=tmp_path, train=False)
    np.testing.assert_array_equal(train.images, train_images)
    assert train.y.tolist() == [0, 1, 2, 3, 4, 9] and test.y.tolist() == [7, 8, 9]
    assert train.name == f"{name}-train" and len(train.class_names) == 10
    np.testing.assert_array_equal(test.images, test_images)


def test_truncated_idx_file_is_reported(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(_idx_bytes(np.zeros((2, 3, 3)))[:-4])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        read_idx(path)
    path.write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x0d\x01" + (2).to_bytes(4, "big") + b"\x00" * 8)
    with pytest.raises(ValueError, match="only unsigned-byte IDX files"):
        read_idx(path)


def test_load_cifar10_from_python_pickles(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)
        labels = rng.integers(0, 10, 2).tolist()
        # the real format: rows of 3072 bytes, all red, then green, then blue, each row-major
        batch = {"batch_label": name, "labels": labels, "data": images.transpose(0, 3, 1, 2).reshape(2, -1),
                 "filenames": [f"{name}_{i}.png" for i in range(2)]}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
        batches[name] = (images, labels)
    train = load_torchvision("cifar10", root=tmp_path)
    test = load_torchvision("cifar10", root=tmp_path, train=False)
    assert train.images.shape == (10, 32, 32, 3) and test.images.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(train.images[:2], batches["data_batch_1"][0])
    np.testing.assert_array_equal(test.images, batches["test_batch"][0])
    assert train.y[:2].tolist() == batches["data_batch_1"][1]
    assert train.class_names[0] == "airplane"


def test_unknown_name_lists_the_choices(tmp_path):
    with pytest.raises(ValueError, match="name must be one of 'mnist', 'fashion_mnist', 'cifar10', got 'imagenet'"):
        load_torchvision("imagenet", root=tmp_path)


class FakeTorchvision:
    """Stands in for a torchvision data set class: records where it was asked to download, then fails."""

    roots: list = []

    def __init__(self, root, train=True, download=False):
        FakeTorchvision.roots.append((Path(root), download))
        raise OSError("no network in the tests")


def test_missing_files_never_download_unless_asked(tmp_path, monkeypatch):
    import torchvision.datasets

    FakeTorchvision.roots = []
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeTorchvision)
    with pytest.raises(DatasetUnavailableError, match=r"download=True.*load_digits\(\)"):
        load_torchvision("mnist", root=tmp_path)
    assert FakeTorchvision.roots == []


def test_default_root_is_the_kits_data_downloads_from_any_folder(tmp_path, monkeypatch):
    import torchvision.datasets

    FakeTorchvision.roots = []
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeTorchvision)
    monkeypatch.chdir(tmp_path)  # e.g. JupyterLab started in notebooks/
    with pytest.raises(DatasetUnavailableError, match="downloading mnist .* failed .*OSError"):
        load_torchvision("mnist", download=True)
    assert FakeTorchvision.roots == [(Path(data.__file__).resolve().parents[1] / "data" / "downloads", True)]


def test_failed_download_says_what_to_do(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, *args, **kwargs):
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)
    with pytest.raises(DatasetUnavailableError, match=r"downloading fashion_mnist .* failed .*URLError.*load_digits"):
        load_torchvision("fashion_mnist", root=tmp_path, download=True)
