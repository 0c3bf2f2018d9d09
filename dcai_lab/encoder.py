"""The kit's small image encoder: the network, and its checkpoint files (notebooks 02 and 03).

:func:`build_encoder` makes the CNN; :func:`save_encoder` and :func:`load_encoder` write and
read a checkpoint that records the architecture, so a stale file is refused with a message
that says how to rebuild it. The two shipped checkpoints, ``data/digits_ssl_encoder.pt``
(trained without labels, :func:`dcai_lab.simclr.train_ssl_encoder`) and
``data/digits_supervised_encoder.pt`` (the same network trained with labels), are rebuilt
byte for byte by ``python scripts/train_encoder.py`` on the 1,348 digits of
:func:`dcai_lab.data.course_split`'s pool: the 449 test digits are never seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dcai_lab._cache import atomic_write
from dcai_lab._checks import check_choice, check_int, check_path, check_seed
from dcai_lab.data import DATA_DIR

if TYPE_CHECKING:  # torch is imported inside the functions that need it: importing this module stays light
    import torch

__all__ = ["build_encoder", "images_to_tensor", "save_encoder", "load_encoder", "checkpoint_path", "EncoderMismatchError",
           "EncoderUnavailableError", "ARCH_VERSION", "DIGITS_CONFIG", "CHECKPOINT_SPLIT", "KINDS"]

ARCH_VERSION = 1
DIGITS_CONFIG = {"in_channels": 1, "width": 16, "embedding_dim": 128}
CHECKPOINT_SPLIT = {"train_size": 0, "test_size": 0.25, "seed": 0}
KINDS = ("ssl", "supervised")
RETRAIN_HINT = "retrain it with `python scripts/train_encoder.py`"


class EncoderMismatchError(ValueError):
    """A checkpoint does not fit the encoder architecture this code builds."""


class EncoderUnavailableError(RuntimeError):
    """An encoder's weights are not on disk (and were not downloaded)."""


def images_to_tensor(batch: np.ndarray) -> "torch.Tensor":
    """A checked batch of images (B, H, W, C), uint8 or float, as the float32 tensor (B, C, H, W) the encoder
    takes: uint8 pixels divided by 255, floats as they are (notebook 02, section 2).

    >>> images_to_tensor(np.full((2, 8, 8, 1), 255, dtype=np.uint8)).shape
    torch.Size([2, 1, 8, 8])
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
    return x.float().div_(255) if batch.dtype == np.uint8 else x.float()


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

    in_channels = check_int(in_channels, "in_channels", min=1, max=3)
    width, embedding_dim = check_int(width, "width", min=1), check_int(embedding_dim, "embedding_dim", min=1)

    def block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())

    w = width
    return nn.Sequential(block(in_channels, w), block(w, 2 * w), block(2 * w, 4 * w, stride=2), block(4 * w, 4 * w),
                         nn.AdaptiveAvgPool2d(2), nn.Flatten(),
                         nn.Linear(16 * w, embedding_dim, bias=False), nn.BatchNorm1d(embedding_dim), nn.ReLU())


def checkpoint_path(kind: str = "ssl") -> Path:
    """Where the shipped digits encoder of ``kind`` (``"ssl"`` or ``"supervised"``) lives."""
    check_choice(kind, "kind", KINDS)
    return DATA_DIR / f"digits_{kind}_encoder.pt"


def save_encoder(encoder: "torch.nn.Module", path: str | Path, seed: int | None = None,
                 data: str = "") -> Path:
    """Save an encoder from :func:`train_ssl_encoder` / :func:`train_supervised_encoder`.

    The file holds the weights, the architecture ``config``, :data:`ARCH_VERSION`,
    the kind, and how it was trained (so :func:`load_encoder` can check it). Written
    atomically (a temporary file, then ``os.replace``).
    """
    import torch

    if not all(hasattr(encoder, a) for a in ("state_dict", "config", "kind", "training_info")):
        raise ValueError(f"encoder must be an encoder from train_ssl_encoder, train_supervised_encoder or "
                         f"load_encoder (it records its config and kind), got {type(encoder).__name__}")
    path = check_path(path, "path", allow_none=False)
    seed = None if seed is None else check_seed(seed)
    if not isinstance(data, str):
        raise ValueError(f"data must be a str describing the training data, got {data!r}")
    state = {name: t.detach().clone() for name, t in encoder.state_dict().items()}
    checkpoint = {"format": "dcai-lab-encoder", "arch_version": ARCH_VERSION, "config": dict(encoder.config),
                  "kind": encoder.kind, "training": {**encoder.training_info, "seed": seed, "data": data},
                  "state_dict": state}
    atomic_write(path, lambda f: torch.save(checkpoint, f))
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

    check_choice(kind, "kind", KINDS)
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"config must be a dict such as DIGITS_CONFIG, got {type(config).__name__}")
    shipped = path is None
    path = checkpoint_path(kind) if shipped else check_path(path, "path")
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
