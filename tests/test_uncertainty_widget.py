"""The uncertainty explorer (dcai_lab.widgets.uncertainty): what it shows, its controls, and bad input."""

import time

import numpy as np
import pytest

from dcai_lab.active import run_active_learning
from dcai_lab.data import load_digits, split
from dcai_lab.history import History
from dcai_lab.uncertainty import entropy, margin
from dcai_lab.widgets import UncertaintyExplorer, static_widgets, uncertainty_explorer
from dcai_lab.widgets.uncertainty import MAX_K


def renormalized(probs):
    probs = np.asarray(probs, dtype=np.float64)  # stored as float32
    return probs / probs.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def run():
    """A digits pool and an entropy run of 3 rounds that kept its scores: (pool, history)."""
    _, pool, test = split(load_digits(), train_size=0, test_size=0.25, seed=0)
    history = run_active_learning(pool.X, pool.y, test.X, test.y, "entropy", initial_labeled=20, batch_size=10,
                                  n_rounds=3, keep_scores=True, progress=False)
    return pool, history


@pytest.fixture
def make(run):
    pool, history = run
    return lambda **kw: uncertainty_explorer(history, pool.images, **{"k": 4, "labels": pool.y, **kw})


def tiny_history():
    """Two rounds over a pool of 5: round 0 scores ids 1, 3, 4; round 1 scores 1 and 4."""
    return History("entropy", 0, np.arange(2), n_labeled=[2, 3], accuracy=[0.5, 0.75],
                   selected=[np.array([3]), np.array([], dtype=int)],
                   scored_ids=[np.array([1, 3, 4]), np.array([1, 4])],
                   probs=[np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3]]), np.array([[0.6, 0.4], [0.8, 0.2]])])


def test_most_uncertain_are_the_top_scores_and_entropy_sampling_picked_them(run, make):
    pool, history = run
    ex = make()
    ids, scores = ex.scores(1)
    assert ids.tolist() == history.scored_ids[1].tolist() and len(ids) == len(pool) - 30
    np.testing.assert_allclose(scores, entropy(renormalized(history.probs[1])))
    top = ex.most_uncertain(1)
    assert len(top) == 4 and scores[np.isin(ids, top)].min() >= np.sort(scores)[-4] - 1e-12
    # entropy sampling picks exactly the most uncertain items (float32 probabilities may swap near-ties)
    assert len(set(top.tolist()) & set(history.selected[1].tolist())) >= 3
    ex.score = "margin"
    np.testing.assert_allclose(ex.scores(1)[1], margin(renormalized(history.probs[1])))
    np.testing.assert_allclose(ex.probs_of(int(top[0]), 1), history.probs[1][ids == top[0]][0])
    with pytest.raises(ValueError, match=r"pool_id .* was not scored in round 1"):
        ex.probs_of(int(history.labeled_ids[0]), 1)


def test_hand_computed_entropies_of_a_tiny_history():
    ex = uncertainty_explorer(tiny_history(), np.zeros((5, 8, 8), np.uint8), k=2)
    ids, scores = ex.scores(0)
    # H(0.9, 0.1) = 0.325, H(0.5, 0.5) = log 2 = 0.693, H(0.7, 0.3) = 0.611
    np.testing.assert_allclose(scores, [0.325083, np.log(2), 0.610864], atol=1e-6)
    assert ex.most_uncertain(0).tolist() == [3, 4]
    assert ex.summary(1).endswith("the last round selects nothing")


def test_k_is_capped_at_the_items_scored(run):
    pool, history = run
    ex = uncertainty_explorer(tiny_history(), np.zeros((5, 8, 8), np.uint8), k=MAX_K)
    assert ex.k == 3 and ex.most_uncertain(1).tolist() == [1, 4]
    assert len(ex.figure([0, 1]).axes) == 2 * (1 + 3 + 3)   # no empty columns beyond the 3 items


def test_a_huge_k_is_refused_at_once_with_the_maximum():
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"k must be an integer in 1\.\.{MAX_K}, got 1000000 \(the picture shows "
                                         rf"at most {MAX_K} images"):
        uncertainty_explorer(tiny_history(), np.zeros((5, 8, 8), np.uint8), k=10**6)
    assert time.perf_counter() - start < 1.0   # it used to hang drawing a million empty columns


def test_summary_reports_the_round(run, make):
    pool, history = run
    ex = make()
    assert ex.summary(0).startswith(f"round 0: 20 labels, test accuracy {history.accuracy[0]:.3f}; "
                                    f"{len(pool) - 20} unlabeled items scored, entropy median ")
    assert "the strategy picked 10 (4 of them among the 4 most uncertain)" in ex.summary(0)
    assert ex.summary(3).endswith("the last round selects nothing")


def test_static_figure_has_a_histogram_and_k_images_with_probability_bars_per_round(run, make):
    pool, history = run
    ex = make()
    fig = ex.figure([0, 2])
    assert len(fig.axes) == 2 * (1 + 4 + 4)
    hist, first_image, first_bars = fig.axes[0], fig.axes[1], fig.axes[2]
    assert hist.get_title() == f"round 0: 20 labels, accuracy {history.accuracy[0]:.3f}"
    assert hist.get_xlabel() and hist.get_ylabel() == "items"
    assert sum(p.get_height() for p in hist.patches) == len(pool) - 20  # every unlabeled item in the histogram
    top = ex.most_uncertain(0)[0]
    assert first_image.get_title().startswith(f"#{top} ({pool.y[top]})")
    assert first_image.get_xticks().size == 0 and first_image.get_yticks().size == 0  # an image tile
    heights = [p.get_height() for p in first_bars.patches]
    np.testing.assert_allclose(heights, ex.probs_of(int(top), 0), rtol=1e-6)
    assert fig.axes[9].get_title().startswith("round 2: 40 labels")


def test_picked_images_get_a_green_frame(run, make):
    import matplotlib.colors as mc

    pool, history = run
    ex = make()
    fig = ex.figure([1])
    top = ex.most_uncertain(1)
    frames = [tuple(fig.axes[1 + 2 * i].spines["top"].get_edgecolor()) for i in range(4)]
    picked = np.isin(top, history.selected[1])
    assert frames == [mc.to_rgba("tab:green" if p else "0.75") for p in picked]


def test_static_display_prints_summaries_and_shows_the_figure(make, monkeypatch, capsys):
    from matplotlib.figure import Figure
    import IPython.display

    monkeypatch.setenv("DCAI_STATIC_WIDGETS", "1")
    assert static_widgets()
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    make(static_rounds=[0, 3])._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], Figure) and len(shown[0].axes) == 2 * 9
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("round 0: 20 labels") and out[1].startswith("round 3: 50 labels")


def test_slider_and_menu_change_the_picture_and_the_status(make):
    import ipywidgets as w

    ex = make()
    box = ex.widget()
    assert isinstance(box, w.VBox) and ex.widget() is box
    ui = ex._ui
    assert isinstance(ui["round"], w.IntSlider) and (ui["round"].min, ui["round"].max) == (0, 3)
    first_png = ui["image"].value
    assert first_png[:4] == b"\x89PNG" and ui["status"].value.startswith("round 0: 20 labels")

    ui["round"].value = 2
    assert ex.round == 2 and ui["status"].value.startswith("round 2: 40 labels")
    assert ui["image"].value != first_png

    png = ui["image"].value
    ui["score"].value = "least_confidence"
    assert ex.score == "least_confidence" and "least_confidence median" in ui["status"].value
    assert ui["image"].value != png

    ex.round = 1                               # set from code: the slider follows
    assert ui["round"].value == 1 and ui["status"].value.startswith("round 1: 30 labels")


@pytest.mark.parametrize("kw, match", [
    (dict(score="bald"), "score must be one of 'entropy', 'margin', 'least_confidence', got 'bald'"),
    (dict(k=0), r"k must be an integer in 1\.\.30, got 0"),
    (dict(k=2.5), r"k must be an integer in 1\.\.30, got 2\.5"),
    (dict(k=True), r"k must be an integer in 1\.\.30, got True"),
    (dict(round=4), r"round must be an integer in 0\.\.3, got 4"),
    (dict(round=1.0), r"round must be an integer in 0\.\.3, got 1\.0"),
    (dict(round=-1), r"round must be an integer in 0\.\.3, got -1"),
    (dict(labels=[1, 2]), r"labels must have one label per item \(1348\), got 2"),
    (dict(labels=np.zeros((1348, 2))), "labels must be a 1-D array"),
    (dict(class_names=["a"]), "class_names must be a list naming the 10 classes"),
    (dict(class_names="0123456789"), "class_names must be a list naming the 10 classes"),
    (dict(static_rounds=[9]), r"static_rounds must be an integer in 0\.\.3, got 9"),
    (dict(static_rounds=2), r"static_rounds must be a non-empty list, e.g. \[0, 2\], got 2"),
    (dict(static_rounds=[]), "static_rounds must be a non-empty list"),
])
def test_bad_arguments_say_what_is_wrong(run, kw, match):
    pool, history = run
    with pytest.raises(ValueError, match=match):
        uncertainty_explorer(history, pool.images, **kw)


@pytest.mark.parametrize("images, match", [
    (np.zeros((1348, 64)), r"images must have shape \(N, H, W\) or \(N, H, W, C\), got a 2-D array"),
    (np.full((1348, 8, 8), 2.0), r"float images must be in \[0, 1\]"),
    (np.zeros((1348, 3, 8, 8), np.uint8), "channels-first"),
    (np.zeros((100, 8, 8), np.uint8), r"images: the history scored pool id \d+ but there are only 100 images"),
])
def test_bad_images_are_refused(run, images, match):
    with pytest.raises(ValueError, match=match):
        uncertainty_explorer(run[1], images)


def test_a_history_without_scores_or_with_wrong_shapes_is_refused(run):
    pool, _ = run
    plain = History("entropy", 0, np.arange(10), n_labeled=[20], accuracy=[0.5])
    with pytest.raises(ValueError, match=r"keep_scores=True"):
        uncertainty_explorer(plain, pool.images)
    bad = tiny_history()
    bad.probs[1] = bad.probs[1][:1]
    with pytest.raises(ValueError, match=r"history.probs\[1\] must have one row per scored id \(2\)"):
        uncertainty_explorer(bad, np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="history must be the History of run_active_learning"):
        uncertainty_explorer({"probs": []}, pool.images)


def test_setting_a_bad_round_or_score_keeps_the_old_one(make):
    ex = make(round=2)
    with pytest.raises(ValueError, match="round must be"):
        ex.round = -1
    with pytest.raises(ValueError, match="score must be"):
        ex.score = None
    assert (ex.round, ex.score) == (2, "entropy") and isinstance(ex, UncertaintyExplorer)
    with pytest.raises(ValueError, match="pool_id must be an integer"):
        ex.probs_of(2.0)
    with pytest.raises(ValueError, match="rounds must be an integer in 0..3, got 5"):
        ex.figure([0, 5])
