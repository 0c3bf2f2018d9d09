"""Training the kit's encoder without labels: SimCLR (notebook 02, section 2; notebook 03, section 7).

**SimCLR** in one line: show the network two random distortions ("views") of every image in a
batch and train it so that the two views of the same image are each other's nearest
neighbours among all 2B views. With unit vectors ``z`` from the projection head and
``s(i, j) = z_i . z_j / tau``, the NT-Xent loss of view ``i`` with partner ``p(i)`` is

    loss_i = -log( exp(s(i, p(i))) / sum_{k != i} exp(s(i, k)) )

averaged over the 2B views. The embedding is the representation *before* the projection head.
:func:`train_supervised_encoder` trains the same network with labels instead, for contrast.

>>> from dcai_lab.data import load_digits
>>> net = train_ssl_encoder(load_digits().images[:64], epochs=1, batch_size=32, width=4, progress=False)
>>> net.config["embedding_dim"], net.kind, net.training
(128, 'ssl', False)
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from dcai_lab._checks import check_bool, check_float, check_fraction, check_images, check_int, check_labels, \
    check_seed
from dcai_lab.encoder import images_to_tensor, build_encoder

if TYPE_CHECKING:
    import torch

__all__ = ["augment_views", "nt_xent_loss", "train_ssl_encoder", "train_supervised_encoder"]


def _projection_head(embedding_dim: int, out_dim: int = 64) -> "torch.nn.Module":
    """SimCLR's projection head g(h): used only for the loss, thrown away after training."""
    from torch import nn

    return nn.Sequential(nn.Linear(embedding_dim, embedding_dim), nn.ReLU(), nn.Linear(embedding_dim, out_dim))



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

    >>> import torch
    >>> views = augment_views(torch.zeros(3, 1, 8, 8), torch.Generator().manual_seed(0))
    >>> views.shape
    torch.Size([3, 1, 8, 8])
    """
    import torch

    if not isinstance(x, torch.Tensor) or x.ndim != 4 or not x.is_floating_point() or 0 in x.shape:
        raise ValueError(f"x must be a float tensor of images (B, C, H, W) in [0, 1], got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, e.g. torch.Generator().manual_seed(0); "
                         f"got {type(generator).__name__}")
    settings = dict(max_rotation=max_rotation, max_scale=max_scale, max_shear=max_shear, max_shift=max_shift,
                    elastic=elastic, contrast=contrast, brightness=brightness, noise=noise)
    for name, value in settings.items():
        check_float(value, name, min=0)
    if max_scale >= 1:
        raise ValueError(f"max_scale must be below 1 (a zoom of 1 - max_scale must stay positive), got {max_scale}")
    return _augment_views(x, generator, erase_prob=check_fraction(erase_prob, "erase_prob", allow_zero=True),
                          **settings)


def _augment_views(x: "torch.Tensor", generator: "torch.Generator", max_rotation: float = 15.0,
                   max_scale: float = 0.15, max_shear: float = 0.15, max_shift: float = 0.15,
                   elastic: float = 0.08, contrast: float = 0.4, brightness: float = 0.1,
                   noise: float = 0.05, erase_prob: float = 0.5) -> "torch.Tensor":
    """:func:`augment_views` of a checked batch and settings (the training loop's defaults)."""
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

    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or not z.is_floating_point() or 0 in z.shape:
            raise ValueError(f"{name} must be a float tensor (batch, dim) of projections, got "
                             f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
    if z1.shape != z2.shape:
        raise ValueError(f"z1 and z2 must have the same shape (view i of z1 pairs with view i of z2), got "
                         f"{tuple(z1.shape)} and {tuple(z2.shape)}")
    return _nt_xent(z1, z2, check_float(temperature, "temperature", min=0, min_open=True,
                                        hint=" (SimCLR uses about 0.1)"))


def _nt_xent(z1: "torch.Tensor", z2: "torch.Tensor", temperature: float) -> "torch.Tensor":
    """:func:`nt_xent_loss` of checked views."""
    import torch
    import torch.nn.functional as F

    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))  # a view is not its own positive
    n = len(z1)
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, partner)



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

    x = images_to_tensor(check_images(images))
    generator = torch.Generator().manual_seed(seed)
    config = {"in_channels": int(x.shape[1]), "width": width, "embedding_dim": embedding_dim}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = build_encoder(**config)
        head = head_fn()
    return x, generator, encoder, head, config


def _check_training(epochs, seed, batch_size, lr, weight_decay, num_threads, width, embedding_dim,
                    progress) -> None:
    """The checks both training functions share."""
    check_int(width, "width", min=1)
    check_int(embedding_dim, "embedding_dim", min=1)
    check_bool(progress, "progress")
    check_int(epochs, "epochs", min=1)
    check_seed(seed)
    check_int(batch_size, "batch_size", min=2, hint=" (contrastive and batch-norm training need 2 or more)")
    check_float(lr, "lr", min=0, min_open=True)
    check_float(weight_decay, "weight_decay", min=0)
    if num_threads is not None:
        check_int(num_threads, "num_threads", min=1)


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
    """
    _check_training(epochs, seed, batch_size, lr, weight_decay, num_threads, width, embedding_dim, progress)
    temperature = check_float(temperature, "temperature", min=0, min_open=True, hint=" (SimCLR uses about 0.1)")
    x, generator, encoder, head, config = _training_setup(images, width, embedding_dim, seed,
                                                          lambda: _projection_head(embedding_dim))
    params = list(encoder.parameters()) + list(head.parameters())
    return _fit(encoder, head, params, x, None, generator, epochs, batch_size, lr, weight_decay, num_threads,
                progress, config, "ssl", dict(temperature=temperature),
                lambda out1, out2, _y: _nt_xent(head(out1), head(out2), temperature))


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

    _check_training(epochs, seed, batch_size, lr, weight_decay, num_threads, width, embedding_dim, progress)
    if labels is None:
        labels = getattr(images, "y", None)
        if labels is None:
            raise ValueError("train_supervised_encoder needs labels: pass labels= or a Dataset")
    labels = check_labels(labels, "labels")
    if not np.issubdtype(labels.dtype, np.integer) or len(labels) == 0 or labels.min() < 0:
        raise ValueError("labels must be a 1-D array of class numbers 0, 1, 2, ... (one per image)")
    y = torch.as_tensor(labels, dtype=torch.long)
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
                    v1 = _augment_views(x[idx], generator)
                    v2 = _augment_views(x[idx], generator) if two_views else None
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
