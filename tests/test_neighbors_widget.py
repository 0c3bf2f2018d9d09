"""The neighbours explorer (dcai_lab.widgets.neighbors): SEALS's candidate pool per round, the menu, bad input."""

import numpy as np
import pytest

from dcai_lab.knn import KnnIndex
from dcai_lab.seals import CandidatePool, run_seals
from dcai_lab.widgets import NeighborsExplorer, neighbors_explorer, static_widgets
from dcai_lab.widgets.neighbors import MAX_SHOWN

N = 80
RNG = np.random.default_rng(0)
X = RNG.standard_normal((N, 6))
IMAGES = RNG.integers(0, 256, (N, 8, 8), dtype=np.uint8)
ORDER = RNG.permutation(N)[:12]    # the 12 labeled pool ids, in the order they were labeled
N_LABELED = [4, 8, 12]
LABELS = np.arange(N) % 10


@pytest.fixture(scope="module")
def index():
    """An exact index over the 80 random points."""
    return KnnIndex(X, kind="flat")


@pytest.fixture
def make(index):
    return lambda **kw: neighbors_explorer(IMAGES, index, **{"labeled_ids": ORDER, "n_labeled": N_LABELED,
                                                         "k": 5, **kw})


def ui_of(explorer):
    """The explorer's controls (built on first use)."""
    explorer.widget()
    return explorer._ui


def test_candidate_pool_per_round_equals_a_rebuilt_pool(index, make):
    ex = make()
    assert ex.round == 2 and ex.point == ORDER[0]
    for r, n in enumerate(N_LABELED):
        expected = CandidatePool(index, k=5, labeled=ORDER[:n]).ids()
        np.testing.assert_array_equal(ex.candidates(r), expected)
        np.testing.assert_array_equal(ex.labeled(r), ORDER[:n])
    assert ex.pool_sizes() == [len(ex.candidates(r)) for r in range(3)]
    assert ex.pool_sizes()[0] <= 4 * 5


def test_a_hand_made_pool_of_three_pairs():
    x = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [-1, 0], [-1, 0.1]])
    ex = neighbors_explorer(np.zeros((6, 8, 8), np.uint8), KnnIndex(x), labeled_ids=[0, 2, 4], n_labeled=[1, 3], k=1)
    # round 0: only 0 is labeled, its nearest neighbour is 1; round 1: 0, 2, 4 and their partners 1, 3, 5
    assert ex.candidates(0).tolist() == [1] and ex.candidates(1).tolist() == [1, 3, 5]
    assert ex.new_labels(0).tolist() == [0] and ex.new_labels(1).tolist() == [2, 4]


def test_neighbours_and_which_are_candidates(index, make):
    ex = make(round=1, point=int(ORDER[5]))
    sims, ids = ex.neighbors()
    _, exact = index.neighbors([ORDER[5]], 5)
    np.testing.assert_array_equal(ids, exact[0])
    assert np.all(np.diff(sims) <= 1e-6)
    # a neighbour of a labeled point is a candidate unless it is labeled itself
    np.testing.assert_array_equal(ex.in_pool(), ~np.isin(ids, ORDER[:8]))
    assert f"labeled image {ORDER[5]}: {int(ex.in_pool().sum())} of its 5" in ex.summary()


def test_n_show_neighbours_of_the_k_are_shown(index, make):
    ex = make(n_show=3)
    assert ex.k == 5 and len(ex.neighbors()[1]) == 3
    np.testing.assert_array_equal(ex.neighbors()[1], index.neighbors([ex.point], 5)[1][0][:3])
    assert len(ex.figure().axes) == 1 + 3 + 1


def test_changing_round_resets_a_point_not_yet_labeled(make):
    ex = make(point=int(ORDER[10]))
    ex.round = 0
    assert ex.point == ORDER[0]
    with pytest.raises(ValueError, match="labeled by round 0"):
        ex.point = int(ORDER[10])


def test_the_round_slider_keeps_the_chosen_image_while_it_is_labeled(make):
    # the defect seen in a browser: replacing the menu's options selected its first entry, and that
    # selection overwrote the chosen image, although it was still labeled at the new round
    ex = make()
    ui = ui_of(ex)
    ui["point"].value = int(ORDER[7])          # labeled by round 1
    ui["round"].value = 1
    assert ex.point == ORDER[7] and ui["point"].value == ORDER[7]
    assert [v for _, v in ui["point"].options] == ORDER[:8].tolist()
    assert f"labeled image {ORDER[7]}" in ui["status"].value
    ui["round"].value = 2
    assert ex.point == ORDER[7] and ui["point"].value == ORDER[7]
    ui["round"].value = 0                       # not labeled at round 0: the menu's first image
    assert ex.point == ORDER[0] and ui["point"].value == ORDER[0]


def test_the_menu_filters_by_class(make):
    ex = make(labels=LABELS)
    ui = ui_of(ex)
    c = int(LABELS[ORDER[5]])
    of_class = [int(i) for i in ORDER if LABELS[i] == c]
    ui["class"].value = ex.classes.index(c)     # a person picks "class c" in the class menu
    assert ex.filter_class == c and ex.menu().tolist() == of_class
    assert [v for _, v in ui["point"].options] == of_class and ex.point == of_class[0] == ui["point"].value
    assert ui["point"].description == f"labeled ({len(of_class)})"
    ui["class"].value = -1                      # all classes again: the chosen image stays
    assert ex.filter_class is None and ex.point == of_class[0] and len(ui["point"].options) == 12


def test_the_menu_lists_only_the_new_labels_of_a_round(make):
    ex = make(round=1)
    ui = ui_of(ex)
    ui["only_new"].value = True
    assert ex.only_new and ex.menu().tolist() == ORDER[4:8].tolist() == [v for _, v in ui["point"].options]
    assert ex.point == ORDER[4]                 # ORDER[0] is not new at round 1
    ui["round"].value = 2
    assert ex.menu().tolist() == ORDER[8:12].tolist() and ex.point == ORDER[8]
    assert make(round=0, only_new=True).menu().tolist() == ORDER[:4].tolist()  # round 0: the starting labels


def test_filters_set_from_code_and_a_point_the_filter_hides(make):
    ex = make(labels=LABELS, filter_class=int(LABELS[ORDER[0]]))
    hidden = next(int(i) for i in ORDER if LABELS[i] != LABELS[ORDER[0]])
    with pytest.raises(ValueError, match=f"point {hidden} is labeled but the menu's filter hides it"):
        ex.point = hidden
    ex.filter_class = None
    ex.point = hidden
    assert ex.point == hidden
    with pytest.raises(ValueError, match=r"filter_class must be one of the classes \[0, 1, 2, 3, 4\] \.\.\. or None"):
        ex.filter_class = 11
    with pytest.raises(ValueError, match="filter_class needs labels"):
        make(filter_class=1)
    with pytest.raises(ValueError, match="only_new must be True or False, got 1"):
        ex.only_new = 1


def test_static_display_prints_summary_and_shows_the_figure(make, monkeypatch, capsys):
    from matplotlib.figure import Figure
    import IPython.display

    monkeypatch.setenv("DCAI_STATIC_WIDGETS", "1")
    assert static_widgets()
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    make(labels=LABELS)._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], Figure)
    assert len(shown[0].axes) == 1 + 5 + 1  # the image, its 5 neighbours, the pool-size plot
    assert capsys.readouterr().out.startswith(f"round 2: 12 labeled, {make().pool_sizes()[2]} candidates (k = 5)")


def test_figure_frames_candidates_orange_and_labeled_blue(make):
    import matplotlib.colors as mc

    ex = make(round=2, point=int(ORDER[3]), labels=LABELS)
    fig = ex.figure()
    frames = [tuple(ax.spines["top"].get_edgecolor()) for ax in fig.axes[1:6]]
    assert frames == [mc.to_rgba("tab:orange" if p else "tab:blue") for p in ex.in_pool()]
    assert fig.axes[0].get_title() == f"{LABELS[ex.point]}: #{ex.point}"
    line = fig.axes[-1].get_lines()[0]
    assert line.get_ydata().tolist() == ex.pool_sizes()
    assert fig.axes[-1].get_xlabel() == "round" and fig.axes[-1].get_ylabel() == "items"


def test_widget_controls_update_what_is_shown(make):
    import ipywidgets as w

    ex = make()
    box = ex.widget()
    assert isinstance(box, w.VBox) and ex.widget() is box
    ui = ex._ui
    assert [v for _, v in ui["point"].options] == ORDER.tolist() and ui["class"].disabled  # no labels given
    first = ui["image"].value
    assert first[:4] == b"\x89PNG" and ui["status"].value.startswith("round 2: 12 labeled")
    ui["point"].value = int(ORDER[7])
    assert ex.point == ORDER[7] and ui["image"].value != first
    ui["round"].value = 0
    assert ex.round == 0 and [v for _, v in ui["point"].options] == ORDER[:4].tolist()
    assert ex.point == ORDER[0] and ui["status"].value.startswith("round 0: 4 labeled")
    ex.round = 1                            # set from code: the controls follow
    assert ui["round"].value == 1 and len(ui["point"].options) == 8


def test_from_a_seals_history():
    from dcai_lab.data import load_digits

    digits = load_digits()
    h = run_seals(digits.X[:300], digits.y[:300], digits.X[300:400], digits.y[300:400], embeddings=digits.X[:300],
                  k=5, index_kind="flat", initial_labeled=20, batch_size=5, n_rounds=3, progress=False)
    ex = neighbors_explorer(digits.images[:300], KnnIndex(digits.X[:300]), h, k=5)
    assert ex.pool_sizes() == h.candidate_pool_size
    np.testing.assert_array_equal(ex.labeled(), h.labeled_ids)
    ex.only_new = True
    np.testing.assert_array_equal(ex.menu(), h.selected[2])  # the batch round 2 selected is new at round 3


@pytest.mark.parametrize("kw, match", [
    (dict(labeled_ids=[1, 1], n_labeled=None), "labeled_ids must be distinct"),
    (dict(labeled_ids=[], n_labeled=None), "labeled_ids must hold at least 1 pool id"),
    (dict(labeled_ids=[80], n_labeled=None), r"pool ids in 0..79"),
    (dict(labeled_ids=[1.0, 2.0], n_labeled=None), "labeled_ids must be integer pool ids"),
    (dict(labeled_ids=np.ones(80, bool), n_labeled=None), "boolean mask"),
    (dict(n_labeled=[5, 3]), "non-decreasing"),
    (dict(n_labeled=[13]), r"n_labeled\[0\] must be an integer in 1..12, got 13"),
    (dict(n_labeled=[4, 7.5]), r"n_labeled\[1\] must be an integer in 1..12, got 7.5"),
    (dict(n_labeled=[True]), r"n_labeled\[0\] must be an integer"),
    (dict(n_labeled=5), "n_labeled must be a list of counts"),
    (dict(round=3), r"round must be an integer in 0..2, got 3"),
    (dict(round=1.5), r"round must be an integer in 0..2, got 1.5"),
    (dict(point=-1), r"point must be an integer in 0..79"),
    (dict(point="7"), r"point must be an integer in 0..79"),
    (dict(point=int(np.setdiff1d(np.arange(N), ORDER)[0])), "point must be a pool id labeled by round 2"),
    (dict(k=0), "k must be an integer >= 1"),
    (dict(n_show=0), r"n_show must be an integer in 1..50, got 0"),
    (dict(n_show=MAX_SHOWN + 1), r"n_show must be an integer in 1..50, got 51 \(at most 50"),
    (dict(labels=np.arange(5)), r"labels must have one label per item \(80\)"),
    (dict(labeled_ids=None), "give a history"),
])
def test_bad_arguments_say_what_is_wrong(make, kw, match):
    with pytest.raises(ValueError, match=match):
        make(**kw)


def test_images_and_history_must_match_the_index(index):
    with pytest.raises(ValueError, match=r"images must hold one image per indexed point \(80\), got 10"):
        NeighborsExplorer(IMAGES[:10], index, ORDER)
    with pytest.raises(ValueError, match="must be a dcai_lab.knn.KnnIndex"):
        NeighborsExplorer(IMAGES, np.zeros((80, 6)), ORDER)
    with pytest.raises(ValueError, match="images must have shape"):
        NeighborsExplorer(IMAGES.reshape(80, 64), index, ORDER)
    with pytest.raises(ValueError, match="history must be the History of run_seals"):
        neighbors_explorer(IMAGES, index, {"labeled_ids": ORDER})
