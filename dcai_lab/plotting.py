"""The course's plots: image grids, learning curves, the data-engine dashboard, widget pictures.

Each returns its matplotlib Figure or Axes, with labelled axes.
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from dcai_lab._checks import as_array, check_int


def show_images(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 10,
                size: float = 1.0, cmap: str = "gray_r", suptitle: str | None = None):
    """Draw ``images`` (N x H x W, or N x H x W x 3) in a grid, with optional titles; returns the figure.

    Any finite numbers: grey images are scaled to their own range (e.g. the mean of uint8 digits).

    >>> import numpy as np
    >>> fig = show_images(np.zeros((3, 8, 8), dtype=np.uint8), titles=["a", "b", "c"])
    >>> len(fig.axes)
    3
    """
    import matplotlib.pyplot as plt

    images = as_array(images, "images")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) == 0 or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"images must be a non-empty (N, H, W) or (N, H, W, 3) array, got shape {images.shape}")
    if images.dtype == bool or not np.issubdtype(images.dtype, np.number) or np.iscomplexobj(images):
        raise ValueError(f"images must hold numbers (uint8 0..255, or floats), got dtype {images.dtype}")
    finite = np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if not finite.all():
        raise ValueError(f"images hold NaN or infinity (image {int(np.flatnonzero(~finite)[0])}); fix or drop them")
    if titles is not None and (isinstance(titles, str) or not hasattr(titles, "__len__")):
        raise ValueError(f"titles must be a list of str, one per image, got {titles!r}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = min(check_int(ncols, "ncols", min=1), len(images))
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

    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (list, tuple, np.ndarray)):
        raise ValueError(f"class_names must be a list of names, one per class, got {class_names!r}")
    y = as_array(y, "y")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (len(y) and (y.min() < 0 or y.max() >= len(class_names))):
        raise ValueError(f"y must be class indices 0..{len(class_names) - 1}, one per item")
    counts = np.bincount(y, minlength=len(class_names))
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.5))
    ax.bar(range(len(class_names)), counts, color="tab:blue")
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_xlabel("class")
    ax.set_ylabel("items")
    ax.set_title(title)
    return ax


def plot_learning_curves(histories, ax=None, metric: str = "accuracy"):
    """Test accuracy against the number of labels: per strategy, mean +- std over seeds (notebook 01, section 5).

    ``histories`` is what :func:`dcai_lab.active.compare_strategies` returns. Returns the axes.
    """
    import pandas as pd

    from dcai_lab.history import History

    if not isinstance(histories, (list, tuple)) or not all(isinstance(h, History) for h in histories):
        raise ValueError(f"histories must be a list of History (what compare_strategies returns), got "
                         f"{type(histories).__name__}")
    if not histories:
        raise ValueError("no histories to plot; pass the list that compare_strategies returns")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    frame = pd.concat([h.to_frame() for h in histories], ignore_index=True)
    if not isinstance(metric, str) or metric not in frame.columns:
        raise ValueError(f"metric must be a column of History.to_frame(), such as 'accuracy'; got {metric!r}")
    for name, group in frame.groupby("strategy", sort=False):
        stats = group.groupby("n_labeled")[metric].agg(["mean", "std"])
        std = stats["std"].fillna(0).to_numpy()
        n_seeds = group["seed"].nunique()
        line, = ax.plot(stats.index, stats["mean"], marker=".", label=f"{name} ({n_seeds} seed{'s' * (n_seeds > 1)})")
        ax.fill_between(stats.index, stats["mean"] - std, stats["mean"] + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("labeled examples")
    ax.set_ylabel(f"test {metric}")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_dashboard(runs: dict, focus_class, classes: Sequence, title: str = "data engine"):
    """The dashboard of one or more runs of a data-engine loop, a matplotlib Figure (notebook 04, section 5).

    ``runs`` maps a run's name to a pandas DataFrame with one row per iteration and
    columns ``labels`` (labels bought so far, cumulative), ``train_items`` (items the
    model was trained on, after pruning), ``seconds`` (compute spent in the iteration;
    NaN where not measured), ``accuracy`` (overall test accuracy) and ``"class <c>"``
    for every class ``c`` (test accuracy within the class).

    Four panels: the focus class's accuracy and the overall accuracy against labels
    bought so far; every class's accuracy per iteration (first run); the labels added
    in each iteration, ``labels[i] - labels[i - 1]`` (iteration 0: the starting labels),
    next to the items trained on; the compute seconds of each iteration.
    """
    from matplotlib.figure import Figure

    import pandas as pd

    if not isinstance(runs, dict) or not all(isinstance(f, pd.DataFrame) for f in runs.values()):
        raise ValueError(f"runs must be a dict {{name: DataFrame}}, got {type(runs).__name__}")
    if not runs:
        raise ValueError("give at least one run: {name: DataFrame}")
    if isinstance(classes, (str, bytes)) or not isinstance(classes, (list, tuple, range, np.ndarray)):
        raise ValueError(f"classes must be a list of the classes, got {classes!r}")
    if len(runs) > 4:
        raise ValueError(f"the dashboard compares at most 4 runs, got {len(runs)}")
    columns = [f"class {c}" for c in classes]
    for name, frame in runs.items():
        missing = [c for c in ["labels", "train_items", "seconds", "accuracy", *columns] if c not in frame.columns]
        if missing:
            raise ValueError(f"run {name!r} lacks the columns {missing}")
    fig = Figure(figsize=(12, 7))
    (acc_ax, heat_ax), (label_ax, time_ax) = fig.subplots(2, 2)
    colors = ["tab:red", "tab:blue", "tab:green", "tab:purple"]
    for (name, frame), color in zip(runs.items(), colors):
        acc_ax.plot(frame["labels"], frame[f"class {focus_class}"], "o-", color=color, label=f"{name}: class {focus_class}")
        acc_ax.plot(frame["labels"], frame["accuracy"], "--", color=color, alpha=0.6, label=f"{name}: all classes")
    acc_ax.set(xlabel="labels bought so far", ylabel="test accuracy", ylim=(-0.02, 1.02), title="accuracy")
    acc_ax.legend(fontsize=7, loc="lower right")
    first_name, first = next(iter(runs.items()))
    grid = first[columns].to_numpy(dtype=float).T
    image = heat_ax.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=1)
    heat_ax.set(xlabel="iteration", ylabel="class", yticks=range(len(classes)), yticklabels=list(classes),
                title=f"{first_name}: accuracy per class")
    heat_ax.set_xticks(range(grid.shape[1]))
    fig.colorbar(image, ax=heat_ax, fraction=0.05)
    width = 0.8 / len(runs)
    for j, ((name, frame), color) in enumerate(zip(runs.items(), colors)):
        x = np.arange(len(frame)) + (j - (len(runs) - 1) / 2) * width
        added = np.diff(frame["labels"].to_numpy(dtype=float), prepend=0)
        label_ax.bar(x, added, width, color=color, alpha=0.5, label=f"{name}: new labels")
        label_ax.plot(x, frame["train_items"], "o:", color=color, label=f"{name}: items trained on")
        time_ax.plot(np.arange(len(frame)), frame["seconds"].to_numpy(dtype=float), "o-", color=color, label=name)
    label_ax.set(xlabel="iteration\n(new labels: bought since the previous model; at 0, the starting labels)",
                 ylabel="items", title="labeling cost per iteration")
    label_ax.set_xticks(range(len(first)))
    label_ax.legend(fontsize=7, loc="upper left")
    time_ax.set(xlabel="iteration", ylabel="seconds (this machine)", ylim=(0, None), title="compute per iteration")
    time_ax.set_xticks(range(len(first)))
    time_ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- what the widgets draw with


def image_tile(ax, image: np.ndarray, title: str = "", frame: str = "0.75", width: float = 1.0) -> None:
    """Draw one image in ``ax`` without ticks, framed in colour ``frame`` of line width ``width``.

    ``image`` is (H, W) or (H, W, 1) (grey, dark ink on white) or (H, W, 3) (colour).
    """
    image = as_array(image, "image")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (1, 3, 4)) or image.dtype == object:
        raise ValueError(f"image must be one image (H, W) or (H, W, C) with 1, 3 or 4 channels, got shape "
                         f"{image.shape} and dtype {image.dtype}")
    image = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
    ax.imshow(image, cmap=None if image.ndim == 3 else "gray_r")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color(frame)
        spine.set_linewidth(width)
    if title:
        ax.set_title(title, fontsize=7, pad=2)


def figure_png(fig, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (for an ``ipywidgets.Image``); the figure is closed afterwards."""
    import matplotlib.pyplot as plt

    if not callable(getattr(fig, "savefig", None)):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    dpi = check_int(dpi, "dpi", min=10, hint=" (dots per inch, e.g. 80)")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


# --------------------------------------------------------------------------- stopping rules


def plot_stopping(history, ax=None):
    """One run's learning curve with a dashed line where each stopping rule would have stopped (notebook 05, section 7).

    The line of rule ``k`` is at ``n_labeled[History.stops[k]]``. ``history`` comes from
    :func:`dcai_lab.active.run_active_learning` with ``stopping=[...]``; the legend gives each
    rule's labels and test accuracy at its stop (rules that never stopped are listed as such).
    Returns the axes.

    >>> from dcai_lab.history import History
    >>> h = History("entropy", 0, np.arange(2), n_labeled=[10, 20, 30], accuracy=[0.7, 0.8, 0.9])
    >>> h.stops = {"label budget": 1, "stabilizing predictions": None}
    >>> [t.get_text() for t in plot_stopping(h).get_legend().get_texts()][1:]
    ['label budget: 20 labels, accuracy 0.800', 'stabilizing predictions: never stopped']
    """
    if not getattr(history, "stops", None):
        raise ValueError("the history records no stopping rule; run the loop with stopping=[...] "
                         "(dcai_lab.stopping)")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history.n_labeled, history.accuracy, marker=".", color="0.3",
            label=f"{history.strategy} (seed {history.seed})")
    for (rule, r), color in zip(history.stops.items(), ("tab:red", "tab:green", "tab:purple", "tab:orange",
                                                         "tab:brown", "tab:pink")):
        if r is None:
            ax.plot([], [], " ", label=f"{rule}: never stopped")
            continue
        ax.axvline(history.n_labeled[r], color=color, linestyle="--",
                   label=f"{rule}: {history.n_labeled[r]} labels, accuracy {history.accuracy[r]:.3f}")
        ax.plot(history.n_labeled[r], history.accuracy[r], "o", color=color)
    ax.set_xlabel("labeled examples")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax
