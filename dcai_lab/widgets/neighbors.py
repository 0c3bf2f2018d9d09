"""Explore SEALS's candidate pool: a labeled image's nearest neighbours, and the pool growing round by round.

>>> import numpy as np
>>> from dcai_lab.knn import KnnIndex
>>> x = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [-1, 0], [-1, 0.1]])
>>> images = np.zeros((6, 8, 8), dtype=np.uint8)
>>> ex = neighbors_explorer(images, KnnIndex(x), labeled_ids=[0, 2, 4], n_labeled=[1, 3], k=1)
>>> ex.round, ex.labeled().tolist(), ex.candidates().tolist()     # the last round first
(1, [0, 2, 4], [1, 3, 5])
>>> ex.pool_sizes()                                             # candidates per round
[1, 3]
>>> ex.point = 2; ex.neighbors()[1].tolist(), ex.in_pool().tolist()
([3], [True])
>>> print(ex.summary())
round 1: 3 labeled, 3 candidates (k = 1); labeled image 2: 1 of its 1 nearest neighbours in the candidate pool, 0 labeled

In JupyterLab, displaying the explorer shows a round slider and a menu of the labeled
images above a picture: the chosen image, its ``k`` nearest neighbours framed by what they
are (candidate or labeled), and the candidate pool's size per round. Where no widget front
end runs (``DCAI_STATIC_WIDGETS=1`` or outside a kernel) it shows the same picture as a
static matplotlib figure.
"""

from __future__ import annotations

import numbers

import numpy as np

from dcai_lab._checks import check_ids
from dcai_lab.knn import KnnIndex
from dcai_lab.seals import CandidatePool
from dcai_lab.plotting import figure_png, image_tile
from dcai_lab.widgets._base import WidgetView

__all__ = ["NeighborsExplorer", "neighbors_explorer"]


class NeighborsExplorer(WidgetView):
    """A labeled image's ``k`` nearest neighbours and SEALS's candidate pool, round by round.

    Parameters
    ----------
    images : array (N, H, W) or (N, H, W, 3); row ``i`` is pool id ``i``.
    index : :class:`dcai_lab.knn.KnnIndex` over the pool's embeddings (``len(index) == N``).
    labeled_ids : pool ids in the order they were labeled (``History.labeled_ids``).
    n_labeled : how many of them were labeled at the start of each round (``History.n_labeled``);
        default: one round with all of them.
    k : SEALS's neighbours per labeled point (use the run's k); the candidate pool of round ``r`` is
        ``CandidatePool(index, k, labeled_ids[:n_labeled[r]])``, built incrementally.
    n_show : how many nearest neighbours of the chosen image to show; default ``min(k, 10)``.
    labels : optional class labels (N,), shown above each image.
    round, point : the round and the labeled pool id shown first (default: the last round, its first label).

    ``round`` and ``point`` can be set at any time; the view follows.
    """

    def __init__(self, images, index: KnnIndex, labeled_ids, n_labeled=None, k: int = 10, labels=None,
                 round: int | None = None, point: int | None = None, n_show: int | None = None):
        images = np.asarray(images)
        if not isinstance(index, KnnIndex):
            raise ValueError(f"index must be a dcai_lab.knn.KnnIndex over the pool, got {type(index).__name__}")
        if images.ndim not in (3, 4) or len(images) != len(index):
            raise ValueError(f"images must be (N, H, W) or (N, H, W, 3) with one image per indexed point "
                             f"({len(index)}), got shape {images.shape}")
        order = check_ids(labeled_ids, len(index), "labeled_ids")
        if len(order) == 0 or len(np.unique(order)) != len(order):
            raise ValueError("labeled_ids must be distinct pool ids, at least one")
        n_labeled = [len(order)] if n_labeled is None else [int(n) for n in n_labeled]
        if not n_labeled or any(not 1 <= n <= len(order) for n in n_labeled) or np.any(np.diff(n_labeled) < 0):
            raise ValueError(f"n_labeled must be non-decreasing counts in 1..{len(order)} (one per round), "
                             f"got {n_labeled}")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"labels must have one entry per image ({len(images)}), got {len(labels)}")
        self.images, self.index, self.order, self.n_labeled = images, index, order, n_labeled
        self.labels = None if labels is None else np.asarray(labels)
        pool = CandidatePool(index, k)
        self.k = pool.k
        n_show = min(self.k, 10) if n_show is None else n_show
        if isinstance(n_show, bool) or not isinstance(n_show, numbers.Integral) or not 1 <= n_show < len(index):
            raise ValueError(f"n_show must be an integer in 1..{len(index) - 1}, got {n_show!r}")
        self.n_show = int(n_show)
        self._candidates = []
        for n in n_labeled:
            pool.add_labeled(order[:n])
            self._candidates.append(pool.ids())
        self._round = self._valid_round(len(n_labeled) - 1 if round is None else round)
        self._point = self._valid_point(int(order[0]) if point is None else point)
        self._ui = None

    # ------------------------------------------------------------------ state

    def _valid_round(self, value) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < len(self.n_labeled):
            raise ValueError(f"round must be an integer in 0..{len(self.n_labeled) - 1}, got {value!r}")
        return int(value)

    def _valid_point(self, value) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value not in set(self.labeled().tolist()):
            raise ValueError(f"point must be a pool id labeled by round {self._round} (see .labeled()), got {value!r}")
        return int(value)

    @property
    def round(self) -> int:
        """The round on screen."""
        return self._round

    @round.setter
    def round(self, value) -> None:
        self._round = self._valid_round(value)
        if self._point not in set(self.labeled().tolist()):
            self._point = int(self.order[0])
        self._refresh()

    @property
    def point(self) -> int:
        """The labeled pool id whose neighbours are shown."""
        return self._point

    @point.setter
    def point(self, value) -> None:
        self._point = self._valid_point(value)
        self._refresh()

    # ------------------------------------------------------------------ what is shown (no widgets needed)

    def labeled(self, round: int | None = None) -> np.ndarray:
        """Pool ids labeled at the start of a round, in the order they were labeled."""
        r = self._round if round is None else self._valid_round(round)
        return self.order[:self.n_labeled[r]]

    def candidates(self, round: int | None = None) -> np.ndarray:
        """Sorted pool ids of the candidate pool at the start of a round."""
        return self._candidates[self._round if round is None else self._valid_round(round)]

    def pool_sizes(self) -> list[int]:
        """The candidate pool's size in every round."""
        return [len(c) for c in self._candidates]

    def neighbors(self) -> tuple[np.ndarray, np.ndarray]:
        """Cosine similarities and pool ids of the ``n_show`` nearest neighbours of ``point`` (itself excluded)."""
        sims, ids = self.index.neighbors([self._point], self.n_show)
        keep = ids[0] >= 0
        return sims[0][keep], ids[0][keep]

    def in_pool(self) -> np.ndarray:
        """For each neighbour of ``point``: is it in this round's candidate pool?"""
        return np.isin(self.neighbors()[1], self.candidates())

    def summary(self) -> str:
        """One line: the round, the pool and the chosen image's neighbours."""
        ids = self.neighbors()[1]
        n_labeled = int(np.isin(ids, self.labeled()).sum())
        return (f"round {self._round}: {len(self.labeled())} labeled, {len(self.candidates())} candidates "
                f"(k = {self.k}); labeled image {self._point}: {int(self.in_pool().sum())} of its {len(ids)} "
                f"nearest neighbours in the candidate pool, {n_labeled} labeled")

    # ------------------------------------------------------------------ the picture

    def figure(self):
        """A matplotlib Figure: the chosen image and its neighbours (orange frame = candidate, blue = labeled),
        titled with label and cosine similarity, and the candidate pool's size per round."""
        from matplotlib.figure import Figure

        sims, ids = self.neighbors()
        pool = np.isin(ids, self.candidates())
        n_cols = min(len(ids), 10)
        n_rows = -(-len(ids) // n_cols)
        fig = Figure(figsize=(0.8 * (n_cols + 1) + 4.2, 1.1 * n_rows + 1.0))
        grid = fig.add_gridspec(n_rows, n_cols + 3, width_ratios=[1.2, 0.3] + [1] * n_cols + [5.5], wspace=0.15,
                                hspace=0.5, left=0.02, right=0.98, top=0.8, bottom=0.2)
        cmap = None if self.images.ndim == 4 else "gray_r"

        def show(ax, i, title, color, width):
            ax.imshow(self.images[i], cmap=cmap)
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(color)
                spine.set_linewidth(width)
            label = "" if self.labels is None else f"{self.labels[i]}: "
            ax.set_title(f"{label}{title}", fontsize=7, pad=2)

        show(fig.add_subplot(grid[0, 0]), self._point, f"#{self._point}", "tab:blue", 3)
        for j, (i, s, p) in enumerate(zip(ids, sims, pool)):
            show(fig.add_subplot(grid[j // n_cols, 2 + j % n_cols]), i, f"{s:.2f}",
                 "tab:orange" if p else "tab:blue", 2.5)
        ax = fig.add_subplot(grid[:, -1])
        rounds = np.arange(len(self.n_labeled))
        ax.plot(rounds, self.pool_sizes(), marker=".", color="tab:orange", label="candidates")
        ax.plot(rounds, self.n_labeled, marker=".", color="tab:blue", label="labeled")
        ax.axvline(self._round, color="0.6", lw=1, ls="--")
        ax.set_xlabel("round", fontsize=8)
        ax.set_title(f"candidate pool (k = {self.k}) of {len(self.images):,}", fontsize=8, pad=2)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.suptitle(f"round {self._round}: labeled image #{self._point} (left) and its {len(ids)} nearest "
                     "neighbours, titled with cosine similarity; orange frame = candidate, blue = labeled",
                     fontsize=9)
        return fig

    def _png(self) -> bytes:
        return figure_png(self.figure())

    # ------------------------------------------------------------------ the views

    def _show_static(self) -> None:
        from IPython.display import display

        print(self.summary())
        display(self.figure())

    def _build(self) -> dict:
        import ipywidgets as w

        ui: dict = {
            "round": w.IntSlider(value=self._round, min=0, max=len(self.n_labeled) - 1, description="round",
                                 continuous_update=False),
            "point": w.Dropdown(options=[], description="labeled"),
            "image": w.Image(format="png"),
            "status": w.HTML(),
        }
        ui["round"].observe(lambda change: setattr(self, "round", change["new"]), names="value")
        ui["point"].observe(lambda change: change["new"] is not None and setattr(self, "point", change["new"]),
                            names="value")
        ui["box"] = w.VBox([w.HBox([ui["round"], ui["point"]]), ui["status"], ui["image"]])
        ui["box"].add_class("dcai-neighbors-explorer")
        return ui

    def _refresh(self) -> None:
        if self._ui is None:
            return
        ui = self._ui
        ui["round"].value = self._round
        options = [(f"#{i}" + ("" if self.labels is None else f" ({self.labels[i]})"), int(i)) for i in self.labeled()]
        if [v for _, v in ui["point"].options] != [v for _, v in options]:
            ui["point"].options = options
        ui["point"].value = self._point
        ui["status"].value = self.summary()
        ui["image"].value = self._png()


def neighbors_explorer(images, index: KnnIndex, history=None, *, labeled_ids=None, n_labeled=None, k: int = 10,
                       labels=None, round: int | None = None, point: int | None = None,
                       n_show: int | None = None) -> NeighborsExplorer:
    """Explore a SEALS run; display the result in a notebook.

    Give a ``history`` (from :func:`dcai_lab.seals.run_seals`: its ``labeled_ids`` and
    ``n_labeled``) or ``labeled_ids`` (and optionally ``n_labeled``) yourself. The other
    parameters are those of :class:`NeighborsExplorer`.
    """
    if history is not None:
        if labeled_ids is not None or n_labeled is not None:
            raise ValueError("give either history, or labeled_ids (and n_labeled), not both")
        labeled_ids, n_labeled = history.labeled_ids, history.n_labeled
    elif labeled_ids is None:
        raise ValueError("give a history (from run_seals) or labeled_ids")
    return NeighborsExplorer(images, index, labeled_ids, n_labeled=n_labeled, k=k, labels=labels, round=round,
                             point=point, n_show=n_show)
