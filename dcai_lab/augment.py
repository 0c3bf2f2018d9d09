"""Growing a pool: distorted copies of a data set's images, the recipe of MNIST-8M (notebook 00, section 2).

Each item picks a base image at random and warps it with a small random affine map
(rotation, scale, shear, shift) plus an elastic displacement field, sampled bilinearly.
The same ``(dataset, n, seed)`` always gives the same pool, and the first ``m`` items of a
pool of ``n > m`` are the pool of ``m``.

>>> from dcai_lab.data import load_digits
>>> pool = augment_pool(load_digits(), 1000, seed=0)
>>> pool.images.shape, pool.images.dtype, len(pool.source_index)
((1000, 8, 8), dtype('uint8'), 1000)
"""

from __future__ import annotations

import inspect

import numpy as np

from dcai_lab._checks import check_float, check_int, check_seed
from dcai_lab.data import Dataset

__all__ = ["augment_pool", "augment_chunk", "CHUNK_SIZE"]

CHUNK_SIZE = 65_536  # items per random stream; fixed so the pool does not depend on memory settings
_CHUNK = CHUNK_SIZE


def augment_pool(dataset: Dataset, n: int, seed: int = 0, max_rotation: float = 8.0,
                 max_scale: float = 0.06, max_shear: float = 0.08, max_shift: float = 0.25,
                 elastic_alpha: float = 0.2, elastic_sigma: float = 1.5) -> Dataset:
    """A deterministic pool of ``n`` distorted copies of ``dataset``'s images (see the module docstring).

    Rotation is in degrees, shift in pixels, ``elastic_alpha`` the strength of the
    Gaussian-smoothed (``elastic_sigma``) displacement field in pixels; the defaults suit
    8 x 8 digits. Labels and ``source_index`` (the base image) follow the item.
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a Dataset (e.g. load_digits()), got {type(dataset).__name__}")
    n, seed = check_int(n, "n", min=1, hint=" (the number of items to make)"), check_seed(seed)
    if len(dataset) == 0:
        raise ValueError("cannot augment an empty data set")
    for name, value in [("max_rotation", max_rotation), ("max_scale", max_scale), ("max_shear", max_shear),
                        ("max_shift", max_shift), ("elastic_alpha", elastic_alpha), ("elastic_sigma", elastic_sigma)]:
        check_float(value, name, min=0)
    if max_scale >= 1:
        raise ValueError(f"max_scale must be below 1 (a scale of 1 - max_scale must stay positive), got {max_scale}")
    images = np.empty((n,) + dataset.image_shape, dtype=np.uint8)
    source = np.empty(n, dtype=np.int64)
    params = dict(max_rotation=max_rotation, max_scale=max_scale, max_shear=max_shear,
                  max_shift=max_shift, elastic_alpha=elastic_alpha, elastic_sigma=elastic_sigma)
    for chunk, start in enumerate(range(0, n, _CHUNK)):
        stop = min(start + _CHUNK, n)
        images[start:stop], source[start:stop] = _chunk(dataset, n, seed, chunk, params)
    return Dataset(images, dataset.y[source], list(dataset.class_names),
                   f"{dataset.name}-augmented-{n}", dataset.source_index[source])


def augment_chunk(dataset: Dataset, n: int, seed: int, chunk: int, **distortions) -> tuple[np.ndarray, np.ndarray]:
    """Chunk ``chunk`` of ``augment_pool(dataset, n, seed, **distortions)``: its images and base rows, alone.

    Item ``i`` of a pool belongs to chunk ``i // CHUNK_SIZE``, and each chunk draws from its own
    random stream ``default_rng([seed, chunk])``, so a chunk can be made without the others (by
    :mod:`dcai_lab.pool_files`, or on another machine): ``augment_chunk(d, n, s, c)[0]`` equals
    ``augment_pool(d, n, s).images[c * CHUNK_SIZE:(c + 1) * CHUNK_SIZE]``. Taught in notebook 02, section 13.

    Returns
    -------
    images : uint8 (m, H, W[, C]), ``m = min(CHUNK_SIZE, n - chunk * CHUNK_SIZE)``.
    base : int64 (m,), the row of ``dataset`` each item distorts.

    >>> from dcai_lab.data import load_digits
    >>> digits = load_digits()
    >>> images, base = augment_chunk(digits, 5, 0, 0)      # a pool of 5 items is one chunk
    >>> images.shape, bool((images == augment_pool(digits, 5).images).all())
    ((5, 8, 8), True)
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a Dataset (e.g. load_digits()), got {type(dataset).__name__}")
    n, seed = check_int(n, "n", min=1), check_seed(seed)
    chunk = check_int(chunk, "chunk", min=0, max=(n - 1) // _CHUNK, hint=f" (a pool of {n} items has "
                      f"{(n - 1) // _CHUNK + 1} chunks of {_CHUNK})")
    params = {name: p.default for name, p in inspect.signature(augment_pool).parameters.items()
              if name not in ("dataset", "n", "seed")}  # augment_pool's defaults
    unknown = set(distortions) - set(params)
    if unknown:
        raise ValueError(f"unknown distortion(s) {sorted(unknown)}; choose from {sorted(params)}")
    params.update(distortions)
    for name, value in params.items():
        check_float(value, name, min=0)
    return _chunk(dataset, n, seed, chunk, params)


def _chunk(dataset: Dataset, n: int, seed: int, chunk: int, params: dict) -> tuple[np.ndarray, np.ndarray]:
    start, stop = chunk * _CHUNK, min((chunk + 1) * _CHUNK, n)
    rng = np.random.default_rng([seed, chunk])
    base = rng.integers(0, len(dataset), size=_CHUNK)[: stop - start]
    return _distort(dataset.images[base], rng, **params), base


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
