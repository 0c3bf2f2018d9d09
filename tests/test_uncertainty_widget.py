import numpy as np
import pytest

from dcai_lab._uncertainty_widget import UncertaintyExplorer, uncertainty_explorer
from dcai_lab.active import History, run_active_learning
from dcai_lab.data import load_digits, split
from dcai_lab.uncertainty import entropy, margin
from dcai_lab.widgets import static_widgets


def renormalized(probs):
    probs = np.asarray(probs, dtype=np.float64)  # stored as float32
    return probs / probs.sum(axis=1, keepdims=True)

_, POOL, TEST = split(load_digits(), train_size=0, test_size=0.25, seed=0)
HISTORY = run_active_learning(POOL.X, POOL.y, TEST.X, TEST.y, "entropy", initial_labeled=20, batch_size=10,
                              n_rounds=3, keep_scores=True, progress=False)


def make(**kw):
    return uncertainty_explorer(HISTORY, POOL.images, k=4, labels=POOL.y, **kw)


def test_most_uncertain_are_the_top_scores_and_entropy_sampling_picked_them():
    ex = make()
    ids, scores = ex.scores(1)
    assert ids.tolist() == HISTORY.scored_ids[1].tolist() and len(ids) == len(POOL) - 30
    np.testing.assert_allclose(scores, entropy(renormalized(HISTORY.probs[1])))
    top = ex.most_uncertain(1)
    assert len(top) == 4 and scores[np.isin(ids, top)].min() >= np.sort(scores)[-4] - 1e-12
    # entropy sampling picks exactly the most uncertain items (float32 probabilities may swap near-ties)
    assert len(set(top.tolist()) & set(HISTORY.selected[1].tolist())) >= 3
    ex.score = "margin"
    np.testing.assert_allclose(ex.scores(1)[1], margin(renormalized(HISTORY.probs[1])))
    np.testing.assert_allclose(ex.probs_of(int(top[0]), 1), HISTORY.probs[1][ids == top[0]][0])
    with pytest.raises(ValueError, match=r"pool id .* was not scored in round 1"):
        ex.probs_of(int(HISTORY.labeled_ids[0]), 1)


def test_summary_reports_the_round():
    ex = make()
    assert ex.summary(0).startswith(f"round 0: 20 labels, test accuracy {HISTORY.accuracy[0]:.3f}; "
                                    f"{len(POOL) - 20} unlabeled items scored, entropy median ")
    assert "the strategy picked 10 (4 of them among the 4 most uncertain)" in ex.summary(0)
    assert ex.summary(3).endswith("the last round selects nothing")


def test_static_figure_has_a_histogram_and_k_images_with_probability_bars_per_round():
    ex = make()
    fig = ex.figure([0, 2])
    assert len(fig.axes) == 2 * (1 + 4 + 4)
    hist, first_image, first_bars = fig.axes[0], fig.axes[1], fig.axes[2]
    assert hist.get_title() == f"round 0: 20 labels, accuracy {HISTORY.accuracy[0]:.3f}"
    assert sum(p.get_height() for p in hist.patches) == len(POOL) - 20  # every unlabeled item in the histogram
    top = ex.most_uncertain(0)[0]
    assert first_image.get_title().startswith(f"#{top} ({POOL.y[top]})")
    heights = [p.get_height() for p in first_bars.patches]
    np.testing.assert_allclose(heights, ex.probs_of(int(top), 0), rtol=1e-6)
    assert fig.axes[9].get_title().startswith("round 2: 40 labels")


def test_static_display_prints_summaries_and_shows_the_figure(monkeypatch, capsys):
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


def test_slider_and_menu_change_the_picture_and_the_status():
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
    (dict(score="bald"), "score must be one of entropy, margin, least_confidence"),
    (dict(k=0), "k must be a positive integer"),
    (dict(round=4), r"round must be an integer in 0\.\.3, got 4"),
    (dict(labels=[1, 2]), "labels must have one entry per image"),
    (dict(class_names=["a"]), "class_names must name the 10 classes"),
    (dict(static_rounds=[9]), r"round must be an integer in 0\.\.3"),
])
def test_bad_arguments_say_what_is_wrong(kw, match):
    with pytest.raises(ValueError, match=match):
        uncertainty_explorer(HISTORY, POOL.images, **kw)


def test_a_history_without_scores_or_too_few_images_is_refused():
    plain = History("entropy", 0, np.arange(10), n_labeled=[20], accuracy=[0.5])
    with pytest.raises(ValueError, match=r"keep_scores=True"):
        uncertainty_explorer(plain, POOL.images)
    with pytest.raises(ValueError, match=r"scored pool id \d+ but there are only 100 images"):
        uncertainty_explorer(HISTORY, POOL.images[:100])


def test_setting_a_bad_round_keeps_the_old_one():
    ex = make(round=2)
    with pytest.raises(ValueError):
        ex.round = -1
    assert ex.round == 2 and isinstance(ex, UncertaintyExplorer)
