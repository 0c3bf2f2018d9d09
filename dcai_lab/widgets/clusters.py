"""Explore the clusters behind the prototype pruning metric: easiest and hardest members, and where pruning cuts.

Notebook 03, section 5. An example's prototype score is its cosine distance to the nearest
k-means centroid, ``d_i = 1 - max_j cos(x_i, c_j)``; pruning keeps a fraction of *all*
examples from the hard (far) or easy (near) end, so some clusters lose more than others.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> images = rng.integers(0, 256, (6, 8, 8), dtype=np.uint8)
>>> ex = cluster_explorer(images, scores=[0.1, 0.5, 0.3, 0.2, 0.9, 0.4], clusters=[0, 0, 0, 1, 1, 1],
...                       keep_fraction=0.5, n_show=2)
>>> ex.members(0).tolist()              # cluster 0, nearest to its centroid first
[0, 2, 1]
>>> print(ex.summary())
cluster 0: 3 examples, distance to the centroid 0.100 to 0.500 (median 0.300); keeping the hard 50% of all 6 examples (distance >= 0.400) keeps 1 of them (33%)
>>> ex.keep_fraction = 1.0; ex.cluster = 1; ex.kept_in_cluster()
3

In JupyterLab, displaying the explorer shows a cluster menu, a keep-fraction slider and
a hard / easy switch above a picture of the chosen cluster: its easiest and hardest
images (by distance to the centroid) and a histogram of the distances with the cut.
Where no widget front end runs (``DCAI_STATIC_WIDGETS=1``, set where notebook outputs
are stored or compared, or outside a kernel) it shows the same picture as a static
matplotlib figure instead.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dcai_lab._checks import check_choice, check_fraction, check_images, check_int, check_labels, check_vector
from dcai_lab.plotting import figure_png, image_tile
from dcai_lab.pruning import KEEP, prototype_scores, select
from dcai_lab.widgets._base import WidgetView, check_each

__all__ = ["ClusterExplorer", "cluster_explorer", "MAX_SHOWN"]

MAX_SHOWN = 15  # easiest and hardest images per row (2 x 15 side by side); more would be too small to read


class ClusterExplorer(WidgetView):
    """The clusters of a prototype pruning metric, one at a time.

    Parameters
    ----------
    images : array (N, H, W) or (N, H, W, 3), uint8 (or float in [0, 1]).
    scores : array (N,), every example's distance to its cluster's centroid (larger = harder).
    clusters : int array (N,), every example's cluster, ``0 .. n_clusters - 1``.
    keep_fraction : the fraction of *all* examples pruning keeps, in (0, 1].
    keep : ``"hard"`` (keep the largest distances) or ``"easy"``.
    cluster : the cluster shown first.
    n_show : how many of the easiest and of the hardest images to show, 1 to ``MAX_SHOWN`` (15).
    labels : optional class labels (N,), shown above each image.
    static_clusters : the clusters the static figure shows (default: the current one).

    Attributes ``cluster``, ``keep_fraction`` and ``keep`` can be set at any time; the view follows.
    """

    def __init__(self, images, scores, clusters, keep_fraction: float = 0.5, keep: str = "hard",
                 cluster: int = 0, n_show: int = 8, labels=None, static_clusters: Sequence[int] | None = None):
        self.images = check_images(images)
        n = len(self.images)
        self.scores = check_vector(scores, "scores", n=n)
        self.clusters = _check_clusters(clusters, n)
        self.n_clusters = int(self.clusters.max()) + 1
        self.labels = None if labels is None else check_labels(labels, "labels", n=n)
        self.n_show = check_int(n_show, "n_show", min=1, max=MAX_SHOWN,
                                hint=f" (the picture shows at most {MAX_SHOWN} easiest and hardest images)")
        self._keep_fraction = check_fraction(keep_fraction, "keep_fraction")
        self._keep = check_choice(keep, "keep", KEEP)
        self._cluster = self._check_cluster(cluster)
        self.static_clusters = None if static_clusters is None else check_each(static_clusters, "static_clusters",
                                                                               self._check_cluster)

    # ------------------------------------------------------------------ state

    def _check_cluster(self, value, name: str = "cluster") -> int:
        return check_int(value, name, min=0, max=self.n_clusters - 1)

    @property
    def cluster(self) -> int:
        """The cluster on screen."""
        return self._cluster

    @cluster.setter
    def cluster(self, value) -> None:
        self._cluster = self._check_cluster(value)
        self._refresh()

    @property
    def keep_fraction(self) -> float:
        """The fraction of all examples that pruning keeps."""
        return self._keep_fraction

    @keep_fraction.setter
    def keep_fraction(self, value) -> None:
        self._keep_fraction = check_fraction(value, "keep_fraction")
        self._refresh()

    @property
    def keep(self) -> str:
        """``"hard"`` or ``"easy"``: which end of the scores pruning keeps."""
        return self._keep

    @keep.setter
    def keep(self, value) -> None:
        self._keep = check_choice(value, "keep", KEEP)
        self._refresh()

    # ------------------------------------------------------------------ what is shown (no widgets needed)

    def members(self, cluster: int | None = None) -> np.ndarray:
        """The examples of a cluster, nearest to its centroid (easiest) first; ties by index."""
        c = self._cluster if cluster is None else self._check_cluster(cluster)
        idx = np.flatnonzero(self.clusters == c)
        return idx[np.lexsort((idx, self.scores[idx]))]

    def kept(self) -> np.ndarray:
        """Boolean mask (N,): the examples :func:`dcai_lab.pruning.select` keeps at the current settings."""
        mask = np.zeros(len(self.scores), dtype=bool)
        mask[select(self.scores, self._keep_fraction, keep=self._keep)] = True
        return mask

    def cut(self) -> float | None:
        """The distance where pruning cuts (the smallest kept score when keeping hard, the largest when easy)."""
        kept = self.scores[self.kept()]
        if len(kept) == 0:
            return None
        return float(kept.min() if self._keep == "hard" else kept.max())

    def kept_in_cluster(self, cluster: int | None = None) -> int:
        """How many examples of a cluster pruning keeps."""
        return int(self.kept()[self.members(cluster)].sum())

    def summary(self, cluster: int | None = None) -> str:
        """One line about a cluster: its size, its distances and how much of it pruning keeps."""
        c = self._cluster if cluster is None else self._check_cluster(cluster)
        members = self.members(c)
        if len(members) == 0:
            return f"cluster {c}: empty"
        d = self.scores[members]
        kept, cut = self.kept_in_cluster(c), self.cut()
        where = "" if cut is None else f" (distance {'>=' if self._keep == 'hard' else '<='} {cut:.3f})"
        return (f"cluster {c}: {len(members)} examples, distance to the centroid {d.min():.3f} to {d.max():.3f} "
                f"(median {np.median(d):.3f}); keeping the {self._keep} {self._keep_fraction:.0%} of all "
                f"{len(self.scores)} examples{where} keeps {kept} of them ({kept / len(members):.0%})")

    # ------------------------------------------------------------------ the picture

    def figure(self, clusters: Sequence[int] | None = None):
        """A matplotlib Figure: per cluster, a row of its easiest and hardest images and a histogram of distances.

        Images are titled with their distance (and label, when given); kept images get a
        green frame, pruned ones a grey one. The histogram marks the cut and shades the kept side.
        """
        from matplotlib.figure import Figure

        clusters = [self._cluster] if clusters is None else check_each(clusters, "clusters", self._check_cluster)
        k = self.n_show
        height = 1.45 * len(clusters) + 0.55
        fig = Figure(figsize=(0.75 * (2 * k) + 3.6, height))
        grid = fig.add_gridspec(len(clusters), 2 * k + 2, width_ratios=[1] * k + [0.3] + [1] * k + [4.5],
                                wspace=0.15, hspace=0.45 / 1.45 * 2, left=0.02, right=0.975,
                                top=1 - 0.6 / height, bottom=0.4 / height)  # easiest | gap | hardest | histogram
        kept = self.kept()
        for row, c in enumerate(clusters):
            members = self.members(c)
            for block, offset in ((members[:k], 0), (members[::-1][:k][::-1], k + 1)):  # easiest, hardest
                for i in range(k):
                    ax = fig.add_subplot(grid[row, offset + i])
                    if i >= len(block):
                        ax.axis("off")
                        continue
                    idx = block[i]
                    label = "" if self.labels is None else f"{self.labels[idx]}: "
                    image_tile(ax, self.images[idx], f"{label}{self.scores[idx]:.2f}",
                               frame="tab:green" if kept[idx] else "0.75", width=2.5 if kept[idx] else 1)
                    if i == 0 and offset == 0:
                        ax.set_ylabel(f"cluster {c}", fontsize=8)
            self._draw_histogram(fig.add_subplot(grid[row, -1]), c, members, last=row == len(clusters) - 1)
        what = "label: distance" if self.labels is not None else "distance"
        fig.suptitle(f"left: the {k} easiest (nearest the centroid), right: the {k} hardest; titles {what}.  "
                     f"Keeping the {self._keep} {self._keep_fraction:.0%}: red line = the cut, green = kept",
                     fontsize=9, y=1 - 0.12 / height)
        return fig

    def _draw_histogram(self, ax, c: int, members: np.ndarray, last: bool) -> None:
        """The distances of one cluster's members, with the cut and the kept side shaded."""
        from matplotlib.ticker import MaxNLocator

        bins = np.linspace(self.scores.min(), self.scores.max(), 31)
        ax.hist(self.scores[members], bins=bins, color="tab:blue", alpha=0.8)
        cut = self.cut()
        if cut is not None and self._keep_fraction < 1:
            ax.axvline(cut, color="tab:red", lw=1.5)
            lo, hi = (cut, bins[-1]) if self._keep == "hard" else (bins[0], cut)
            ax.axvspan(lo, hi, color="tab:green", alpha=0.12)
        ax.set_title(f"cluster {c}: keeps {self.kept_in_cluster(c)} of {len(members)}", fontsize=8, pad=2)
        ax.tick_params(labelsize=7)
        ax.yaxis.tick_right()                  # the left side touches the hardest images
        ax.yaxis.set_major_locator(MaxNLocator(3, integer=True))
        ax.yaxis.set_label_position("right")
        ax.set_ylabel("examples", fontsize=7, labelpad=2)
        if last:
            ax.set_xlabel("distance to centroid", fontsize=8)

    # ------------------------------------------------------------------ the views

    def _show_static(self) -> None:
        from IPython.display import display

        clusters = self.static_clusters or [self._cluster]
        print("\n".join(self.summary(c) for c in clusters))
        display(self.figure(clusters))

    def _build(self) -> dict:
        import ipywidgets as w

        sizes = np.bincount(self.clusters, minlength=self.n_clusters)
        ui: dict = {
            "cluster": w.Dropdown(options=[(f"cluster {c} ({sizes[c]} examples)", c) for c in range(self.n_clusters)],
                                  value=self._cluster, description="cluster"),
            "fraction": w.FloatSlider(value=self._keep_fraction, min=0.05, max=1.0, step=0.05,
                                      description="keep", readout_format=".0%", continuous_update=False),
            "keep": w.ToggleButtons(options=list(KEEP), value=self._keep),
            "image": w.Image(format="png"),
            "status": w.HTML(),
        }
        self._link(ui["cluster"], "cluster")
        self._link(ui["fraction"], "keep_fraction")
        self._link(ui["keep"], "keep")
        ui["box"] = w.VBox([w.HBox([ui["cluster"], ui["fraction"], ui["keep"]]), ui["status"], ui["image"]])
        ui["box"].add_class("dcai-cluster-explorer")
        return ui

    def _show_state(self, ui: dict) -> None:
        ui["cluster"].value, ui["keep"].value = self._cluster, self._keep
        if abs(ui["fraction"].value - self._keep_fraction) > 1e-9:
            ui["fraction"].value = self._keep_fraction  # a fraction under 0.05 shows as 0.05 (the slider's end)
        ui["status"].value = self.summary()
        ui["image"].value = figure_png(self.figure())


def _check_clusters(clusters, n: int) -> np.ndarray:
    """Cluster ids, one non-negative integer per example (int64)."""
    clusters = check_labels(clusters, "clusters", n=n)
    if not np.issubdtype(clusters.dtype, np.integer) or (len(clusters) and clusters.min() < 0):
        raise ValueError(f"clusters must be {n} non-negative integers (one cluster per image, 0 .. n_clusters - 1), "
                         f"got dtype {clusters.dtype}" + (f", minimum {clusters.min()}" if clusters.dtype.kind in "iu"
                                                          else ""))
    return clusters.astype(np.int64)


def cluster_explorer(images, embeddings=None, *, scores=None, clusters=None, n_clusters: int = 10, seed: int = 0,
                     keep_fraction: float = 0.5, keep: str = "hard", cluster: int = 0, n_show: int = 8,
                     labels=None, static_clusters: Sequence[int] | None = None) -> ClusterExplorer:
    """Explore the clusters of the prototype metric (notebook 03, section 3); display the result in a notebook.

    Give either ``embeddings`` (then :func:`dcai_lab.pruning.prototype_scores` clusters them
    into ``n_clusters`` with spherical k-means, seeded by ``seed``), or the ``scores`` and
    ``clusters`` you already have (e.g. from ``prototype_scores(..., return_clusters=True)``).
    The other parameters are those of :class:`ClusterExplorer`.
    """
    if embeddings is not None:
        if scores is not None or clusters is not None:
            raise ValueError("give either embeddings, or scores and clusters, not both")
        n_images = len(getattr(images, "images", images))
        if np.ndim(embeddings) != 2 or len(embeddings) != n_images:
            raise ValueError(f"embeddings must be an array (n_images, dim) with one row per image ({n_images}), "
                             f"got shape {np.shape(embeddings)}")
        scores, clusters, _ = prototype_scores(embeddings, n_clusters, seed=seed, return_clusters=True)
    elif scores is None or clusters is None:
        raise ValueError("give embeddings, or both scores and clusters (one per image)")
    return ClusterExplorer(images, scores, clusters, keep_fraction=keep_fraction, keep=keep, cluster=cluster,
                           n_show=n_show, labels=labels, static_clusters=static_clusters)
