"""Explore SEALS's candidate pool: a labeled image's nearest neighbours, and the pool growing (notebook 02, section 11).

The candidate pool of round ``r`` is the union of the ``k`` nearest neighbours of every
point labeled by then, minus the labeled points: ``C_r = (U_{x in L_r} kNN(x)) \\ L_r``.

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
>>> ex.only_new = True; ex.menu().tolist()                      # the labels new at round 1
[2, 4]

In JupyterLab, displaying the explorer shows a round slider, a menu of the labeled images
(filtered by class when ``labels`` are given, or to the labels new at the round) and a
picture: the chosen image, its nearest neighbours framed by what they are (candidate or
labeled), and the candidate pool's size per round. Moving the slider keeps the chosen
image as long as it is labeled at that round and in the menu. Where no widget front end
runs (``DCAI_STATIC_WIDGETS=1`` or outside a kernel) it shows the same picture as a static
matplotlib figure.
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import check_bool, check_ids, check_images, check_int, check_labels, some
from dcai_lab.history import History
from dcai_lab.knn import KnnIndex
from dcai_lab.plotting import figure_png, image_tile
from dcai_lab.seals import CandidatePool
from dcai_lab.widgets._base import WidgetView

__all__ = ["NeighborsExplorer", "neighbors_explorer", "MAX_SHOWN"]

MAX_SHOWN = 50  # neighbours in the picture (rows of 10); more would be too small to read
ALL = -1        # the class menu's "all classes"


class NeighborsExplorer(WidgetView):
    """A labeled image's nearest neighbours and SEALS's candidate pool, round by round.

    Parameters
    ----------
    images : array (N, H, W) or (N, H, W, 3); row ``i`` is pool id ``i``.
    index : :class:`dcai_lab.knn.KnnIndex` over the pool's embeddings (``len(index) == N``).
    labeled_ids : distinct pool ids in the order they were labeled (``History.labeled_ids``).
    n_labeled : how many of them were labeled at the start of each round (``History.n_labeled``),
        non-decreasing; default: one round with all of them.
    k : SEALS's neighbours per labeled point (use the run's k); the candidate pool of round ``r`` is
        ``CandidatePool(index, k, labeled_ids[:n_labeled[r]])``, built incrementally.
    n_show : how many nearest neighbours of the chosen image to show, 1 to ``MAX_SHOWN`` (50);
        default ``min(k, 10)``.
    labels : optional class labels (N,), shown above each image; they enable the class filter.
    round, point : the round and the labeled pool id shown first (default: the last round, its first label).
    filter_class : list only the labeled images of this class in the menu (None: every class).
    only_new : list only the images first labeled at the round (the batch the round before selected;
        at round 0 the starting labels).

    ``round``, ``point``, ``filter_class`` and ``only_new`` can be set at any time; the view
    follows. When a change leaves the chosen image out of the menu, the menu's first image is
    chosen instead.
    """

    def __init__(self, images, index: KnnIndex, labeled_ids, n_labeled=None, k: int = 10, labels=None,
                 round: int | None = None, point: int | None = None, n_show: int | None = None,
                 filter_class=None, only_new: bool = False):
        if not isinstance(index, KnnIndex):
            raise ValueError(f"index must be a dcai_lab.knn.KnnIndex over the pool, got {type(index).__name__}")
        self.images = check_images(images)
        if len(self.images) != len(index):
            raise ValueError(f"images must hold one image per indexed point ({len(index)}), got {len(self.images)}")
        self.index = index
        self.order = check_ids(labeled_ids, len(index), "labeled_ids", unique=True, min_len=1)
        self.n_labeled = _check_counts(n_labeled, len(self.order))
        self.labels = None if labels is None else check_labels(labels, "labels", n=len(index))
        self.classes = [] if labels is None else np.unique(self.labels).tolist()
        pool = CandidatePool(index, k)
        self.k = pool.k
        most = min(MAX_SHOWN, len(index) - 1)
        self.n_show = check_int(min(self.k, 10, most) if n_show is None else n_show, "n_show", min=1, max=most,
                                hint=f" (at most {MAX_SHOWN}, and fewer than the {len(index)} indexed points)")
        self._candidates = []
        for n in self.n_labeled:
            pool.add_labeled(self.order[:n])
            self._candidates.append(pool.ids())
        self._round = self._check_round(len(self.n_labeled) - 1 if round is None else round)
        self._filter_class = self._check_class(filter_class)
        self._only_new = check_bool(only_new, "only_new")
        self._point = int(self.order[0])
        if point is None:
            self._follow_menu()
        else:
            self._point = self._check_point(point)

    # ------------------------------------------------------------------ state

    def _check_round(self, value) -> int:
        return check_int(value, "round", min=0, max=len(self.n_labeled) - 1, hint=" (rounds are numbered from 0)")

    def _check_point(self, value) -> int:
        value = check_int(value, "point", min=0, max=len(self.index) - 1)
        if value not in set(self.labeled().tolist()):
            raise ValueError(f"point must be a pool id labeled by round {self._round} (see .labeled()), got {value}")
        if value not in set(self.menu().tolist()):
            raise ValueError(f"point {value} is labeled but the menu's filter hides it (filter_class="
                             f"{self._filter_class!r}, only_new={self._only_new}); clear the filter first")
        return value

    def _check_class(self, value):
        if value is None:
            return None
        if self.labels is None:
            raise ValueError("filter_class needs labels: pass labels=... (one class label per image)")
        if isinstance(value, (bool, np.bool_)) or value not in self.classes:
            raise ValueError(f"filter_class must be one of the classes {some(self.classes)} or None, got {value!r}")
        return self.classes[self.classes.index(value)]

    def _follow_menu(self) -> None:
        """After a change of round or filter: keep the chosen image if the menu lists it, else take its first."""
        menu = self.menu()
        if self._point not in set(menu.tolist()):
            labeled = self._point in set(self.labeled().tolist())
            self._point = int(menu[0]) if len(menu) else (self._point if labeled else int(self.order[0]))

    @property
    def round(self) -> int:
        """The round on screen."""
        return self._round

    @round.setter
    def round(self, value) -> None:
        self._round = self._check_round(value)
        self._follow_menu()
        self._refresh()

    @property
    def point(self) -> int:
        """The labeled pool id whose neighbours are shown."""
        return self._point

    @point.setter
    def point(self, value) -> None:
        self._point = self._check_point(value)
        self._refresh()

    @property
    def filter_class(self):
        """The class the menu lists (None: every class)."""
        return self._filter_class

    @filter_class.setter
    def filter_class(self, value) -> None:
        self._filter_class = self._check_class(value)
        self._follow_menu()
        self._refresh()

    @property
    def only_new(self) -> bool:
        """True: the menu lists only the images first labeled at this round."""
        return self._only_new

    @only_new.setter
    def only_new(self, value) -> None:
        self._only_new = check_bool(value, "only_new")
        self._follow_menu()
        self._refresh()

    # ------------------------------------------------------------------ what is shown (no widgets needed)

    def labeled(self, round: int | None = None) -> np.ndarray:
        """Pool ids labeled at the start of a round, in the order they were labeled."""
        r = self._round if round is None else self._check_round(round)
        return self.order[:self.n_labeled[r]]

    def new_labels(self, round: int | None = None) -> np.ndarray:
        """Pool ids first labeled at the start of a round: the previous round's batch (round 0: the starting labels)."""
        r = self._round if round is None else self._check_round(round)
        return self.order[self.n_labeled[r - 1] if r else 0:self.n_labeled[r]]

    def menu(self, round: int | None = None) -> np.ndarray:
        """The labeled pool ids the menu lists at a round, after the filters, in the order they were labeled."""
        ids = self.new_labels(round) if self._only_new else self.labeled(round)
        return ids if self._filter_class is None else ids[self.labels[ids] == self._filter_class]

    def candidates(self, round: int | None = None) -> np.ndarray:
        """Sorted pool ids of the candidate pool at the start of a round."""
        return self._candidates[self._round if round is None else self._check_round(round)]

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
        n_cols = max(1, min(len(ids), 10))
        n_rows = max(1, -(-len(ids) // n_cols))
        fig = Figure(figsize=(0.8 * (n_cols + 1) + 4.2, 1.1 * n_rows + 1.0))
        grid = fig.add_gridspec(n_rows, n_cols + 4, width_ratios=[1.2, 0.3] + [1] * n_cols + [0.8, 5.5],
                                wspace=0.15, hspace=0.5, left=0.02, right=0.98, top=0.8, bottom=0.2)  # gap: y labels
        image_tile(fig.add_subplot(grid[0, 0]), self.images[self._point], self._title(self._point, f"#{self._point}"),
                   frame="tab:blue", width=3)
        for j, (i, s, p) in enumerate(zip(ids, sims, pool)):
            image_tile(fig.add_subplot(grid[j // n_cols, 2 + j % n_cols]), self.images[i], self._title(i, f"{s:.2f}"),
                       frame="tab:orange" if p else "tab:blue", width=2.5)
        ax = fig.add_subplot(grid[:, -1])
        rounds = np.arange(len(self.n_labeled))
        ax.plot(rounds, self.pool_sizes(), marker=".", color="tab:orange", label="candidates")
        ax.plot(rounds, self.n_labeled, marker=".", color="tab:blue", label="labeled")
        ax.axvline(self._round, color="0.6", lw=1, ls="--")
        ax.set_xlabel("round", fontsize=8)
        ax.set_ylabel("items", fontsize=8)
        ax.set_title(f"candidate pool (k = {self.k}) of {len(self.images):,}", fontsize=8, pad=2)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.suptitle(f"round {self._round}: labeled image #{self._point} (left) and its {len(ids)} nearest "
                     "neighbours, titled with cosine similarity; orange frame = candidate, blue = labeled",
                     fontsize=9)
        return fig

    def _title(self, pool_id: int, text: str) -> str:
        return text if self.labels is None else f"{self.labels[pool_id]}: {text}"

    # ------------------------------------------------------------------ the views

    def _show_static(self) -> None:
        from IPython.display import display

        print(self.summary())
        display(self.figure())

    def _build(self) -> dict:
        import ipywidgets as w

        classes = [("all classes", ALL)] + [(f"class {c}", j) for j, c in enumerate(self.classes)]
        ui: dict = {
            "round": w.IntSlider(value=self._round, min=0, max=len(self.n_labeled) - 1, description="round",
                                 continuous_update=False),
            "point": w.Dropdown(options=[], description="labeled"),
            "class": w.Dropdown(options=classes, description="class", disabled=self.labels is None),
            "only_new": w.Checkbox(description="only the labels new at this round", indent=False),
            "image": w.Image(format="png"),
            "status": w.HTML(),
        }
        self._link(ui["round"], "round")
        self._link(ui["point"], "point")
        self._link(ui["class"], "filter_class", lambda j: None if j == ALL else self.classes[j])
        self._link(ui["only_new"], "only_new")
        ui["box"] = w.VBox([w.HBox([ui["round"], ui["point"]]), w.HBox([ui["class"], ui["only_new"]]),
                            ui["status"], ui["image"]])
        ui["box"].add_class("dcai-neighbors-explorer")
        ui["point"].add_class("dcai-point-menu")
        ui["class"].add_class("dcai-class-menu")
        return ui

    def _show_state(self, ui: dict) -> None:
        ui["round"].value = self._round
        ui["class"].value = ALL if self._filter_class is None else self.classes.index(self._filter_class)
        ui["only_new"].value = self._only_new
        menu = self.menu()
        options = [(f"#{i}" + ("" if self.labels is None else f" ({self.labels[i]})"), int(i)) for i in menu]
        if [v for _, v in ui["point"].options] != [v for _, v in options]:
            ui["point"].options = options  # selects the first option: the links are not listening
        ui["point"].value = self._point if self._point in set(menu.tolist()) else None
        ui["point"].description = f"labeled ({len(menu)})"
        ui["status"].value = self.summary()
        ui["image"].value = figure_png(self.figure())


def _check_counts(n_labeled, n_ids: int) -> list[int]:
    """``n_labeled``: one count per round, non-decreasing, each in 1..n_ids (None: one round, all ids)."""
    if n_labeled is None:
        return [n_ids]
    if np.ndim(n_labeled) != 1 or len(n_labeled) == 0:
        raise ValueError(f"n_labeled must be a list of counts, one per round, got {n_labeled!r}")
    counts = [check_int(n, f"n_labeled[{r}]", min=1, max=n_ids, hint=f" (labeled_ids holds {n_ids})")
              for r, n in enumerate(n_labeled)]
    if np.any(np.diff(counts) < 0):
        raise ValueError(f"n_labeled must be non-decreasing counts in 1..{n_ids} (one per round), got {counts}")
    return counts


def neighbors_explorer(images, index: KnnIndex, history=None, *, labeled_ids=None, n_labeled=None, k: int = 10,
                       labels=None, round: int | None = None, point: int | None = None, n_show: int | None = None,
                       filter_class=None, only_new: bool = False) -> NeighborsExplorer:
    """Explore a SEALS run (notebook 02, section 11); display the result in a notebook.

    Give a ``history`` (from :func:`dcai_lab.seals.run_seals`: its ``labeled_ids`` and
    ``n_labeled``) or ``labeled_ids`` (and optionally ``n_labeled``) yourself. The other
    parameters are those of :class:`NeighborsExplorer`.
    """
    if history is not None:
        if not isinstance(history, History):
            raise ValueError(f"history must be the History of run_seals, got {type(history).__name__}")
        if labeled_ids is not None or n_labeled is not None:
            raise ValueError("give either history, or labeled_ids (and n_labeled), not both")
        labeled_ids, n_labeled = history.labeled_ids, history.n_labeled
    elif labeled_ids is None:
        raise ValueError("give a history (from run_seals) or labeled_ids")
    return NeighborsExplorer(images, index, labeled_ids, n_labeled=n_labeled, k=k, labels=labels, round=round,
                             point=point, n_show=n_show, filter_class=filter_class, only_new=only_new)
