"""Small plots shared by the notebooks: image grids and class counts."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def show_images(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 10,
                size: float = 1.0, cmap: str = "gray_r", suptitle: str | None = None):
    """Draw ``images`` (N x H x W, or N x H x W x 3) in a grid, with optional titles; returns the figure.

    >>> import numpy as np
    >>> fig = show_images(np.zeros((3, 8, 8), dtype=np.uint8), titles=["a", "b", "c"])
    >>> len(fig.axes)
    3
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, H, W) or (N, H, W, 3) array, got shape {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = min(ncols, len(images))
    nrows = -(-len(images) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * (1.25 if titles else 1)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        if i >= len(images):
            fig.delaxes(ax)
            continue
        ax.imshow(images[i], cmap=None if images.ndim == 4 else cmap)
        ax.set_xticks([])
        ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_class_counts(y: np.ndarray, class_names: Sequence[str], ax=None, title: str = "items per class"):
    """A bar chart of how many items each class has; returns the axes."""
    import matplotlib.pyplot as plt

    counts = np.bincount(np.asarray(y), minlength=len(class_names))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.5))
    ax.bar(range(len(class_names)), counts, color="tab:blue")
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_ylabel("items")
    ax.set_title(title)
    return ax
