"""Data sets for the course: the embedded digits, real image loaders, rare classes and splits (notebook 00).

The loaders return a :class:`Dataset`: ``images`` (uint8, N x H x W or
N x H x W x 3), labels ``y``, ``class_names`` and a ``name``.  ``source_index``
remembers, for every item, which item of the original data set it came from, so
subsets and augmented pools can always be traced back.

>>> digits = load_digits()
>>> digits.images.shape, digits.X.shape, digits.n_classes
((1797, 8, 8), (1797, 64), 10)
"""

from __future__ import annotations

import gzip
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dcai_lab._checks import as_array, check_bool, check_choice, check_float, check_ids, check_int, check_path, \
    check_seed

__all__ = [
    "Dataset",
    "load_digits",
    "course_split",
    "load_torchvision",
    "make_rare",
    "split",
    "read_idx",
    "read_cifar10",
    "DatasetUnavailableError",
]

# the kit's data/ folder (shipped files, the embedding cache, downloads), wherever Python is started from
DATA_DIR = Path(__file__).resolve().parents[1] / "data"
TORCHVISION_DATASETS = ("mnist", "fashion_mnist", "cifar10")

_CLASS_NAMES = {
    "mnist": [str(d) for d in range(10)],
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer",
                "dog", "frog", "horse", "ship", "truck"],
}


class DatasetUnavailableError(RuntimeError):
    """A data set is not on disk and could not be downloaded."""


@dataclass
class Dataset:
    """Images with labels.

    Attributes
    ----------
    images : uint8 array, shape (N, H, W) or (N, H, W, C), values 0..255.
    y : int64 array, shape (N,), class index of each image.
    class_names : list of str, ``class_names[c]`` names class ``c``.
    name : str, where the data came from (e.g. ``"digits"``).
    source_index : int64 array, shape (N,), index of each item in the original data set.
    """

    images: np.ndarray
    y: np.ndarray
    class_names: list[str]
    name: str
    source_index: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        self.images = as_array(self.images, "images")
        if self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (0..255), got {self.images.dtype}")
        if self.images.ndim not in (3, 4) or (self.images.ndim == 4 and self.images.shape[-1] not in (1, 3)):
            raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C) with C = 1 or 3 channels, got "
                             f"{self.images.shape}")
        if isinstance(self.class_names, (str, bytes)) or not isinstance(self.class_names, (list, tuple, np.ndarray)):
            raise ValueError(f"class_names must be a list of names, one per class (e.g. ['cat', 'dog']), got "
                             f"{self.class_names!r}")
        self.class_names = [str(c) for c in self.class_names]
        if not isinstance(self.name, str):
            raise ValueError(f"name must be a str, got {self.name!r}")
        y = np.asarray(self.y)
        if y.ndim != 1 or y.dtype == bool or (len(y) and not np.issubdtype(y.dtype, np.integer)) \
                or (len(y) and not 0 <= y.min() <= y.max() < len(self.class_names)):
            raise ValueError(f"y must be a 1-D array of class indices 0..{len(self.class_names) - 1} (one per "
                             f"class name), got dtype {y.dtype} and shape {y.shape}")
        self.y = y.astype(np.int64)
        if len(self.y) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.y)} labels")
        if self.source_index is None:
            self.source_index = np.arange(len(self.y), dtype=np.int64)
        self.source_index = check_ids(self.source_index, np.iinfo(np.int64).max, "source_index")
        if len(self.source_index) != len(self.y):
            raise ValueError(f"source_index must have one entry per item ({len(self.y)}), got {len(self.source_index)}")

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return (f"Dataset(name={self.name!r}, n={len(self)}, image_shape={self.image_shape}, "
                f"n_classes={self.n_classes})")

    @property
    def X(self) -> np.ndarray:
        """Flat float32 features in [0, 1], shape (N, H*W*C)."""
        return (self.images.reshape(len(self), -1) / np.float32(255)).astype(np.float32)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.images.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> np.ndarray:
        """Number of items of each class, shape (n_classes,)."""
        return np.bincount(self.y, minlength=self.n_classes)

    def subset(self, indices, name: str | None = None) -> "Dataset":
        """The items at ``indices`` (positions in this data set, or a boolean mask over it), keeping ``source_index``.

        >>> d = load_digits()
        >>> len(d.subset([0, 5])), len(d.subset(d.y == 3))
        (2, 183)
        """
        if name is not None and not isinstance(name, str):
            raise ValueError(f"name must be a str (or None: keep this data set's name), got {name!r}")
        mask = as_array(indices, "indices")
        if mask.dtype == bool:
            if mask.shape != (len(self),):
                raise ValueError(f"indices (a boolean mask) must have one entry per item ({len(self)}), "
                                 f"got shape {mask.shape}")
            indices = np.flatnonzero(mask)
        indices = check_ids(indices, len(self), "indices")
        return Dataset(self.images[indices], self.y[indices], list(self.class_names),
                       name or self.name, self.source_index[indices])


# --------------------------------------------------------------------------- embedded data


def load_digits() -> Dataset:
    """scikit-learn's bundled handwritten digits: 1,797 images of 8 x 8 pixels, 10 classes.

    The course's default data set: it ships with scikit-learn, so it loads offline.
    Pixel values 0..16 are rescaled to 0..255.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    images = np.rint(bunch.images * (255 / 16)).astype(np.uint8)
    return Dataset(images, bunch.target, [str(d) for d in range(10)], "digits")


def course_split() -> tuple[Dataset, Dataset]:
    """The course's split of the digits: ``(pool, test)``, 1,348 and 449 digits, stratified, seed 0.

    ``split(load_digits(), train_size=0, test_size=0.25, seed=0)`` without its empty train
    part. The kit's encoders were trained on the pool only, so test accuracies are honest.

    >>> pool, test = course_split()
    >>> len(pool), len(test)
    (1348, 449)
    """
    _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    return pool, test


# --------------------------------------------------------------------------- real on-disk formats


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzipped or not.

    Header: two zero bytes, a type code (0x08 = uint8), the number of
    dimensions, then one big-endian uint32 size per dimension.
    """
    path = check_path(path, "path", allow_none=False)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise ValueError(f"{path}: only unsigned-byte IDX files are supported (type code {data[2]:#04x})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(data) - offset != expected:
        raise ValueError(f"{path}: header says {shape} = {expected} bytes, file has {len(data) - offset}; "
                         "the file is truncated or corrupted, delete it and download again")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def read_cifar10(folder: str | Path, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Read the CIFAR-10 python pickles in ``folder`` (``cifar-10-batches-py``).

    Returns images (N, 32, 32, 3) uint8 and labels (N,).
    """
    folder = check_path(folder, "folder", allow_none=False)
    names = [f"data_batch_{i}" for i in range(1, 6)] if check_bool(train, "train") else ["test_batch"]
    images, labels = [], []
    for name in names:
        with open(folder / name, "rb") as f:
            batch = pickle.load(f, encoding="latin1")
        data = np.asarray(batch["data"], dtype=np.uint8)
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch["labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def _mnist_files(folder: Path, train: bool) -> tuple[Path, Path]:
    prefix = "train" if train else "t10k"
    found = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        candidates = [folder / f"{prefix}-{kind}", folder / f"{prefix}-{kind}.gz"]
        path = next((p for p in candidates if p.exists()), None)
        if path is None:
            raise FileNotFoundError(candidates[0])
        found.append(path)
    return found[0], found[1]


def load_torchvision(name: str, root: str | Path | None = None, train: bool = True,
                     download: bool = False) -> Dataset:
    """Load MNIST, Fashion-MNIST or CIFAR-10 from ``root`` in torchvision's on-disk layout.

    Parameters
    ----------
    name : ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
    root : folder holding ``MNIST/raw``, ``FashionMNIST/raw`` or ``cifar-10-batches-py``;
        default ``data/downloads/`` of the kit (git ignores it), from any working folder.
    train : the training split (True) or the test split (False).
    download : fetch the files with torchvision when they are missing. Never done
        unless asked; it needs a network connection.

    Raises
    ------
    ValueError : for an unknown name.
    DatasetUnavailableError : when the files are missing (and ``download`` is False)
        or the download failed; the message says what to do.
    """
    check_choice(name, "name", TORCHVISION_DATASETS)
    root = DATA_DIR / "downloads" if root is None else check_path(root, "root")
    train, download = check_bool(train, "train"), check_bool(download, "download")
    folder = {"mnist": root / "MNIST" / "raw", "fashion_mnist": root / "FashionMNIST" / "raw",
              "cifar10": root / "cifar-10-batches-py"}[name]

    def read() -> tuple[np.ndarray, np.ndarray]:
        if name == "cifar10":
            return read_cifar10(folder, train)
        image_file, label_file = _mnist_files(folder, train)
        return read_idx(image_file), read_idx(label_file).astype(np.int64)

    try:
        images, labels = read()
    except FileNotFoundError as missing:
        if not download:
            raise DatasetUnavailableError(
                f"{name} is not in {folder} (missing {missing}). Call load_torchvision({name!r}, "
                f"root={str(root)!r}, download=True) on a machine with internet access, or use the "
                "embedded default dcai_lab.data.load_digits(), which works offline.") from None
        _download(name, root, train)
        images, labels = read()
    split_name = "train" if train else "test"
    return Dataset(images, labels, list(_CLASS_NAMES[name]), f"{name}-{split_name}")


def _download(name: str, root: Path, train: bool) -> None:
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    try:
        cls(str(root), train=train, download=True)
    except Exception as exc:  # network errors come in many types (URLError, OSError, RuntimeError)
        raise DatasetUnavailableError(
            f"downloading {name} into {root} failed ({type(exc).__name__}: {exc}). Check the internet "
            "connection, or copy the files there by hand; offline, use dcai_lab.data.load_digits().") from exc


# --------------------------------------------------------------------------- rare concepts and splits


def make_rare(dataset: Dataset, rare_class: int, prevalence: float, seed: int = 0) -> Dataset:
    """Keep every other class and only enough of ``rare_class`` to make it ``prevalence`` of the result.

    With ``m`` items of the other classes the rare class keeps
    ``round(prevalence * m / (1 - prevalence))`` items (at least 1), chosen at random.

    >>> rare = make_rare(load_digits(), rare_class=3, prevalence=0.01, seed=0)
    >>> int((rare.y == 3).sum()), len(rare)
    (16, 1630)
    """
    _check_dataset(dataset)
    rare_class = check_int(rare_class, "rare_class", min=0, max=dataset.n_classes - 1)
    prevalence = check_float(prevalence, "prevalence", min=0, max=1, min_open=True, max_open=True,
                             hint=" (a fraction such as 0.005)")
    rare = np.flatnonzero(dataset.y == rare_class)
    others = np.flatnonzero(dataset.y != rare_class)
    n_rare = max(1, round(prevalence * len(others) / (1 - prevalence)))
    if n_rare > len(rare):
        most = len(rare) / (len(rare) + len(others))
        raise ValueError(f"prevalence {prevalence} needs {n_rare} items of class {rare_class}, which has only "
                         f"{len(rare)}; use a prevalence of at most {most:.4f}, or a larger pool (dcai_lab.augment.augment_pool)")
    rng = np.random.default_rng(check_seed(seed))
    keep = np.sort(np.concatenate([others, rng.choice(rare, n_rare, replace=False)]))
    return dataset.subset(keep, name=f"{dataset.name}-rare{rare_class}@{prevalence:g}")


def _check_dataset(dataset) -> "Dataset":
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a Dataset (e.g. load_digits()), got {type(dataset).__name__}")
    return dataset


def _count(size: int | float, n: int, what: str) -> int:
    """An item count from a count (int) or a fraction of ``n`` (float)."""
    if isinstance(size, (float, np.floating)):
        size = check_float(size, what, min=0, max=1, max_open=True, hint="; pass an int for a count")
        return int(round(size * n))
    return check_int(size, what, min=0, max=n, hint=" (a count of items, or a fraction as a float)")


def split(dataset: Dataset, train_size: int | float, test_size: int | float,
          seed: int = 0) -> tuple[Dataset, Dataset, Dataset]:
    """Stratified, seeded split into ``(train, pool, test)``; the pool gets what is left.

    Sizes are item counts (int) or fractions of the data set (float in [0, 1)).
    In active learning ``train`` is the labeled seed set, ``pool`` the unlabeled
    pool (its labels are hidden from the learner) and ``test`` is held out.

    >>> train, pool, test = split(load_digits(), train_size=20, test_size=0.25, seed=0)
    >>> len(train), len(pool), len(test), len(set(train.y))
    (20, 1328, 449, 10)
    """
    from sklearn.model_selection import train_test_split

    n = len(_check_dataset(dataset))
    n_train, n_test = _count(train_size, n, "train_size"), _count(test_size, n, "test_size")
    seed = check_seed(seed)
    if n_train + n_test > n:
        raise ValueError(f"train_size + test_size = {n_train + n_test} items, more than the {n} in the data set")
    if 0 < n_train < dataset.n_classes or 0 < n_test < dataset.n_classes:
        raise ValueError(f"a stratified split needs at least one item per class ({dataset.n_classes}) in each of "
                         f"train and test; got train={n_train}, test={n_test}")
    index = np.arange(n)
    rest, test = (index, index[:0]) if n_test == 0 else train_test_split(
        index, test_size=n_test, stratify=dataset.y, random_state=seed)
    pool, train = (rest, rest[:0]) if n_train == 0 else train_test_split(
        rest, test_size=n_train, stratify=dataset.y[rest], random_state=seed)
    return (dataset.subset(np.sort(train), f"{dataset.name}-train"),
            dataset.subset(np.sort(pool), f"{dataset.name}-pool"),
            dataset.subset(np.sort(test), f"{dataset.name}-test"))
