"""Explore a model's uncertainty over the pool, round by round of active learning.

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

In JupyterLab, displaying the explorer shows a round slider and a score menu above a
picture of that round: the histogram of the pool's uncertainty scores and the ``k`` most
uncertain images, each with the model's predicted class probabilities. Where no widget
front end runs (``DCAI_STATIC_WIDGETS=1``, set where notebook outputs are stored or
compared, or outside a kernel) it shows the same picture as a static matplotlib figure.
"""

from __future__ import annotations

import numbers
import textwrap
from typing import Sequence

import numpy as np

from dcai_lab.uncertainty import entropy, least_confidence, margin
from dcai_lab.plotting import figure_png, image_tile
from dcai_lab.widgets._base import WidgetView

__all__ = ["UncertaintyExplorer", "uncertainty_explorer"]

SCORES = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}


class UncertaintyExplorer(WidgetView):
    """The pool's uncertainty in each round of an active learning run.

    Parameters
    ----------
    history : :class:`dcai_lab.history.History` from ``run_active_learning(..., keep_scores=True)``.
    images : array (N, H, W) or (N, H, W, 3), the pool's images (row ``i`` = pool id ``i``).
    score : ``"entropy"``, ``"margin"`` or ``"least_confidence"`` (see :mod:`dcai_lab.uncertainty`).
    k : how many of the most uncertain images to show.
    round : the round shown first.
    labels : optional true labels of the pool (N,), shown above each image.
    class_names : optional names of ``history.classes``, for the probability bars.
    static_rounds : the rounds the static figure shows (default: the current one).

    Attributes ``round`` and ``score`` can be set at any time; the view follows.
    """

    def __init__(self, history, images, score: str = "entropy", k: int = 8, round: int = 0, labels=None,
                 class_names: Sequence[str] | None = None, static_rounds: Sequence[int] | None = None):
        if not getattr(history, "probs", None) or len(history.probs) != len(history):
            raise ValueError("the history holds no class probabilities; run "
                             "run_active_learning(..., keep_scores=True) to keep them for the explorer")
        images = np.asarray(images)
        if images.ndim not in (3, 4):
            raise ValueError(f"images must be an (N, H, W) or (N, H, W, 3) array, got shape {images.shape}")
        largest = max(int(ids.max()) for ids in history.scored_ids if len(ids))
        if largest >= len(images):
            raise ValueError(f"the history scored pool id {largest} but there are only {len(images)} images; "
                             "pass the images of the whole pool, row i = pool id i")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"labels must have one entry per image ({len(images)}), got {len(labels)}")
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        n_classes = len(history.classes)
        if class_names is not None and len(class_names) != n_classes:
            raise ValueError(f"class_names must name the {n_classes} classes of the history, got {len(class_names)}")
        self.history, self.images, self.k = history, images, int(k)
        self.labels = None if labels is None else np.asarray(labels)
        self.class_names = [str(c) for c in (history.classes if class_names is None else class_names)]
        self._score = self._valid_score(score)
        self._round = self._valid_round(round)
        self.static_rounds = [self._valid_round(r) for r in static_rounds] if static_rounds else None
        self._ui = None

    # ------------------------------------------------------------------ state

    def _valid_round(self, value) -> int:
        n = len(self.history)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value < n:
            raise ValueError(f"round must be an integer in 0..{n - 1}, got {value!r}")
        return int(value)

    @staticmethod
    def _valid_score(value) -> str:
        if value not in SCORES:
            raise ValueError(f"score must be one of {', '.join(SCORES)}, got {value!r}")
        return value

    @property
    def round(self) -> int:
        """The round on screen."""
        return self._round

    @round.setter
    def round(self, value) -> None:
        self._round = self._valid_round(value)
        self._refresh()

    @property
    def score(self) -> str:
        """The uncertainty score on screen."""
        return self._score

    @score.setter
    def score(self, value) -> None:
        self._score = self._valid_score(value)
        self._refresh()

    # ------------------------------------------------------------------ what is shown (no widgets needed)

    def scores(self, round: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(pool_ids, scores)``: every item the model scored in a round and its uncertainty."""
        r = self._round if round is None else self._valid_round(round)
        ids = np.asarray(self.history.scored_ids[r])
        probs = np.asarray(self.history.probs[r], dtype=np.float64)
        probs = probs / probs.sum(axis=1, keepdims=True)  # stored as float32: renormalize
        return ids, SCORES[self._score](probs)

    def most_uncertain(self, round: int | None = None) -> np.ndarray:
        """The ``k`` pool ids with the largest score in a round, most uncertain first; ties by lowest id."""
        from dcai_lab.strategies import top_scoring

        ids, scores = self.scores(round)
        return top_scoring(scores, ids, min(self.k, len(ids)))

    def probs_of(self, pool_id: int, round: int | None = None) -> np.ndarray:
        """The model's class probabilities for one pool id in a round."""
        r = self._round if round is None else self._valid_round(round)
        ids = np.asarray(self.history.scored_ids[r])
        where = np.flatnonzero(ids == pool_id)
        if len(where) == 0:
            raise ValueError(f"pool id {pool_id} was not scored in round {r} (it is labeled, or not a candidate)")
        return np.asarray(self.history.probs[r][where[0]], dtype=np.float64)

    def summary(self, round: int | None = None) -> str:
        """One line about a round: labels, accuracy, the score distribution and what the strategy picked."""
        r = self._round if round is None else self._valid_round(round)
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

        rounds = [self._round] if rounds is None else [self._valid_round(r) for r in rounds]
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
        cmap = None if self.images.ndim == 4 else "gray_r"
        n_classes = len(self.class_names)
        for row, r in enumerate(rounds):
            grid = outer[row].subgridspec(2, k + 2, width_ratios=[3.6, 0.3] + [1] * k, height_ratios=[1.1, 0.8],
                                          wspace=0.12, hspace=0.55)
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
            ax.tick_params(labelsize=7)
            for i in range(k):
                image_ax = fig.add_subplot(grid[0, 2 + i])
                bar_ax = fig.add_subplot(grid[1, 2 + i])
                for a in (image_ax, bar_ax):
                    a.set_xticks([])
                    a.set_yticks([])
                if i >= len(top):
                    image_ax.axis("off")
                    bar_ax.axis("off")
                    continue
                pool_id = int(top[i])
                image_ax.imshow(self.images[pool_id], cmap=cmap)
                chosen = pool_id in picked
                for spine in image_ax.spines.values():
                    spine.set_color("tab:green" if chosen else "0.75")
                    spine.set_linewidth(2.5 if chosen else 1)
                truth = "" if self.labels is None else f" ({self.labels[pool_id]})"
                score = scores[np.flatnonzero(ids == pool_id)[0]]
                image_ax.set_title(f"#{pool_id}{truth}\n{score:.2f}", fontsize=7, pad=2)
                p = self.probs_of(pool_id, r)
                best = int(np.argmax(p))
                colors = ["tab:orange" if c == best else "tab:blue" for c in range(n_classes)]
                bar_ax.bar(np.arange(n_classes), p, color=colors, width=0.8)
                bar_ax.set_ylim(0, max(0.3, 1.1 * p.max()))
                bar_ax.set_xlim(-0.6, n_classes - 0.4)
                bar_ax.set_title(f"{self.class_names[best]}: {p[best]:.2f}", fontsize=7, pad=2)
                if n_classes <= 10:
                    bar_ax.set_xticks(np.arange(n_classes), self.class_names, fontsize=5)
                    bar_ax.tick_params(length=0, pad=1)
        fig.suptitle("\n".join(caption), fontsize=8, y=1 - 0.06 / height, va="top")
        return fig

    def _png(self) -> bytes:
        return figure_png(self.figure())

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
        ui["round"].observe(lambda change: setattr(self, "round", change["new"]), names="value")
        ui["score"].observe(lambda change: setattr(self, "score", change["new"]), names="value")
        ui["box"] = w.VBox([w.HBox([ui["round"], ui["score"]]), ui["status"], ui["image"]])
        ui["box"].add_class("dcai-uncertainty-explorer")
        return ui

    def _refresh(self) -> None:
        if self._ui is None:
            return
        ui = self._ui
        # keep the controls in step when the state was set from code
        ui["round"].value, ui["score"].value = self._round, self._score
        ui["status"].value = self.summary()
        ui["image"].value = self._png()


def uncertainty_explorer(history, images, score: str = "entropy", k: int = 8, round: int = 0, labels=None,
                         class_names: Sequence[str] | None = None,
                         static_rounds: Sequence[int] | None = None) -> UncertaintyExplorer:
    """Explore the pool's uncertainty round by round; display the result in a notebook.

    ``history`` comes from ``run_active_learning(..., keep_scores=True)``; the other
    parameters are those of :class:`UncertaintyExplorer`.
    """
    return UncertaintyExplorer(history, images, score=score, k=k, round=round, labels=labels,
                               class_names=class_names, static_rounds=static_rounds)
