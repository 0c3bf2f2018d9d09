"""Data sets for the course: the embedded digits, real image loaders, augmented pools.

Every function returns a :class:`Dataset`: ``images`` (uint8, N x H x W or
N x H x W x 3), labels ``y``, ``class_names`` and a ``name``.  ``source_index``
remembers, for every item, which item of the original data set it came from, so
subsets and augmented pools can always be traced back.

>>> digits = load_digits()
>>> digits.images.shape, digits.X.shape, digits.n_classes
((1797, 8, 8), (1797, 64), 10)
"""

from __future__ import annotations

import gzip
import numbers
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "Dataset",
    "load_digits",
    "load_torchvision",
    "augment_pool",
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
        self.images = np.asarray(self.images)
        self.y = np.asarray(self.y, dtype=np.int64)
        if self.images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (0..255), got {self.images.dtype}")
        if self.images.ndim not in (3, 4):
            raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {self.images.shape}")
        if len(self.y) != len(self.images):
            raise ValueError(f"{len(self.images)} images but {len(self.y)} labels")
        if self.source_index is None:
            self.source_index = np.arange(len(self.y), dtype=np.int64)
        self.source_index = np.asarray(self.source_index, dtype=np.int64)

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
        """The items at ``indices`` (positions in this data set), keeping their ``source_index``."""
        indices = np.asarray(indices, dtype=np.int64)
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


# --------------------------------------------------------------------------- real on-disk formats


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzipped or not.

    Header: two zero bytes, a type code (0x08 = uint8), the number of
    dimensions, then one big-endian uint32 size per dimension.
    """
    path = Path(path)
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
    folder = Path(folder)
    names = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
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
    if name not in TORCHVISION_DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(TORCHVISION_DATASETS)} "
                         "(or use load_digits() for the embedded default)")
    root = DATA_DIR / "downloads" if root is None else Path(root)
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


# --------------------------------------------------------------------------- augmented pools

_CHUNK = 65_536  # items per random stream; fixed so the pool does not depend on memory settings


def augment_pool(dataset: Dataset, n: int, seed: int = 0, max_rotation: float = 8.0,
                 max_scale: float = 0.06, max_shear: float = 0.08, max_shift: float = 0.25,
                 elastic_alpha: float = 0.2, elastic_sigma: float = 1.5) -> Dataset:
    """A deterministic pool of ``n`` distorted copies of ``dataset``'s images.

    Each item picks a base image at random and warps it with a small random
    affine map (rotation in degrees, scale, shear, shift in pixels) plus an
    elastic displacement field (Gaussian-smoothed noise with strength
    ``elastic_alpha`` pixels), sampled bilinearly: the recipe used to grow MNIST
    into MNIST-8M. Labels and ``source_index`` (the base image) follow the item.

    The same ``(dataset, n, seed)`` always gives the same pool, and the first
    ``m`` items of a pool of ``n > m`` are the pool of ``m``. The defaults suit
    8 x 8 digits: a logistic regression trained on the original digits still
    classifies about 91% of the distorted ones correctly (98% of the originals).

    >>> pool = augment_pool(load_digits(), 1000, seed=0)
    >>> pool.images.shape, pool.images.dtype, len(pool.source_index)
    ((1000, 8, 8), dtype('uint8'), 1000)
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive number of items, got {n!r}")
    if len(dataset) == 0:
        raise ValueError("cannot augment an empty data set")
    images = np.empty((n,) + dataset.image_shape, dtype=np.uint8)
    source = np.empty(n, dtype=np.int64)
    params = dict(max_rotation=max_rotation, max_scale=max_scale, max_shear=max_shear,
                  max_shift=max_shift, elastic_alpha=elastic_alpha, elastic_sigma=elastic_sigma)
    for chunk, start in enumerate(range(0, n, _CHUNK)):
        stop = min(start + _CHUNK, n)
        rng = np.random.default_rng([seed, chunk])
        base = rng.integers(0, len(dataset), size=_CHUNK)[: stop - start]
        images[start:stop] = _distort(dataset.images[base], rng, **params)
        source[start:stop] = base
    return Dataset(images, dataset.y[source], list(dataset.class_names),
                   f"{dataset.name}-augmented-{n}", dataset.source_index[source])


def _distort(images: np.ndarray, rng: np.random.Generator, *, max_rotation: float, max_scale: float,
             max_shear: float, max_shift: float, elastic_alpha: float, elastic_sigma: float) -> np.ndarray:
    """Random affine + elastic warp of a batch (B, H, W[, C]); bilinear sampling, zero padding."""
    from scipy.ndimage import gaussian_filter

    b, h, w = images.shape[:3]
    # Draw every random number for the full chunk size so results do not depend on b.
    k = _CHUNK
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation, k))[:b]
    scale = (1 + rng.uniform(-max_scale, max_scale, k))[:b]
    shear = rng.uniform(-max_shear, max_shear, k)[:b]
    shift = rng.uniform(-max_shift, max_shift, (k, 2))[:b]
    noise_seed = int(rng.integers(2**63))
    noise = np.random.default_rng(noise_seed).standard_normal((b, 2, h, w), dtype=np.float32)
    field = gaussian_filter(noise, sigma=(0, 0, elastic_sigma, elastic_sigma))
    field *= elastic_alpha / (field.std(axis=(1, 2, 3), keepdims=True) + 1e-8)

    # Output pixel (r, c) samples the input at A @ ([r, c] - centre) + centre + shift + field.
    cy, cx = (h - 1) / 2, (w - 1) / 2
    rr, cc = np.meshgrid(np.arange(h, dtype=np.float32) - cy, np.arange(w, dtype=np.float32) - cx,
                         indexing="ij")
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    s, sh = scale[:, None, None], shear[:, None, None]
    src_r = (cos * rr - sin * (cc + sh * rr)) / s + cy + shift[:, 0, None, None] + field[:, 0]
    src_c = (sin * rr + cos * (cc + sh * rr)) / s + cx + shift[:, 1, None, None] + field[:, 1]
    return _bilinear(images, src_r, src_c)


def _bilinear(images: np.ndarray, src_r: np.ndarray, src_c: np.ndarray) -> np.ndarray:
    """Sample each image at fractional coordinates; outside the image counts as 0."""
    b, h, w = images.shape[:3]
    padded = np.zeros((b, h + 2, w + 2) + images.shape[3:], dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images
    r = np.clip(src_r + 1, 0, h + 0.999)  # +1: index into the padded image
    c = np.clip(src_c + 1, 0, w + 0.999)
    r0, c0 = np.floor(r).astype(np.intp), np.floor(c).astype(np.intp)
    dr, dc = r - r0, c - c0
    r1, c1 = np.minimum(r0 + 1, h + 1), np.minimum(c0 + 1, w + 1)
    bi = np.arange(b)[:, None, None]
    if images.ndim == 4:
        dr, dc = dr[..., None], dc[..., None]
    out = ((1 - dr) * (1 - dc) * padded[bi, r0, c0] + (1 - dr) * dc * padded[bi, r0, c1]
           + dr * (1 - dc) * padded[bi, r1, c0] + dr * dc * padded[bi, r1, c1])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- rare concepts and splits


def make_rare(dataset: Dataset, rare_class: int, prevalence: float, seed: int = 0) -> Dataset:
    """Keep every other class and only enough of ``rare_class`` to make it ``prevalence`` of the result.

    With ``m`` items of the other classes the rare class keeps
    ``round(prevalence * m / (1 - prevalence))`` items (at least 1), chosen at random.

    >>> rare = make_rare(load_digits(), rare_class=3, prevalence=0.01, seed=0)
    >>> int((rare.y == 3).sum()), len(rare)
    (16, 1630)
    """
    if not isinstance(rare_class, numbers.Integral) or not 0 <= rare_class < dataset.n_classes:
        raise ValueError(f"rare_class must be a class index in 0..{dataset.n_classes - 1}, got {rare_class!r}")
    if not isinstance(prevalence, numbers.Real) or not 0 < prevalence < 1:
        raise ValueError(f"prevalence must be a fraction strictly between 0 and 1 (e.g. 0.005), got {prevalence!r}")
    rare = np.flatnonzero(dataset.y == rare_class)
    others = np.flatnonzero(dataset.y != rare_class)
    n_rare = max(1, round(prevalence * len(others) / (1 - prevalence)))
    if n_rare > len(rare):
        most = len(rare) / (len(rare) + len(others))
        raise ValueError(f"prevalence {prevalence} needs {n_rare} items of class {rare_class}, which has only "
                         f"{len(rare)}; use a prevalence of at most {most:.4f}, or a larger pool (augment_pool)")
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([others, rng.choice(rare, n_rare, replace=False)]))
    return dataset.subset(keep, name=f"{dataset.name}-rare{rare_class}@{prevalence:g}")


def _count(size: int | float, n: int, what: str) -> int:
    """An item count from a count (int) or a fraction of ``n`` (float)."""
    if isinstance(size, bool) or not isinstance(size, numbers.Real):
        raise ValueError(f"{what} must be a count (int) or a fraction (float), got {size!r}")
    if isinstance(size, (float, np.floating)):
        if not 0 <= size < 1:
            raise ValueError(f"{what} as a fraction must be in [0, 1), got {size}; pass an int for a count")
        return int(round(size * n))
    if not 0 <= size <= n:
        raise ValueError(f"{what} must be between 0 and {n} items, got {size}")
    return int(size)


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

    n = len(dataset)
    n_train, n_test = _count(train_size, n, "train_size"), _count(test_size, n, "test_size")
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
