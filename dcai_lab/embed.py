"""Embeddings: turn images into vectors, including the kit's self-supervised encoder.

:func:`embed` maps N images to an (N, d) float32 array with one of :data:`METHODS`:

- ``"pixels"``: the flat pixel values in [0, 1] (d = H*W*C); never cached, it is a reshape.
- ``"pca"``: a PCA of the pixels with :data:`PCA_COMPONENTS` = 32 components, fitted on
  the images you pass (``random_state=0``).
- ``"ssl"``: the kit's self-supervised encoder (SimCLR, :func:`train_ssl_encoder`), loaded
  from the shipped checkpoint ``data/digits_ssl_encoder.pt`` (d = 128).
- ``"supervised"``: the same network trained with labels (:func:`train_supervised_encoder`),
  ``data/digits_supervised_encoder.pt`` (d = 128).
- ``"resnet18"``: torchvision's ImageNet ResNet-18 without its last layer (d = 512), only
  when its weights are in the torch hub cache (or with ``download=True`` and a network).

Both shipped encoders are trained by ``python scripts/train_encoder.py`` on the 1,348
digits outside the test split ``split(load_digits(), train_size=0, test_size=0.25, seed=0)``
(see :data:`CHECKPOINT_SPLIT`): the 449 test digits are never seen, neither as images
nor as labels, so test accuracies measured on them are honest.

**SimCLR** in one line: show the network two random distortions ("views") of every image
in a batch and train it so that the two views of the same image are each other's nearest
neighbours among all 2B views. With unit vectors ``z`` from the projection head and
``s(i, j) = z_i . z_j / tau``, the NT-Xent loss of view ``i`` with partner ``p(i)`` is

    loss_i = -log( exp(s(i, p(i))) / sum_{k != i} exp(s(i, k)) )

averaged over the 2B views. The embedding is the representation *before* the projection head.

Embeddings are cached under ``data/cache/`` (or ``cache_dir``, or ``$DCAI_CACHE_DIR``),
keyed by a SHA-256 of the images, the method and its configuration; a damaged or stale
cache file is detected, reported with a warning and rebuilt.

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
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from dcai_lab.data import DATA_DIR

if TYPE_CHECKING:  # torch is imported inside the functions that need it: `import dcai_lab.embed` stays light
    import torch

__all__ = ["embed", "encode", "METHODS", "PCA_COMPONENTS", "train_ssl_encoder", "train_supervised_encoder",
           "augment_views", "nt_xent_loss", "build_encoder", "save_encoder", "load_encoder", "checkpoint_path",
           "EncoderMismatchError", "EncoderUnavailableError", "ARCH_VERSION", "DIGITS_CONFIG", "CHECKPOINT_SPLIT"]

METHODS = ("pixels", "pca", "ssl", "supervised", "resnet18")
PCA_COMPONENTS = 32
ARCH_VERSION = 1
DIGITS_CONFIG = {"in_channels": 1, "width": 16, "embedding_dim": 128}
CHECKPOINT_SPLIT = {"train_size": 0, "test_size": 0.25, "seed": 0}
RETRAIN_HINT = "retrain it with `python scripts/train_encoder.py`"
_CACHE_MAGIC = b"DCAIEMB1"
_CACHE_FORMAT = 1


class EncoderMismatchError(ValueError):
    """A checkpoint does not fit the encoder architecture this code builds."""


class EncoderUnavailableError(RuntimeError):
    """An encoder's weights are not on disk (and were not downloaded)."""


# --------------------------------------------------------------------------- inputs


def _as_images(images_or_dataset: Any) -> np.ndarray:
    """The images as an array (N, H, W, C), uint8 or float in [0, 1]; helpful ``ValueError`` otherwise."""
    images = getattr(images_or_dataset, "images", images_or_dataset)
    images = np.asarray(images)
    if images.dtype == object or not (images.dtype == np.uint8 or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"images must be uint8 (0..255) or float (0..1), got dtype {images.dtype}")
    if images.ndim == 2:
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got a 2-D array {images.shape}; "
                         "pass the images, not flat features (e.g. dataset.images, not dataset.X), or reshape "
                         "them, e.g. X.reshape(-1, 8, 8)")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got shape {images.shape}")
    if images.ndim == 3:
        images = images[..., None]
    if len(images) == 0:
        raise ValueError("cannot embed an empty set of images")
    if images.shape[-1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels in the last axis, got shape {images.shape}; "
                         "channels-first arrays (N, C, H, W) need .transpose(0, 2, 3, 1)")
    if images.dtype != np.uint8:
        finite = np.isfinite(images)
        if not finite.all():
            bad = np.flatnonzero(~finite.reshape(len(images), -1).all(axis=1))
            raise ValueError(f"images hold NaN or infinite values (images {bad[:5].tolist()}"
                             f"{' ...' if len(bad) > 5 else ''}); fix or drop them")
        if images.min() < 0 or images.max() > 1:
            raise ValueError(f"float images must be in [0, 1], got values in [{images.min():g}, {images.max():g}]; "
                             "pass uint8 images (0..255) or divide by 255")
    return images


def _to_tensor(batch: np.ndarray) -> "torch.Tensor":
    """A batch (B, H, W, C), uint8 or float, as a float32 tensor (B, C, H, W) in [0, 1]."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
    return x.float().div_(255) if batch.dtype == np.uint8 else x.float()


# --------------------------------------------------------------------------- the encoder network


def build_encoder(in_channels: int = 1, width: int = 16, embedding_dim: int = 128) -> "torch.nn.Module":
    """The kit's small CNN: four 3x3 conv blocks, adaptive average pooling to 2x2, a linear layer.

    Works for any image size (8 x 8 digits, 28 x 28 MNIST, 32 x 32 CIFAR): the third block
    halves the resolution and the pooling always ends at 2 x 2. Output: (B, embedding_dim).

    >>> import torch
    >>> net = build_encoder(in_channels=3)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 128])
    """
    from torch import nn

    def block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

    w = width
    return nn.Sequential(block(in_channels, w), block(w, 2 * w), block(2 * w, 4 * w, stride=2), block(4 * w, 4 * w),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(16 * w, embedding_dim, bias=False), nn.BatchNorm1d(embedding_dim), nn.ReLU())


def _projection_head(embedding_dim: int, out_dim: int = 64) -> "torch.nn.Module":
    """SimCLR's projection head g(h): used only for the loss, thrown away after training."""
    from torch import nn

    return nn.Sequential(nn.Linear(embedding_dim, embedding_dim), nn.ReLU(), nn.Linear(embedding_dim, out_dim))


# --------------------------------------------------------------------------- augmentations and loss


def augment_views(x: "torch.Tensor", generator: "torch.Generator", max_rotation: float = 15.0,
                  max_scale: float = 0.15, max_shear: float = 0.15, max_shift: float = 0.15,
                  elastic: float = 0.08, contrast: float = 0.4, brightness: float = 0.1,
                  noise: float = 0.05, erase_prob: float = 0.5) -> "torch.Tensor":
    """One random view of every image of a batch ``x`` (B, C, H, W) in [0, 1], all in torch.

    Per image: a random affine map (rotation up to ``max_rotation`` degrees, zoom
    ``1 +- max_scale`` (a crop-and-resize), shear, shift up to ``max_shift`` of the image
    width) plus a smooth random displacement field (``elastic``, in the same units),
    sampled bilinearly; then intensity jitter ``x * (1 +- contrast) +- brightness``,
    Gaussian pixel noise, and (with probability ``erase_prob``) a blanked quarter-size patch.
    All randomness comes from ``generator``: the same generator state gives the same views.
    """
    import torch
    import torch.nn.functional as F

    b, _, h, w = x.shape

    def u(*shape: int) -> torch.Tensor:  # uniform in [-1, 1)
        return torch.rand(shape, generator=generator) * 2 - 1

    angle, scale, shear = u(b) * np.deg2rad(max_rotation), 1 + u(b) * max_scale, u(b) * max_shear
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, u(b) * 2 * max_shift], 1),
                         torch.stack([sin, cos, u(b) * 2 * max_shift], 1)], 1)
    grid = F.affine_grid(theta, [b, 1, h, w], align_corners=False)
    field = F.interpolate(torch.randn(b, 2, 3, 3, generator=generator) * 2 * elastic, size=(h, w),
                          mode="bilinear", align_corners=True)
    out = F.grid_sample(x, grid + field.permute(0, 2, 3, 1), mode="bilinear", padding_mode="zeros",
                        align_corners=False)
    out = out * (1 + u(b, 1, 1, 1) * contrast) + u(b, 1, 1, 1) * brightness
    out = out + torch.randn(out.shape, generator=generator) * noise
    # Random erasing: a (H/2 x W/2) patch set to 0 in about erase_prob of the images.
    ph, pw = max(1, h // 2), max(1, w // 2)
    top = (torch.rand(b, generator=generator) * (h - ph + 1)).long()
    left = (torch.rand(b, generator=generator) * (w - pw + 1)).long()
    erase = torch.rand(b, generator=generator) < erase_prob
    rows, cols = torch.arange(h), torch.arange(w)
    in_rows = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + ph)
    in_cols = (cols[None] >= left[:, None]) & (cols[None] < left[:, None] + pw)
    mask = (in_rows[:, :, None] & in_cols[:, None, :] & erase[:, None, None])[:, None]
    return out.masked_fill(mask, 0).clamp_(0, 1)


def nt_xent_loss(z1: "torch.Tensor", z2: "torch.Tensor", temperature: float = 0.1) -> "torch.Tensor":
    """SimCLR's NT-Xent loss: views ``z1[i]`` and ``z2[i]`` are positives, all other views negatives.

    >>> import torch
    >>> z = torch.eye(4)
    >>> float(nt_xent_loss(z, z, temperature=0.1)) < 1e-3     # each view finds its partner
    True
    """
    import torch
    import torch.nn.functional as F

    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))  # a view is not its own positive
    n = len(z1)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, partner)


# --------------------------------------------------------------------------- training


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Use ``n`` torch threads inside the block (default: all cores), then restore the old setting."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n or os.cpu_count() or 1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _training_setup(images: Any, width: int, embedding_dim: int, seed: int, head_fn):
    """Images as a tensor, the seeded generator, the encoder and its head (weights drawn from ``seed``).

    The initial weights come from torch's global generator seeded with ``seed`` inside
    ``torch.random.fork_rng``: the caller's global random state is left as it was.
    """
    import torch

    x = _to_tensor(_as_images(images))
    generator = torch.Generator().manual_seed(seed)
    config = {"in_channels": int(x.shape[1]), "width": width, "embedding_dim": embedding_dim}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = build_encoder(**config)
        head = head_fn()
    return x, generator, encoder, head, config


def _batches(n: int, batch_size: int, generator: "torch.Generator") -> Iterator["torch.Tensor"]:
    """Shuffled index batches for one epoch; the last short batch is dropped when there are others."""
    import torch

    order = torch.randperm(n, generator=generator)
    n_full = max(1, n // batch_size)
    for i in range(n_full):
        yield order[i * batch_size: (i + 1) * batch_size]


def train_ssl_encoder(images: Any, epochs: int = 100, seed: int = 0, batch_size: int = 256,
                      temperature: float = 0.1, lr: float = 2e-3, weight_decay: float = 1e-4,
                      width: int = 16, embedding_dim: int = 128, num_threads: int | None = None,
                      progress: bool = True) -> "torch.nn.Module":
    """Train the encoder with SimCLR on unlabeled images; returns it in eval mode.

    Each step draws two views of every image of a batch (:func:`augment_views`),
    passes both through encoder and projection head and minimises
    :func:`nt_xent_loss`. AdamW with a cosine learning-rate schedule. Deterministic
    for a seed on a given machine: ``torch.manual_seed(seed)`` for the initial
    weights, a ``torch.Generator`` seeded with ``seed`` for shuffling and augmentation.

    Parameters
    ----------
    images : Dataset or array (N, H, W[, C]), uint8 0..255 or float 0..1. Labels are never used.
    epochs, batch_size, lr, weight_decay : optimisation settings.
    temperature : tau of the NT-Xent loss; smaller values weigh hard negatives more.
    width, embedding_dim : size of the network (:func:`build_encoder`).
    num_threads : torch threads while training (default: all cores).
    progress : show a tqdm bar with the loss.

    >>> from dcai_lab.data import load_digits
    >>> net = train_ssl_encoder(load_digits().images[:64], epochs=1, batch_size=32, width=4, progress=False)
    >>> net.config["embedding_dim"], net.training
    (128, False)
    """
    import torch

    x, generator, encoder, head, config = _training_setup(images, width, embedding_dim, seed,
                                                          lambda: _projection_head(embedding_dim))
    params = list(encoder.parameters()) + list(head.parameters())
    return _fit(encoder, head, params, x, None, generator, epochs, batch_size, lr, weight_decay, num_threads,
                progress, config, "ssl", dict(temperature=temperature),
                lambda out1, out2, _y: nt_xent_loss(head(out1), head(out2), temperature))


def train_supervised_encoder(images: Any, labels: Any = None, epochs: int = 60, seed: int = 0,
                             batch_size: int = 128, lr: float = 2e-3, weight_decay: float = 1e-4,
                             width: int = 16, embedding_dim: int = 128, num_threads: int | None = None,
                             progress: bool = True) -> "torch.nn.Module":
    """Train the same encoder with a linear classifier head and cross-entropy; returns the encoder.

    The contrast to :func:`train_ssl_encoder`: here the labels shape the embedding.
    Batches are augmented with one view per image (:func:`augment_views`), so the
    two encoders see the same kind of data. ``images`` may be a Dataset (then
    ``labels`` defaults to its ``y``). The classifier head is thrown away.

    >>> from dcai_lab.data import load_digits
    >>> d = load_digits()
    >>> net = train_supervised_encoder(d.images[:64], d.y[:64], epochs=1, width=4, progress=False)
    >>> net.kind
    'supervised'
    """
    import torch
    from torch import nn

    if labels is None:
        labels = getattr(images, "y", None)
        if labels is None:
            raise ValueError("train_supervised_encoder needs labels: pass labels= or a Dataset")
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if y.ndim != 1 or len(y) == 0 or int(y.min()) < 0:
        raise ValueError(f"labels must be a 1-D array of class numbers 0, 1, 2, ..., got shape {tuple(y.shape)}"
                         + (f" with minimum {int(y.min())}" if y.ndim == 1 and len(y) else ""))
    x, generator, encoder, classifier, config = _training_setup(
        images, width, embedding_dim, seed, lambda: nn.Linear(embedding_dim, int(y.max()) + 1))
    if len(y) != len(x):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    params = list(encoder.parameters()) + list(classifier.parameters())
    return _fit(encoder, classifier, params, x, y, generator, epochs, batch_size, lr, weight_decay, num_threads,
                progress, config, "supervised", {},
                lambda out, _unused, yb: nn.functional.cross_entropy(classifier(out), yb))


def _fit(encoder, head, params, x, y, generator, epochs, batch_size, lr, weight_decay, num_threads, progress,
         config, kind, extra, loss_fn):
    """The training loop shared by both encoders: AdamW, cosine schedule, tqdm bar."""
    import torch
    from tqdm.auto import trange

    two_views = kind == "ssl"
    batch_size = min(batch_size, len(x))
    steps = epochs * max(1, len(x) // batch_size)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, steps))
    encoder.train(), head.train()
    with _torch_threads(num_threads):
        bar = trange(epochs, desc=f"training {kind} encoder", disable=not progress)
        for _ in bar:
            for idx in _batches(len(x), batch_size, generator):
                with torch.no_grad():
                    v1 = augment_views(x[idx], generator)
                    v2 = augment_views(x[idx], generator) if two_views else None
                if two_views:
                    out = encoder(torch.cat([v1, v2]))
                    loss = loss_fn(out[: len(idx)], out[len(idx):], None)
                else:
                    loss = loss_fn(encoder(v1), None, y[idx])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
            bar.set_postfix(loss=f"{loss.item():.3f}")
    encoder.eval()
    encoder.config = dict(config)
    encoder.kind = kind
    encoder.training_info = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                             "n_images": len(x), "image_shape": list(x.shape[1:]), **extra}
    return encoder


# --------------------------------------------------------------------------- checkpoints


def checkpoint_path(kind: str = "ssl") -> Path:
    """Where the shipped digits encoder of ``kind`` (``"ssl"`` or ``"supervised"``) lives."""
    if kind not in ("ssl", "supervised"):
        raise ValueError(f"kind must be 'ssl' or 'supervised', got {kind!r}")
    return DATA_DIR / f"digits_{kind}_encoder.pt"


def save_encoder(encoder: "torch.nn.Module", path: str | Path, seed: int | None = None,
                 data: str = "") -> Path:
    """Save an encoder from :func:`train_ssl_encoder` / :func:`train_supervised_encoder`.

    The file holds the weights, the architecture ``config``, :data:`ARCH_VERSION`,
    the kind, and how it was trained (so :func:`load_encoder` can check it). Written
    atomically (a temporary file, then ``os.replace``).
    """
    import torch

    state = {name: t.detach().clone() for name, t in encoder.state_dict().items()}
    checkpoint = {"format": "dcai-lab-encoder", "arch_version": ARCH_VERSION, "config": dict(encoder.config),
                  "kind": encoder.kind, "training": {**encoder.training_info, "seed": seed, "data": data},
                  "state_dict": state}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_encoder(path: str | Path | None = None, kind: str = "ssl",
                 config: dict | None = None) -> "torch.nn.Module":
    """Load a saved encoder, in eval mode, after checking it fits this code's architecture.

    Parameters
    ----------
    path : the checkpoint; default the shipped digits encoder of ``kind`` (:func:`checkpoint_path`).
    kind : ``"ssl"`` or ``"supervised"``; must match the checkpoint's kind.
    config : the architecture you expect (e.g. :data:`DIGITS_CONFIG`); default: the shipped
        checkpoints must have :data:`DIGITS_CONFIG`, other files their own stored config.

    Raises
    ------
    EncoderUnavailableError : the file is missing.
    EncoderMismatchError (a ValueError) : not an encoder checkpoint, another architecture
        version, kind or configuration, or weights of the wrong shapes; the message says what
        differs and how to retrain (``python scripts/train_encoder.py``).

    >>> net = load_encoder(kind="ssl")
    >>> net.config == DIGITS_CONFIG, net.kind
    (True, 'ssl')
    """
    import torch

    shipped = path is None
    path = checkpoint_path(kind) if shipped else Path(path)
    if not path.exists():
        raise EncoderUnavailableError(f"no encoder checkpoint at {path}; {RETRAIN_HINT}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise EncoderMismatchError(f"{path} is not a readable encoder checkpoint ({type(exc).__name__}: {exc}); "
                                   f"{RETRAIN_HINT}") from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != "dcai-lab-encoder":
        raise EncoderMismatchError(f"{path} is not a dcai-lab encoder checkpoint; {RETRAIN_HINT}")
    problems = []
    if ckpt.get("arch_version") != ARCH_VERSION:
        problems.append(f"architecture version {ckpt.get('arch_version')} (this code builds version {ARCH_VERSION})")
    if ckpt.get("kind") != kind:
        problems.append(f"kind {ckpt.get('kind')!r} (expected {kind!r})")
    expected = config if config is not None else (DIGITS_CONFIG if shipped else None)
    stored = ckpt.get("config", {})
    if expected is not None:
        problems += [f"{k}={stored.get(k)!r} (expected {expected.get(k)!r})"
                     for k in sorted(set(expected) | set(stored)) if stored.get(k) != expected.get(k)]
    if not problems:
        try:
            encoder = build_encoder(**stored)
        except TypeError as exc:
            problems.append(f"config {stored} ({exc})")
        else:
            problems += _state_problems(encoder.state_dict(), ckpt.get("state_dict", {}))
    if problems:
        raise EncoderMismatchError(f"encoder checkpoint {path} does not match this code: " + "; ".join(problems)
                                   + f". {RETRAIN_HINT[0].upper() + RETRAIN_HINT[1:]} (or pass the matching config).")
    encoder.load_state_dict(ckpt["state_dict"])
    encoder.eval()
    encoder.config, encoder.kind = dict(stored), kind
    encoder.training_info = ckpt.get("training", {})
    return encoder


def _state_problems(expected: dict, stored: dict) -> list[str]:
    """What differs between two state dicts: missing, unexpected or differently shaped tensors."""
    problems = [f"missing weights {k}" for k in expected if k not in stored]
    problems += [f"unexpected weights {k}" for k in stored if k not in expected]
    problems += [f"{k} has shape {tuple(stored[k].shape)} (expected {tuple(v.shape)})"
                 for k, v in expected.items() if k in stored and tuple(stored[k].shape) != tuple(v.shape)]
    return problems[:5] + ([f"... and {len(problems) - 5} more"] if len(problems) > 5 else [])


# --------------------------------------------------------------------------- encoding


def encode(encoder: "torch.nn.Module", images: Any, batch_size: int = 1024, progress: bool = True,
           preprocess=None) -> np.ndarray:
    """Run ``encoder`` over all images in batches; float32 (N, d), memory bounded by one batch.

    The output array is allocated once; each batch is converted from uint8 to float
    inside the loop, under ``torch.inference_mode``. ``preprocess`` (optional) maps a
    float batch (B, C, H, W) in [0, 1] to the encoder's input. The encoder is in eval
    mode, so every image is encoded on its own: ``batch_size`` changes the result only by
    float rounding (about 1e-6). About 1,000 images per batch is fastest on a CPU for
    8 x 8 digits (larger batches fall out of the processor's cache).

    >>> net = load_encoder(kind="ssl")
    >>> x = np.zeros((5, 8, 8), dtype=np.uint8)
    >>> bool(np.allclose(encode(net, x, batch_size=2, progress=False), encode(net, x, progress=False), atol=1e-5))
    True
    """
    import torch
    from tqdm.auto import tqdm

    _check_batch_size(batch_size)
    images = _as_images(images)
    was_training = encoder.training
    encoder.eval()
    out = None
    with torch.inference_mode():
        for start in tqdm(range(0, len(images), batch_size), desc="embedding", unit="batch", disable=not progress,
                          total=-(-len(images) // batch_size)):
            x = _to_tensor(images[start: start + batch_size])
            e = encoder(preprocess(x) if preprocess else x)
            if out is None:
                out = np.empty((len(images), e.shape[1]), dtype=np.float32)
            out[start: start + len(e)] = e.numpy()
    encoder.train(was_training)
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
        return encode(net, images, batch_size=min(batch_size, 256), progress=progress, preprocess=preprocess)
    return encode(_encoder_for(method, images, checkpoint), images, batch_size=batch_size, progress=progress)


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
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(map(repr, METHODS))}")
    _check_batch_size(batch_size)
    images = _as_images(images_or_dataset)
    if method == "pixels" or not cache:
        out = _compute(images, method, batch_size, checkpoint, download, progress)
        return _l2_normalize(out) if normalize else out
    path = _cache_dir(cache_dir) / f"{method}-{_cache_key(images, method, normalize, checkpoint)}.emb"
    key = path.stem
    out = _read_cache(path, key)
    if out is None:
        out = _compute(images, method, batch_size, checkpoint, download, progress)
        out = _l2_normalize(out) if normalize else out
        _write_cache(path, key, out)
    return out


def _check_batch_size(batch_size: Any) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def _l2_normalize(e: np.ndarray) -> np.ndarray:
    """Rows divided by their L2 norm (all-zero rows stay zero), in place."""
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    return np.divide(e, norms, out=e, where=norms > 0)


# --------------------------------------------------------------------------- cache


def _cache_dir(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir or os.environ.get("DCAI_CACHE_DIR") or DATA_DIR / "cache")


_FILE_HASHES: dict[tuple, str] = {}


def _file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime)."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _FILE_HASHES:
        _FILE_HASHES[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_HASHES[memo]


def _cache_key(images: np.ndarray, method: str, normalize: bool, checkpoint: str | Path | None) -> str:
    """SHA-256 over the image bytes and everything that changes the result."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images).data)  # hashes the buffer without a copy when already contiguous
    config: dict[str, Any] = {"shape": list(images.shape), "dtype": str(images.dtype), "method": method,
                              "normalize": bool(normalize), "cache_format": _CACHE_FORMAT}
    if method == "pca":
        config["pca"] = {"n_components": PCA_COMPONENTS, "random_state": 0}
    if method in ("ssl", "supervised"):
        path = checkpoint_path(method) if checkpoint is None else Path(checkpoint)
        config["checkpoint"] = _file_sha256(path) if path.exists() else "missing"
    if method == "resnet18":
        config["weights"] = "IMAGENET1K_V1"
    h.update(json.dumps(config, sort_keys=True).encode())
    return h.hexdigest()[:40]


def _write_cache(path: Path, key: str, array: np.ndarray) -> None:
    """Write ``magic | header length | JSON header | raw float32 rows`` atomically.

    The header holds the key, shape, dtype and the SHA-256 of the payload. Each writer
    uses its own temporary file in the same folder and ``os.replace``s it: readers see
    either no file or a complete one, also when two processes write the same key.
    """
    array = np.ascontiguousarray(array, dtype=np.float32)
    header = json.dumps({"key": key, "shape": list(array.shape), "dtype": "float32",
                         "sha256": hashlib.sha256(array.data).hexdigest()}).encode()
    header += b" " * (-(16 + len(header)) % 64)  # the rows start at a multiple of 64 bytes (aligned floats)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_CACHE_MAGIC + len(header).to_bytes(8, "little") + header)
            f.write(array.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cache(path: Path, key: str) -> np.ndarray | None:
    """The cached array, or None when there is none; a damaged or stale file warns and counts as none."""
    try:
        with open(path, "rb") as f:  # read into one writable buffer: the array is a view of it, no copy
            data = bytearray(os.fstat(f.fileno()).st_size)
            del data[f.readinto(data):]
    except FileNotFoundError:
        return None
    problem = _check_cache_file(data, key)
    if problem:
        warnings.warn(f"embedding cache file {path} is {problem}; recomputing it", stacklevel=3)
        return None
    n = int.from_bytes(data[8:16], "little")
    header = json.loads(data[16: 16 + n])
    array = np.frombuffer(data, dtype=np.float32, offset=16 + n).reshape(header["shape"])
    return array if array.flags.aligned else array.copy()


def _check_cache_file(data: bytes | bytearray, key: str) -> str:
    """Empty string when ``data`` is a valid cache file for ``key``, else what is wrong with it."""
    if data[:8] != _CACHE_MAGIC or len(data) < 16:
        return "not an embedding cache file (bad magic bytes)"
    n = int.from_bytes(data[8:16], "little")
    try:
        header = json.loads(data[16: 16 + n])
        shape, digest = [int(s) for s in header["shape"]], header["sha256"]
    except (ValueError, KeyError, TypeError):
        return "damaged (unreadable header)"
    if header.get("key") != key:
        return f"stale (made for key {header.get('key')!r})"
    payload = memoryview(data)[16 + n:]
    if len(payload) != 4 * int(np.prod(shape)):
        return f"truncated ({len(payload)} bytes of data, the header says {4 * int(np.prod(shape))})"
    if hashlib.sha256(payload).hexdigest() != digest:
        return "corrupted (checksum mismatch)"
    return ""
