"""Explore a model's uncertainty over the pool, round by round of active learning (notebook 01, section 6).

Each round the model scores every unlabeled item, e.g. with entropy
``H(p) = -sum_c p_c log p_c``; the explorer shows that score's histogram over the pool and
the ``k`` most uncertain images with the model's class probabilities, next to what the
strategy picked.

>>> import numpy as np
>>> from dcai_lab.history import History
>>> h = History("entropy", 0, np.arange(2), n_labeled=[2, 3], accuracy=[0.5, 0.75],
...             selected=[np.array([3]), np.array([], dtype=int)],
...             scored_ids=[np.array([1, 3, 4]), np.array([1, 4])],
...             probs=[np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3]]), np.array([[0.6, 0.4], [0.8, 0.2]])])
>>> ex = uncertainty_explorer(h, np.zeros((5, 8, 8), np.uint8), k=2)
>>> ex.most_uncertain().tolist()          # pool ids, most uncertain first
[3, 4]
>>> print(ex.summary())
round 0: 2 labels, test accuracy 0.500; 3 unlabeled items scored, entropy median 0.611, max 0.693; the strategy picked 1 (1 of them among the 2 most uncertain)
>>> ex.round = 1; ex.most_uncertain().tolist()
[1, 4]
>>> uncertainty_explorer(h, np.zeros((5, 8, 8), np.uint8), k=30).k     # capped at the 3 items scored
3

In JupyterLab, displaying the explorer shows a round slider and a score menu above a
picture of that round. Where no widget front end runs (``DCAI_STATIC_WIDGETS=1``, set where
notebook outputs are stored or compared, or outside a kernel) it shows the same picture as
a static matplotlib figure.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import numpy as np

from dcai_lab._checks import check_choice, check_images, check_int, check_labels
from dcai_lab.history import History
from dcai_lab.plotting import figure_png, image_tile
from dcai_lab.strategies import top_scoring
from dcai_lab.uncertainty import SCORES
from dcai_lab.widgets._base import WidgetView, check_each

__all__ = ["UncertaintyExplorer", "uncertainty_explorer", "MAX_K"]

MAX_K = 30  # images side by side in one row of the picture; more would be too small to read


class UncertaintyExplorer(WidgetView):
    """The pool's uncertainty in each round of an active learning run.

    Parameters
    ----------
    history : :class:`dcai_lab.history.History` from ``run_active_learning(..., keep_scores=True)``.
    images : array (N, H, W) or (N, H, W, 3), the pool's images (row ``i`` = pool id ``i``).
    score : ``"entropy"``, ``"margin"`` or ``"least_confidence"`` (see :mod:`dcai_lab.uncertainty`).
    k : how many of the most uncertain images to show, 1 to ``MAX_K`` (30); capped at the
        largest number of items scored in a round.
    round : the round shown first.
    labels : optional true labels of the pool (N,), shown above each image.
    class_names : optional names of ``history.classes``, for the probability bars.
    static_rounds : the rounds the static figure shows (default: the current one).

    Attributes ``round`` and ``score`` can be set at any time; the view follows.
    """

    def __init__(self, history, images, score: str = "entropy", k: int = 8, round: int = 0, labels=None,
                 class_names: Sequence[str] | None = None, static_rounds: Sequence[int] | None = None):
        self.history = _check_history(history)
        self.images = check_images(images)
        largest = max((int(ids.max()) for ids in history.scored_ids if len(ids)), default=-1)
        if largest >= len(self.images):
            raise ValueError(f"images: the history scored pool id {largest} but there are only {len(self.images)} "
                             "images; pass the images of the whole pool, row i = pool id i")
        self.labels = None if labels is None else check_labels(labels, "labels", n=len(self.images))
        k = check_int(k, "k", min=1, max=MAX_K, hint=f" (the picture shows at most {MAX_K} images in a row)")
        self.k = min(k, max(1, max(len(ids) for ids in history.scored_ids)))
        n_classes = len(history.classes)
        if class_names is not None and (isinstance(class_names, str) or len(class_names) != n_classes):
            raise ValueError(f"class_names must be a list naming the {n_classes} classes of the history, "
                             f"got {class_names!r}")
        self.class_names = [str(c) for c in (history.classes if class_names is None else class_names)]
        self._score = check_choice(score, "score", tuple(SCORES))
        self._round = self._check_round(round)
        self.static_rounds = None if static_rounds is None else check_each(static_rounds, "static_rounds",
                                                                           self._check_round)

    # ------------------------------------------------------------------ state

    def _check_round(self, value, name: str = "round") -> int:
        return check_int(value, name, min=0, max=len(self.history) - 1, hint=" (rounds are numbered from 0)")

    @property
    def round(self) -> int:
        """The round on screen."""
        return self._round

    @round.setter
    def round(self, value) -> None:
        self._round = self._check_round(value)
        self._refresh()

    @property
    def score(self) -> str:
        """The uncertainty score on screen."""
        return self._score

    @score.setter
    def score(self, value) -> None:
        self._score = check_choice(value, "score", tuple(SCORES))
        self._refresh()

    # ------------------------------------------------------------------ what is shown (no widgets needed)

    def scores(self, round: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(pool_ids, scores)``: every item the model scored in a round and its uncertainty."""
        r = self._round if round is None else self._check_round(round)
        ids = np.asarray(self.history.scored_ids[r], dtype=np.int64)
        probs = np.asarray(self.history.probs[r], dtype=np.float64)
        probs = probs / probs.sum(axis=1, keepdims=True)  # stored as float32: renormalize
        return ids, SCORES[self._score](probs)

    def most_uncertain(self, round: int | None = None) -> np.ndarray:
        """The ``k`` pool ids with the largest score in a round, most uncertain first; ties by lowest id."""
        ids, scores = self.scores(round)
        return top_scoring(scores, ids, min(self.k, len(ids))) if len(ids) else ids

    def probs_of(self, pool_id: int, round: int | None = None) -> np.ndarray:
        """The model's class probabilities for one pool id in a round."""
        r = self._round if round is None else self._check_round(round)
        pool_id = check_int(pool_id, "pool_id", min=0, max=len(self.images) - 1)
        where = np.flatnonzero(np.asarray(self.history.scored_ids[r]) == pool_id)
        if len(where) == 0:
            raise ValueError(f"pool_id {pool_id} was not scored in round {r} (it is labeled, or not a candidate)")
        return np.asarray(self.history.probs[r][where[0]], dtype=np.float64)

    def summary(self, round: int | None = None) -> str:
        """One line about a round: labels, accuracy, the score distribution and what the strategy picked."""
        r = self._round if round is None else self._check_round(round)
        h = self.history
        ids, scores = self.scores(r)
        line = f"round {r}: {h.n_labeled[r]} labels, test accuracy {h.accuracy[r]:.3f}; "
        if len(ids) == 0:
            return line + "nothing left to score"
        line += (f"{len(ids)} unlabeled items scored, {self._score} median {np.median(scores):.3f}, "
                 f"max {scores.max():.3f}; ")
        picked = np.asarray(h.selected[r])
        if len(picked) == 0:
            return line + "the last round selects nothing"
        among = int(np.isin(picked, self.most_uncertain(r)).sum())
        return line + (f"the strategy picked {len(picked)} ({among} of them among the {min(self.k, len(ids))} "
                       f"most uncertain)")

    # ------------------------------------------------------------------ the picture

    def figure(self, rounds: Sequence[int] | None = None):
        """A matplotlib Figure: per round, the score histogram and the ``k`` most uncertain images.

        Under each image a bar chart shows the predicted class probabilities (the
        likeliest class in orange); its title gives the pool id, the score and, when
        ``labels`` were given, the true class. Images the strategy picked in that
        round get a green frame.
        """
        from matplotlib.figure import Figure

        rounds = [self._round] if rounds is None else check_each(rounds, "rounds", self._check_round)
        k = self.k
        width = 3.6 + 0.95 * k
        truth = " (true class)" if self.labels is not None else ""
        caption = textwrap.wrap(
            f"Left: {self._score} over the unlabeled pool (red line: the lowest score shown on the right). "
            f"Right: the {k} most uncertain, titled #pool id{truth} and score; green frame = picked this round. "
            f"Under each: the predicted class probabilities, titled likeliest class: its probability "
            f"(bars scaled to at least 0.3).",
            width=int(14 * width))
        height = 2.5 * len(rounds) + 0.3 + 0.15 * len(caption)
        fig = Figure(figsize=(width, height))
        outer = fig.add_gridspec(len(rounds), 1, hspace=0.45, left=0.05, right=0.99,
                                 top=1 - (0.3 + 0.15 * len(caption)) / height, bottom=0.4 / height)
        for row, r in enumerate(rounds):
            grid = outer[row].subgridspec(2, k + 2, width_ratios=[3.6, 0.3] + [1] * k, height_ratios=[1.1, 0.8],
                                          wspace=0.12, hspace=0.55)
            self._draw_round(fig, grid, r)
        fig.suptitle("\n".join(caption), fontsize=8, y=1 - 0.06 / height, va="top")
        return fig

    def _draw_round(self, fig, grid, r: int) -> None:
        """One round's row: the histogram in ``grid[:, 0]``, then the images over their probability bars."""
        ids, scores = self.scores(r)
        top = self.most_uncertain(r)
        picked = set(np.asarray(self.history.selected[r]).tolist())
        ax = fig.add_subplot(grid[:, 0])
        ax.hist(scores, bins=30, color="tab:blue", alpha=0.8)
        if len(top):
            ax.axvline(scores[np.isin(ids, top)].min(), color="tab:red", lw=1.2)
        ax.set_title(f"round {r}: {self.history.n_labeled[r]} labels, accuracy {self.history.accuracy[r]:.3f}",
                     fontsize=8, pad=3)
        ax.set_xlabel(f"{self._score} of the {len(ids)} unlabeled", fontsize=7, labelpad=1)
        ax.set_ylabel("items", fontsize=7, labelpad=1)
        ax.tick_params(labelsize=7)
        for i in range(self.k):
            image_ax, bar_ax = fig.add_subplot(grid[0, 2 + i]), fig.add_subplot(grid[1, 2 + i])
            if i >= len(top):
                image_ax.axis("off")
                bar_ax.axis("off")
                continue
            pool_id = int(top[i])
            truth = "" if self.labels is None else f" ({self.labels[pool_id]})"
            score = scores[np.flatnonzero(ids == pool_id)[0]]
            chosen = pool_id in picked
            image_tile(image_ax, self.images[pool_id], f"#{pool_id}{truth}\n{score:.2f}",
                       frame="tab:green" if chosen else "0.75", width=2.5 if chosen else 1)
            self._draw_probs(bar_ax, self.probs_of(pool_id, r), first=i == 0)

    def _draw_probs(self, ax, p: np.ndarray, first: bool = False) -> None:
        """The bar chart of one item's class probabilities, the likeliest class in orange; the first has a y axis."""
        n_classes, best = len(self.class_names), int(np.argmax(p))
        ax.bar(np.arange(n_classes), p, color=["tab:orange" if c == best else "tab:blue" for c in range(n_classes)],
               width=0.8)
        ax.set_ylim(0, max(0.3, 1.1 * p.max()))
        ax.set_xlim(-0.6, n_classes - 0.4)
        if first:
            top = ax.get_ylim()[1]
            ax.set_yticks([0, top], ["0", f"{top:.2f}"], fontsize=5)
            ax.set_ylabel("p(class)", fontsize=6, labelpad=1)
        else:
            ax.set_yticks([])
        ax.set_title(f"{self.class_names[best]}: {p[best]:.2f}", fontsize=7, pad=2)
        if n_classes <= 10:
            ax.set_xticks(np.arange(n_classes), self.class_names, fontsize=5)
            ax.tick_params(length=0, pad=1)
        else:
            ax.set_xticks([])

    # ------------------------------------------------------------------ the views

    def _show_static(self) -> None:
        from IPython.display import display

        rounds = self.static_rounds or [self._round]
        print("\n".join(self.summary(r) for r in rounds))
        display(self.figure(rounds))

    def _build(self) -> dict:
        import ipywidgets as w

        ui: dict = {
            "round": w.IntSlider(value=self._round, min=0, max=len(self.history) - 1, description="round",
                                 continuous_update=False),
            "score": w.Dropdown(options=list(SCORES), value=self._score, description="score"),
            "image": w.Image(format="png"),
            "status": w.HTML(),
        }
        self._link(ui["round"], "round")
        self._link(ui["score"], "score")
        ui["box"] = w.VBox([w.HBox([ui["round"], ui["score"]]), ui["status"], ui["image"]])
        ui["box"].add_class("dcai-uncertainty-explorer")
        return ui

    def _show_state(self, ui: dict) -> None:
        ui["round"].value, ui["score"].value = self._round, self._score
        ui["status"].value = self.summary()
        ui["image"].value = figure_png(self.figure())


def _check_history(history) -> History:
    """A History with class probabilities for every round, one row per scored id."""
    if not isinstance(history, History):
        raise ValueError(f"history must be the History of run_active_learning(..., keep_scores=True), "
                         f"got {type(history).__name__}")
    if len(history) == 0 or len(history.probs) != len(history) or len(history.scored_ids) != len(history):
        raise ValueError("history holds no class probabilities; run "
                         "run_active_learning(..., keep_scores=True) to keep them for the explorer")
    for r, (ids, probs) in enumerate(zip(history.scored_ids, history.probs)):
        if np.shape(probs) != (len(ids), len(history.classes)):
            raise ValueError(f"history.probs[{r}] must have one row per scored id ({len(ids)}) and one column per "
                             f"class ({len(history.classes)}), got shape {np.shape(probs)}")
    return history


def uncertainty_explorer(history, images, score: str = "entropy", k: int = 8, round: int = 0, labels=None,
                         class_names: Sequence[str] | None = None,
                         static_rounds: Sequence[int] | None = None) -> UncertaintyExplorer:
    """Explore the pool's uncertainty round by round (notebook 01, section 6); display the result in a notebook.

    ``history`` comes from ``run_active_learning(..., keep_scores=True)``; the other
    parameters are those of :class:`UncertaintyExplorer` (``k`` at most ``MAX_K`` = 30).
    """
    return UncertaintyExplorer(history, images, score=score, k=k, round=round, labels=labels,
                               class_names=class_names, static_rounds=static_rounds)
