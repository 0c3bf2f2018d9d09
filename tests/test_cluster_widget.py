"""The cluster explorer (dcai_lab.widgets.clusters): members, what pruning keeps, the controls, bad input."""

import numpy as np
import pytest

from dcai_lab.pruning import prototype_scores, select
from dcai_lab.widgets import ClusterExplorer, cluster_explorer, static_widgets
from dcai_lab.widgets.clusters import MAX_SHOWN

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (60, 8, 8), dtype=np.uint8)
SCORES = RNG.random(60)
CLUSTERS = np.repeat([0, 1, 2], 20)


def make(**kw):
    return cluster_explorer(IMAGES, scores=SCORES, clusters=CLUSTERS, n_show=4, **kw)


def test_members_are_ordered_by_distance_and_kept_matches_select():
    ex = make(keep_fraction=0.3)
    members = ex.members(1)
    assert sorted(members.tolist()) == list(range(20, 40))
    assert np.all(np.diff(SCORES[members]) >= 0)
    kept = ex.kept()
    assert np.flatnonzero(kept).tolist() == select(SCORES, 0.3, keep="hard").tolist()
    assert ex.kept_in_cluster(1) == int(kept[20:40].sum())
    assert ex.cut() == pytest.approx(SCORES[kept].min())
    ex.keep = "easy"
    assert np.flatnonzero(ex.kept()).tolist() == select(SCORES, 0.3, keep="easy").tolist()
    assert ex.cut() == pytest.approx(SCORES[ex.kept()].max())


def test_ties_are_broken_by_index():
    ex = cluster_explorer(IMAGES[:4], scores=[0.5, 0.5, 0.1, 0.5], clusters=[0, 0, 0, 0], n_show=2)
    assert ex.members().tolist() == [2, 0, 1, 3]


def test_static_figure_shows_easiest_hardest_and_histogram():
    ex = make(labels=np.arange(60) % 10)
    fig = ex.figure([0, 2])
    # per cluster: 4 easiest + 4 hardest images + 1 histogram
    assert len(fig.axes) == 2 * (4 + 4 + 1)
    titles = [ax.get_title() for ax in fig.axes]
    easiest = ex.members(0)[0]
    assert titles[0] == f"{easiest % 10}: {SCORES[easiest]:.2f}"
    assert "cluster 2: keeps" in titles[-1]


def test_static_display_prints_summary_and_shows_the_figure(monkeypatch, capsys):
    from matplotlib.figure import Figure
    import IPython.display

    monkeypatch.setenv("DCAI_STATIC_WIDGETS", "1")
    assert static_widgets()
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    make(static_clusters=[1, 2])._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], Figure) and len(shown[0].axes) == 2 * 9
    out = capsys.readouterr().out
    assert "cluster 1: 20 examples" in out and "cluster 2: 20 examples" in out


def test_outside_a_kernel_is_static(monkeypatch):
    monkeypatch.delenv("DCAI_STATIC_WIDGETS", raising=False)
    assert static_widgets()  # pytest is not an IPython kernel


def test_widget_controls_update_what_is_shown():
    import ipywidgets as w

    ex = make(keep_fraction=0.5)
    box = ex.widget()
    assert isinstance(box, w.VBox) and ex.widget() is box
    ui = ex._ui
    assert isinstance(ui["cluster"], w.Dropdown) and isinstance(ui["fraction"], w.FloatSlider)
    first_png, first_status = ui["image"].value, ui["status"].value
    assert first_png[:4] == b"\x89PNG" and first_status.startswith("cluster 0: 20 examples")

    ui["cluster"].value = 2
    assert ex.cluster == 2 and ui["status"].value.startswith("cluster 2:")
    assert ui["image"].value != first_png

    png = ui["image"].value
    ui["fraction"].value = 0.1
    assert ex.keep_fraction == pytest.approx(0.1)
    assert f"keeps {ex.kept_in_cluster(2)} of them" in ui["status"].value and "hard 10%" in ui["status"].value
    assert ex.kept().sum() == 6 and ui["image"].value != png

    ui["keep"].value = "easy"
    assert ex.keep == "easy" and "keeping the easy 10%" in ui["status"].value

    ex.cluster = 1                          # set from code: the controls follow
    assert ui["cluster"].value == 1 and ui["status"].value.startswith("cluster 1:")


def test_from_embeddings_clusters_them_like_prototype_scores():
    x = np.concatenate([RNG.normal([5, 0], 0.3, (30, 2)), RNG.normal([0, 5], 0.3, (30, 2))])
    ex = cluster_explorer(IMAGES, x, n_clusters=2, seed=0)
    scores, clusters, _ = prototype_scores(x, 2, seed=0, return_clusters=True)
    assert np.allclose(ex.scores, scores) and ex.clusters.tolist() == clusters.tolist() and ex.n_clusters == 2


def test_a_hand_made_cut_keeps_the_hard_half():
    # scores 0.1 .. 0.6 in two clusters; keeping the hard 50% keeps 0.4, 0.5, 0.6: the cut is at 0.4
    ex = cluster_explorer(IMAGES[:6], scores=[0.1, 0.6, 0.2, 0.5, 0.3, 0.4], clusters=[0, 0, 0, 1, 1, 1],
                          keep_fraction=0.5, n_show=2)
    assert np.flatnonzero(ex.kept()).tolist() == [1, 3, 5] and ex.cut() == 0.4
    assert (ex.kept_in_cluster(0), ex.kept_in_cluster(1)) == (1, 2)
    ex.keep = "easy"
    assert np.flatnonzero(ex.kept()).tolist() == [0, 2, 4] and ex.cut() == 0.3


def test_a_fraction_under_the_slider_s_end_is_kept_as_set():
    ex = make(keep_fraction=0.01)
    ex.widget()
    assert ex._ui["fraction"].value == 0.05 and ex.keep_fraction == 0.01  # the slider shows its end, the state stays


@pytest.mark.parametrize("kw, match", [
    (dict(scores=SCORES[:5], clusters=CLUSTERS), r"scores must have 60 entries \(one per item\), got 5"),
    (dict(scores=np.where(np.arange(60) == 3, np.nan, SCORES), clusters=CLUSTERS), r"scores must be finite \(entry 3"),
    (dict(scores=SCORES, clusters=CLUSTERS[:5]), r"clusters must have one label per item \(60\), got 5"),
    (dict(scores=SCORES, clusters=CLUSTERS - 1), "clusters must be 60 non-negative integers"),
    (dict(scores=SCORES, clusters=CLUSTERS + 0.5), "clusters must hold class labels"),
    (dict(scores=SCORES, clusters=CLUSTERS.astype(float)), "clusters must be 60 non-negative integers"),
    (dict(scores=SCORES, clusters=CLUSTERS, keep="middle"), "keep must be one of 'hard', 'easy', got 'middle'"),
    (dict(scores=SCORES, clusters=CLUSTERS, keep_fraction=0), r"keep_fraction must be a finite number in \(0, 1\]"),
    (dict(scores=SCORES, clusters=CLUSTERS, keep_fraction=1.5), "keep_fraction"),
    (dict(scores=SCORES, clusters=CLUSTERS, cluster=3), r"cluster must be an integer in 0..2, got 3"),
    (dict(scores=SCORES, clusters=CLUSTERS, cluster=1.0), r"cluster must be an integer in 0..2, got 1.0"),
    (dict(scores=SCORES, clusters=CLUSTERS, n_show=0), r"n_show must be an integer in 1..15, got 0"),
    (dict(scores=SCORES, clusters=CLUSTERS, n_show=MAX_SHOWN + 1), r"n_show must be an integer in 1..15, got 16"),
    (dict(scores=SCORES, clusters=CLUSTERS, labels=[1]), r"labels must have one label per item \(60\)"),
    (dict(scores=SCORES, clusters=CLUSTERS, static_clusters=[0, 5]), r"static_clusters must be an integer in 0..2"),
    (dict(scores=SCORES, clusters=CLUSTERS, static_clusters=1), "static_clusters must be a non-empty list"),
    (dict(scores=SCORES), "give embeddings, or both"),
    (dict(embeddings=np.ones((60, 2)), scores=SCORES, clusters=CLUSTERS), "not both"),
    (dict(embeddings=np.ones((59, 2))), r"embeddings must be an array \(n_images, dim\) with one row per image \(60\)"),
])
def test_bad_arguments_say_what_is_wrong(kw, match):
    with pytest.raises(ValueError, match=match):
        cluster_explorer(IMAGES, **kw)


def test_bad_images_are_refused():
    with pytest.raises(ValueError, match="images must have shape"):
        cluster_explorer(IMAGES.reshape(60, 64), scores=SCORES, clusters=CLUSTERS)
    with pytest.raises(ValueError, match="images must be uint8"):
        cluster_explorer(IMAGES.astype(str), scores=SCORES, clusters=CLUSTERS)


def test_setting_a_bad_cluster_keeps_the_old_one():
    ex = make()
    with pytest.raises(ValueError, match="cluster must be"):
        ex.cluster = 7
    with pytest.raises(ValueError, match="keep_fraction"):
        ex.keep_fraction = float("nan")
    with pytest.raises(ValueError, match="keep must be"):
        ex.keep = "Hard"
    assert (ex.cluster, ex.keep_fraction, ex.keep) == (0, 0.5, "hard") and isinstance(ex, ClusterExplorer)
