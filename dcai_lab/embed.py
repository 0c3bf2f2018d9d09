"""Embeddings: turn images into vectors (notebook 02, sections 2 and 9; notebook 03, sections 3 and 7).

:func:`embed` maps N images to an (N, d) float32 array with one of :data:`METHODS`:

- ``"pixels"``: the flat pixel values in [0, 1] (d = H*W*C); never cached, it is a reshape.
- ``"pca"``: a PCA of the pixels with :data:`PCA_COMPONENTS` = 32 components, fitted on
  the images you pass (``random_state=0``).
- ``"ssl"``: the kit's self-supervised encoder (SimCLR, :mod:`dcai_lab.simclr`), loaded from
  the shipped checkpoint ``data/digits_ssl_encoder.pt`` (d = 128; :mod:`dcai_lab.encoder`).
- ``"supervised"``: the same network trained with labels, ``data/digits_supervised_encoder.pt``.
- ``"resnet18"``: torchvision's ImageNet ResNet-18 without its last layer (d = 512), only
  when its weights are in the torch hub cache (or with ``download=True`` and a network).

Embeddings are cached under ``data/cache/`` (or ``cache_dir``, or ``$DCAI_CACHE_DIR``),
keyed by a SHA-256 of the images, the method and its configuration (:mod:`dcai_lab._cache`).

>>> from dcai_lab.data import load_digits
>>> digits = load_digits()
>>> embed(digits, method="pixels").shape
(1797, 64)
>>> e = embed(digits.images[:50], method="ssl", normalize=True, cache=False, progress=False)
>>> e.shape, e.dtype, bool(np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-5))
((50, 128), dtype('float32'), True)
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dcai_lab import _cache
from dcai_lab._checks import check_bool, check_choice, check_images, check_int, check_path, unit_rows
from dcai_lab.data import DATA_DIR
from dcai_lab.encoder import EncoderUnavailableError, images_to_tensor, checkpoint_path, load_encoder

if TYPE_CHECKING:
    import torch

__all__ = ["embed", "encode", "METHODS", "PCA_COMPONENTS"]

METHODS = ("pixels", "pca", "ssl", "supervised", "resnet18")
PCA_COMPONENTS = 32
CACHE_FORMAT = 2  # part of every cache key: bump it when the stored embeddings change


def encode(encoder: "torch.nn.Module", images: Any, batch_size: int = 1024, progress: bool = True,
           preprocess=None) -> np.ndarray:
    """Run ``encoder`` over all images in batches; float32 (N, d), memory bounded by one batch.

    The output array is allocated once; each batch is converted from uint8 to float
    inside the loop, under ``torch.inference_mode``. ``preprocess`` (optional) maps a
    float batch (B, C, H, W) in [0, 1] to the encoder's input. The encoder is in eval
    mode, so every image is encoded on its own: ``batch_size`` changes the result only by
    float rounding. ``benchmarks/bench_embed.py`` measures which batch size is fastest.

    >>> net = load_encoder(kind="ssl")
    >>> x = np.zeros((5, 8, 8), dtype=np.uint8)
    >>> bool(np.allclose(encode(net, x, batch_size=2, progress=False), encode(net, x, progress=False), atol=1e-5))
    True
    """
    import torch

    if not isinstance(encoder, torch.nn.Module):
        raise ValueError(f"encoder must be a torch.nn.Module (e.g. load_encoder()), got {type(encoder).__name__}")
    if preprocess is not None and not callable(preprocess):
        raise ValueError(f"preprocess must be None or a function of a float batch, got {type(preprocess).__name__}")
    return _encode(encoder, check_images(images), check_int(batch_size, "batch_size", min=1),
                   check_bool(progress, "progress"), preprocess)


def _encode(encoder, images: np.ndarray, batch_size: int, progress: bool, preprocess=None) -> np.ndarray:
    """:func:`encode` of checked images (N, H, W, C)."""
    import torch
    from tqdm.auto import tqdm

    was_training = encoder.training
    encoder.eval()
    out = None
    try:
        with torch.inference_mode():
            for start in tqdm(range(0, len(images), batch_size), desc="embedding", unit="batch",
                              disable=not progress, total=-(-len(images) // batch_size)):
                x = images_to_tensor(images[start: start + batch_size])
                e = encoder(preprocess(x) if preprocess else x)
                if out is None:
                    out = np.empty((len(images), e.shape[1]), dtype=np.float32)
                out[start: start + len(e)] = e.numpy()
    finally:
        encoder.train(was_training)  # even when interrupted: the caller's encoder keeps its mode
    return out


def _encoder_for(method: str, images: np.ndarray, checkpoint: str | Path | None):
    encoder = load_encoder(checkpoint, kind=method)
    channels, shape = encoder.config["in_channels"], images.shape[1:3]
    if images.shape[-1] != channels:
        raise ValueError(f"the {method} encoder takes {channels}-channel images, got {images.shape[-1]} channels; "
                         "train one for your images with train_ssl_encoder(images) and save_encoder(...), "
                         "then pass checkpoint=")
    trained_on = encoder.training_info.get("image_shape")
    if trained_on and tuple(trained_on[1:]) != tuple(shape):
        warnings.warn(f"the {method} encoder was trained on {trained_on[1]}x{trained_on[2]} images, these are "
                      f"{shape[0]}x{shape[1]}; its embeddings may be poor (train your own with train_ssl_encoder)",
                      stacklevel=3)
    return encoder


def _resnet18(download: bool) -> tuple["torch.nn.Module", Any]:
    """torchvision's ImageNet ResNet-18 from the torch hub cache, without its classifier."""
    import torch
    from torchvision.models import ResNet18_Weights, resnet18

    weights = ResNet18_Weights.IMAGENET1K_V1
    file = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    if not file.exists() and not download:
        raise EncoderUnavailableError(
            f"the ImageNet ResNet-18 weights are not in the torch hub cache ({file}). On a machine with internet "
            f"access, call embed(..., method='resnet18', download=True) or download {weights.url} into "
            f"{file.parent}; offline, use method='ssl' (the kit's own encoder, shipped with the course).")
    try:
        net = resnet18(weights=weights, progress=False)  # reads the cached file; downloads only when it is missing
    except Exception as exc:  # network errors come in many types
        raise EncoderUnavailableError(f"could not get the ResNet-18 weights ({type(exc).__name__}: {exc}); download "
                                      f"{weights.url} into {file.parent}, or use method='ssl'") from exc
    net.fc = torch.nn.Identity()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def preprocess(x: torch.Tensor) -> torch.Tensor:  # grey -> RGB, upsample tiny images, ImageNet statistics
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        if min(x.shape[2:]) < 64:
            x = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
        return (x - mean) / std

    return net, preprocess


def _compute(images: np.ndarray, method: str, batch_size: int, checkpoint: str | Path | None, download: bool,
             progress: bool) -> np.ndarray:
    """The embedding itself, before normalisation and caching."""
    if method == "pixels":
        return _pixels(images)
    if method == "pca":
        from sklearn.decomposition import PCA

        x = _pixels(images)
        n = min(PCA_COMPONENTS, *x.shape)
        return PCA(n_components=n, random_state=0).fit_transform(x).astype(np.float32)
    if method == "resnet18":
        net, preprocess = _resnet18(download)
        return _encode(net, images, min(batch_size, 256), progress, preprocess)
    return _encode(_encoder_for(method, images, checkpoint), images, batch_size, progress)


def _pixels(images: np.ndarray) -> np.ndarray:
    x = images.reshape(len(images), -1)
    return x / np.float32(255) if x.dtype == np.uint8 else x.astype(np.float32)


def embed(images_or_dataset: Any, method: str = "ssl", normalize: bool = False, cache: bool = True,
          batch_size: int = 1024, cache_dir: str | Path | None = None, checkpoint: str | Path | None = None,
          download: bool = False, progress: bool = True) -> np.ndarray:
    """Embed images: float32 array (N, d), one row per image.

    Parameters
    ----------
    images_or_dataset : a :class:`~dcai_lab.data.Dataset`, or images (N, H, W) or (N, H, W, C)
        with 1 or 3 channels, uint8 in 0..255 or float in [0, 1].
    method : one of :data:`METHODS` (see the module docstring).
    normalize : scale every row to unit L2 norm, ``e / ||e||`` (then dot product = cosine similarity).
    cache : read / write the cache (``"pixels"`` is never cached). Key: SHA-256 of the image
        bytes, dtype and shape, the method, the checkpoint's SHA-256 (ssl, supervised),
        ``PCA_COMPONENTS`` (pca) and ``normalize``.
    batch_size : images per forward pass (neural methods).
    cache_dir : where the cache lives; default ``$DCAI_CACHE_DIR`` or ``data/cache``.
    checkpoint : an encoder file for ``"ssl"`` / ``"supervised"`` (default: the shipped one).
    download : for ``"resnet18"`` only: download the weights when they are not cached.
    progress : show tqdm progress bars.

    Raises
    ------
    ValueError : unknown method, or images of the wrong shape, dtype or range, or with NaNs.
    EncoderUnavailableError : ``"resnet18"`` without cached weights (and ``download=False``).

    >>> import numpy as np
    >>> embed(np.zeros((3, 8, 8), dtype=np.uint8), method="pixels").shape
    (3, 64)
    """
    check_choice(method, "method", METHODS)
    batch_size = check_int(batch_size, "batch_size", min=1)
    normalize, cache = check_bool(normalize, "normalize"), check_bool(cache, "cache")
    download, progress = check_bool(download, "download"), check_bool(progress, "progress")
    checkpoint, cache_dir = check_path(checkpoint, "checkpoint"), check_path(cache_dir, "cache_dir")
    images = check_images(images_or_dataset)
    if method == "pixels" or not cache:
        out = _compute(images, method, batch_size, checkpoint, download, progress)
        return unit_rows(out, f"the {method} embeddings", np.float32) if normalize else out
    path = _cache_dir(cache_dir) / f"{method}-{_cache_key(images, method, normalize, checkpoint)}.emb"
    key = path.stem
    out = _cache.read_array(path, key)
    if out is None:
        out = _compute(images, method, batch_size, checkpoint, download, progress)
        out = unit_rows(out, f"the {method} embeddings", np.float32) if normalize else out
        _cache.write_array(path, key, out)
    return out




def _cache_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir or os.environ.get("DCAI_CACHE_DIR") or DATA_DIR / "cache")




def _cache_key(images: np.ndarray, method: str, normalize: bool, checkpoint: str | Path | None) -> str:
    """SHA-256 over the image bytes and everything that changes the result."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images).data)  # hashes the buffer without a copy when already contiguous
    config: dict[str, Any] = {"shape": list(images.shape), "dtype": str(images.dtype), "method": method,
                              "normalize": bool(normalize), "cache_format": CACHE_FORMAT}
    if method == "pca":
        config["pca"] = {"n_components": PCA_COMPONENTS, "random_state": 0}
    if method in ("ssl", "supervised"):
        path = checkpoint_path(method) if checkpoint is None else Path(checkpoint)
        config["checkpoint"] = _cache.file_sha256(path) if path.exists() else "missing"
    if method == "resnet18":
        config["weights"] = "IMAGENET1K_V1"
    h.update(json.dumps(config, sort_keys=True).encode())
    return h.hexdigest()[:40]
