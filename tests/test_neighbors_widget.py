import numpy as np
import pytest

from dcai_lab._neighbors_widget import NeighborsExplorer, neighbors_explorer
from dcai_lab.seals import CandidatePool, KnnIndex, run_seals
from dcai_lab.widgets import static_widgets

RNG = np.random.default_rng(0)
X = RNG.standard_normal((80, 6))
IMAGES = RNG.integers(0, 256, (80, 8, 8), dtype=np.uint8)
INDEX = KnnIndex(X, kind="flat")
ORDER = RNG.permutation(80)[:12]
N_LABELED = [4, 8, 12]


def make(**kw):
    return neighbors_explorer(IMAGES, INDEX, labeled_ids=ORDER, n_labeled=N_LABELED, k=5, **kw)


def test_candidate_pool_per_round_equals_a_rebuilt_pool():
    ex = make()
    assert ex.round == 2 and ex.point == ORDER[0]
    for r, n in enumerate(N_LABELED):
        expected = CandidatePool(INDEX, k=5, labeled=ORDER[:n]).ids()
        np.testing.assert_array_equal(ex.candidates(r), expected)
        np.testing.assert_array_equal(ex.labeled(r), ORDER[:n])
    assert ex.pool_sizes() == [len(ex.candidates(r)) for r in range(3)]
    assert ex.pool_sizes()[0] <= 4 * 5


def test_neighbours_and_which_are_candidates():
    ex = make(round=1, point=int(ORDER[5]))
    sims, ids = ex.neighbors()
    _, exact = INDEX.search(np.array([ORDER[5]]), 5)
    np.testing.assert_array_equal(ids, exact[0])
    assert np.all(np.diff(sims) <= 1e-6)
    # a neighbour of a labeled point is a candidate unless it is labeled itself
    np.testing.assert_array_equal(ex.in_pool(), ~np.isin(ids, ORDER[:8]))
    assert f"labeled image {ORDER[5]}: {int(ex.in_pool().sum())} of its 5" in ex.summary()


def test_n_show_neighbours_of_the_k_are_shown():
    ex = make(n_show=3)
    assert ex.k == 5 and len(ex.neighbors()[1]) == 3
    np.testing.assert_array_equal(ex.neighbors()[1], INDEX.search(np.array([ex.point]), 5)[1][0][:3])
    assert len(ex.figure().axes) == 1 + 3 + 1


def test_changing_round_resets_a_point_not_yet_labeled():
    ex = make(point=int(ORDER[10]))
    ex.round = 0
    assert ex.point == ORDER[0]
    with pytest.raises(ValueError, match="labeled by round 0"):
        ex.point = int(ORDER[10])


def test_static_display_prints_summary_and_shows_the_figure(monkeypatch, capsys):
    from matplotlib.figure import Figure
    import IPython.display

    monkeypatch.setenv("DCAI_STATIC_WIDGETS", "1")
    assert static_widgets()
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    make(labels=np.arange(80) % 10)._ipython_display_()
    assert len(shown) == 1 and isinstance(shown[0], Figure)
    assert len(shown[0].axes) == 1 + 5 + 1  # the image, its 5 neighbours, the pool-size plot
    assert capsys.readouterr().out.startswith(f"round 2: 12 labeled, {make().pool_sizes()[2]} candidates (k = 5)")


def test_figure_frames_candidates_orange_and_labeled_blue():
    ex = make(round=2, point=int(ORDER[3]))
    fig = ex.figure()
    frames = [ax.spines["top"].get_edgecolor() for ax in fig.axes[1:6]]
    import matplotlib.colors as mc

    expected = [mc.to_rgba("tab:orange" if p else "tab:blue") for p in ex.in_pool()]
    assert [tuple(f) for f in frames] == expected
    line = fig.axes[-1].get_lines()[0]
    assert line.get_ydata().tolist() == ex.pool_sizes()


def test_widget_controls_update_what_is_shown():
    import ipywidgets as w

    ex = make()
    box = ex.widget()
    assert isinstance(box, w.VBox) and ex.widget() is box
    ui = ex._ui
    assert [v for _, v in ui["point"].options] == ORDER.tolist()
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


@pytest.mark.parametrize("kw, match", [
    (dict(labeled_ids=[1, 1]), "distinct"),
    (dict(labeled_ids=[80]), r"pool ids in 0..79"),
    (dict(labeled_ids=ORDER, n_labeled=[5, 3]), "non-decreasing"),
    (dict(labeled_ids=ORDER, n_labeled=[13]), "non-decreasing counts in 1..12"),
    (dict(labeled_ids=ORDER, round=3, n_labeled=N_LABELED), "round must be an integer in 0..2"),
    (dict(labeled_ids=ORDER, point=int(np.setdiff1d(np.arange(80), ORDER)[0])), "point must be a pool id labeled"),
    (dict(labeled_ids=ORDER, k=0), "k must be a positive"),
    (dict(labeled_ids=ORDER, n_show=0), "n_show must be an integer in 1..79"),
    (dict(), "give a history"),
])
def test_bad_arguments_say_what_is_wrong(kw, match):
    with pytest.raises(ValueError, match=match):
        neighbors_explorer(IMAGES, INDEX, **kw)


def test_images_must_match_the_index():
    with pytest.raises(ValueError, match="one image per indexed point"):
        NeighborsExplorer(IMAGES[:10], INDEX, ORDER)
    with pytest.raises(ValueError, match="must be a dcai_lab.seals.KnnIndex"):
        NeighborsExplorer(IMAGES, X, ORDER)
