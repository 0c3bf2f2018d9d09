import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.svm import LinearSVC

from dcai_lab.active import (STRATEGIES, History, LoopStopped, candidate_ids, compare_strategies,
                             core_set_sampling, information_density_sampling, min_sq_distances,
                             plot_learning_curves, run_active_learning, top_scoring)
from dcai_lab.data import load_digits, split
from dcai_lab.uncertainty import mean_unit_vector


class FixedModel:
    """A 'fitted model' whose predict_proba looks row i's probabilities up in a table (column 0 of X is i)."""

    def __init__(self, probs):
        self.table = np.asarray(probs, dtype=np.float64)
        self.classes_ = np.arange(self.table.shape[1])

    def predict_proba(self, X):
        return self.table[np.asarray(X)[:, 0].astype(int)]


def pool_of(n):
    return np.arange(n, dtype=np.float64)[:, None]


RNG0 = np.random.default_rng(0)
# scores, worked out by hand:   least confidence  margin (1 - gap)  entropy (nats)
PROBS = np.array([[0.50, 0.50, 0.00, 0.00],  # 0.50              1.00              0.693
                  [0.40, 0.20, 0.20, 0.20],  # 0.60              0.80              1.332
                  [0.45, 0.45, 0.10, 0.00],  # 0.55              1.00              0.949
                  [0.35, 0.30, 0.30, 0.05],  # 0.65              0.95              1.240
                  [0.97, 0.01, 0.01, 0.01],  # 0.03              0.04              0.168
                  [0.25, 0.25, 0.25, 0.25]])  # uniform, but labeled below: never picked
LABELED = np.array([False, False, False, False, False, True])


# --------------------------------------------------------------------------- hand-computed selections


@pytest.mark.parametrize("name, b, expected", [
    ("least_confidence", 2, [3, 1]),
    ("margin", 3, [0, 2, 3]),      # 0 and 2 tie at 1.0: the lower pool id comes first
    ("entropy", 2, [1, 3]),
    ("entropy", 5, [1, 3, 2, 0, 4]),
])
def test_uncertainty_strategies_pick_the_hand_computed_ids(name, b, expected):
    picked = STRATEGIES[name](FixedModel(PROBS), pool_of(6), LABELED, b, RNG0)
    assert picked.tolist() == expected


def test_candidates_restrict_the_choice():
    picked = STRATEGIES["entropy"](FixedModel(PROBS), pool_of(6), LABELED, 2, RNG0, candidates=[4, 2, 0])
    assert picked.tolist() == [2, 0]


def test_top_scoring_breaks_ties_by_lowest_id_whatever_the_order():
    assert top_scoring([1.0, 3.0, 3.0, 3.0], [7, 9, 2, 5], 2).tolist() == [2, 5]


def test_information_density_prefers_the_representative_among_equally_uncertain():
    # rows 0..2 unlabeled, row 3 labeled; all four equally uncertain
    z = np.array([[1.0, 0.0], [0.8, 0.6], [-1.0, 0.0], [0.0, 1.0]])
    labeled = np.array([False, False, False, True])
    model = FixedModel(np.full((4, 3), 1 / 3))
    # unlabeled mean unit vector = (0.8, 0.6) / 3, so mean cos = 0.267, 0.333, -0.267 (clipped to 0)
    picked = information_density_sampling(model, pool_of(4), labeled, 3, RNG0, embeddings=z)
    assert picked.tolist() == [1, 0, 2]
    np.testing.assert_allclose(mean_unit_vector(z[~labeled]), [0.8 / 3, 0.2])


def test_core_set_covers_the_line_farthest_first():
    X = pool_of(11)                                 # points 0, 1, ..., 10 on a line
    labeled = np.zeros(11, dtype=bool)
    labeled[0] = True
    # 10 is farthest from 0; then 5 (5 from both); then 2, 3, 7, 8 tie at distance 2: lowest id wins
    assert core_set_sampling(None, X, labeled, 3, RNG0).tolist() == [10, 5, 2]


def naive_core_set(z, labeled, batch_size, candidates):
    """k-center greedy with the full pairwise distance matrix (the slow reference)."""
    d = np.sqrt(((z[:, None, :] - z[None, :, :]) ** 2).sum(axis=2))
    centers = list(np.flatnonzero(labeled))
    picked = []
    for _ in range(batch_size):
        free = [i for i in candidates if i not in picked]
        far = [d[i, centers].min() for i in free]
        best = free[int(np.argmax(far))]
        picked.append(best)
        centers.append(best)
    return picked


@pytest.mark.parametrize("seed", range(6))
def test_core_set_equals_the_naive_reference(seed):
    rng = np.random.default_rng(seed)
    n, d = 80, 5
    z = rng.standard_normal((n, d)) * rng.uniform(0.1, 10)
    labeled = rng.random(n) < 0.2
    labeled[0] = True
    free = np.flatnonzero(~labeled)
    candidates = np.sort(rng.choice(free, size=len(free) // 2 + 5, replace=False)) if seed % 2 else free
    b = int(rng.integers(1, 10))
    fast = core_set_sampling(None, np.zeros((n, 1)), labeled, b, rng, candidates=candidates, embeddings=z)
    assert fast.tolist() == naive_core_set(z, labeled, b, candidates.tolist())


def test_min_sq_distances_in_small_chunks_equals_one_chunk():
    rng = np.random.default_rng(3)
    X, centers = rng.standard_normal((500, 7)), rng.standard_normal((40, 7))
    exact = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).min(axis=1)
    np.testing.assert_allclose(min_sq_distances(X, centers), exact, rtol=1e-5)
    np.testing.assert_allclose(min_sq_distances(X, centers, chunk_elements=100), exact, rtol=1e-5)
    assert np.isinf(min_sq_distances(X, centers[:0])).all()


def test_core_set_with_nothing_labeled_starts_from_a_seeded_random_point():
    X = np.random.default_rng(1).standard_normal((30, 2))
    none = np.zeros(30, dtype=bool)
    a = core_set_sampling(None, X, none, 4, np.random.default_rng(5))
    assert a.tolist() == core_set_sampling(None, X, none, 4, np.random.default_rng(5)).tolist()
    # after the random first pick, each next pick is the farthest from the picks so far
    rest = core_set_sampling(None, X, np.isin(np.arange(30), a[:1]), 3, RNG0)
    assert rest.tolist() == a[1:].tolist()


# --------------------------------------------------------------------------- every strategy: b distinct unlabeled ids


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.data())
def test_every_strategy_returns_b_distinct_unlabeled_ids_or_raises(n, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    labeled = rng.random(n) < data.draw(st.floats(0, 0.9))
    use_candidates = data.draw(st.booleans())
    free = np.flatnonzero(~labeled)
    candidates = rng.choice(free, size=rng.integers(0, len(free) + 1), replace=False) if use_candidates else None
    available = len(free) if candidates is None else len(candidates)
    b = data.draw(st.integers(1, n))
    model = FixedModel(rng.dirichlet(np.ones(3), size=n))
    z = rng.standard_normal((n, 4))
    for name, select in STRATEGIES.items():
        if b > available:
            with pytest.raises(ValueError, match=f"only {available} unlabeled candidates remain but batch_size is {b}"):
                select(model, pool_of(n), labeled, b, np.random.default_rng(0), candidates=candidates, embeddings=z)
            continue
        picked = select(model, pool_of(n), labeled, b, np.random.default_rng(0), candidates=candidates, embeddings=z)
        assert len(picked) == b, name
        assert len(set(picked.tolist())) == b, f"{name} picked an id twice"
        assert not labeled[picked].any(), f"{name} picked a labeled id"
        if candidates is not None:
            assert set(picked.tolist()) <= set(candidates.tolist()), f"{name} left the candidates"


@pytest.mark.parametrize("kwargs, message", [
    (dict(labeled=[0, 1, 0]), r"labeled must be a boolean mask over the pool"),
    (dict(batch_size=0), r"batch_size must be a positive integer, got 0"),
    (dict(batch_size=2.0), r"batch_size must be a positive integer, got 2\.0"),
    (dict(candidates=[1, 9]), r"candidates \[9\] are not pool ids \(0\.\.5\)"),
    (dict(candidates=[1, 5]), r"candidates \[5\] are already labeled"),
    (dict(candidates=[0.5]), r"candidates must be integer pool ids"),
])
def test_bad_strategy_arguments_raise(kwargs, message):
    args = dict(labeled=LABELED, batch_size=1, candidates=None) | kwargs
    with pytest.raises(ValueError, match=message):
        candidate_ids(np.asarray(args["labeled"]), args["batch_size"], args["candidates"])
    for select in STRATEGIES.values():
        with pytest.raises(ValueError, match=message):
            select(FixedModel(PROBS), pool_of(len(args["labeled"])), np.asarray(args["labeled"]),
                   args["batch_size"], RNG0, candidates=args["candidates"])


def test_strategies_need_a_generator_and_a_matching_pool():
    for select in STRATEGIES.values():
        with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
            select(FixedModel(PROBS), pool_of(6), LABELED, 1, 0)
        with pytest.raises(ValueError, match=r"X_pool has 5 rows but labeled has 6"):
            select(FixedModel(PROBS), pool_of(5), LABELED, 1, RNG0)


# --------------------------------------------------------------------------- the loop

_, POOL, TEST = split(load_digits(), train_size=0, test_size=0.25, seed=0)


def small_run(strategy="entropy", **kw):
    args = dict(initial_labeled=20, batch_size=10, n_rounds=3, progress=False) | kw
    return run_active_learning(POOL.X, POOL.y, TEST.X, TEST.y, strategy, **args)


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_same_seed_same_selections(strategy):
    a, b = small_run(strategy, seed=4), small_run(strategy, seed=4)
    assert [s.tolist() for s in a.selected] == [s.tolist() for s in b.selected]
    assert a.accuracy == b.accuracy and a.labeled_ids.tolist() == b.labeled_ids.tolist()
    c = small_run(strategy, seed=5)
    assert a.labeled_ids[:20].tolist() != c.labeled_ids[:20].tolist()  # another seed, other initial labels


def test_history_records_every_round():
    h = small_run("margin", keep_scores=True)
    assert h.n_labeled == [20, 30, 40, 50] and len(h) == 4
    assert [len(s) for s in h.selected] == [10, 10, 10, 0]
    assert len(set(h.labeled_ids.tolist())) == 50 and h.labels.tolist() == POOL.y[h.labeled_ids].tolist()
    np.testing.assert_array_equal(h.labeled_ids[20:], np.concatenate(h.selected))
    assert h.candidate_pool_size == [len(POOL) - n for n in h.n_labeled]
    assert h.n_scored == h.candidate_pool_size[:3] + [0]
    # the kept scores: every unlabeled id and its probabilities, one column per class
    assert [len(ids) for ids in h.scored_ids] == h.candidate_pool_size
    assert all(p.shape == (len(ids), 10) for p, ids in zip(h.probs, h.scored_ids))
    np.testing.assert_allclose(h.probs[0].sum(axis=1), 1, atol=1e-5)
    assert not np.isin(h.scored_ids[1], h.labeled_ids[:30]).any()
    assert small_run("random").n_scored == [0, 0, 0, 0]


def test_to_frame_and_labels_to_reach():
    h = History("entropy", 3, np.arange(2), n_labeled=[10, 20, 30], accuracy=[0.5, 0.91, 0.9],
                selected=[np.array([1, 2]), np.array([3]), np.array([], dtype=int)],
                seconds_selecting=[0.1, 0.2, 0.0], seconds_training=[0.3, 0.3, 0.3],
                n_scored=[5, 4, 0], candidate_pool_size=[5, 4, 3])
    frame = h.to_frame()
    assert frame.columns.tolist() == ["strategy", "seed", "round", "n_labeled", "accuracy", "seconds_selecting",
                                      "seconds_training", "n_scored", "candidate_pool_size", "selected"]
    assert frame["round"].tolist() == [0, 1, 2] and frame["selected"].tolist() == [[1, 2], [3], []]
    assert (frame["strategy"] == "entropy").all() and (frame["seed"] == 3).all()
    assert h.labels_to_reach(0.9) == 20 and h.labels_to_reach(0.5) == 10 and h.labels_to_reach(0.95) is None
    with pytest.raises(ValueError, match=r"accuracy must be a number in \[0, 1\] \(e\.g\. 0\.9 for 90%\), got 90"):
        h.labels_to_reach(90)
    assert repr(h) == "History(strategy='entropy', seed=3, rounds=3, final accuracy 0.900 with 30 labels)"


def test_learning_curves_plot_mean_and_std_over_seeds():
    import matplotlib

    matplotlib.use("Agg")
    hs = [History("a", s, np.arange(2), n_labeled=[10, 20], accuracy=acc)
          for s, acc in enumerate([[0.5, 0.7], [0.7, 0.9]])]
    hs.append(History("b", 0, np.arange(2), n_labeled=[10, 20], accuracy=[0.6, 0.6]))
    for h in hs:
        for name in ("seconds_selecting", "seconds_training", "n_scored", "candidate_pool_size"):
            setattr(h, name, [0, 0])
        h.selected = [np.array([], dtype=int)] * 2
    ax = plot_learning_curves(hs)
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a (2 seeds)", "b (1 seed)"]
    np.testing.assert_allclose(lines[0].get_ydata(), [0.6, 0.8])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]     # mean +- std (pandas std: ddof = 1)
    std = np.std([0.5, 0.7], ddof=1)
    assert band.min() == pytest.approx(0.6 - std) and band.max() == pytest.approx(0.8 + std)
    np.testing.assert_allclose(lines[1].get_ydata(), [0.6, 0.6])
    with pytest.raises(ValueError, match="no histories to plot"):
        plot_learning_curves([])


def test_information_density_in_the_loop_equals_recomputing_the_pool_mean_each_round():
    # the loop keeps a running sum of the unlabeled unit vectors; recomputing it from scratch must agree
    def from_scratch(model, X, labeled, b, rng, *, candidates=None, embeddings=None, pool_mean=None):
        return information_density_sampling(model, X, labeled, b, rng, candidates=candidates, embeddings=embeddings)

    fast = small_run("information_density", n_rounds=4)
    slow = small_run(from_scratch, n_rounds=4)
    assert slow.strategy == "from_scratch"
    assert [s.tolist() for s in fast.selected] == [s.tolist() for s in slow.selected]


def test_a_human_oracle_is_asked_for_every_label():
    asked = []

    def person(ids):
        asked.append(np.asarray(ids).tolist())
        return POOL.y[ids]

    h = run_active_learning(POOL.X, None, TEST.X, TEST.y, "entropy", initial_labeled=np.arange(20), batch_size=5,
                            n_rounds=2, oracle=person, classes=np.arange(10), progress=False)
    assert asked == [list(range(20))] + [s.tolist() for s in h.selected[:2]]
    assert h.labels.tolist() == POOL.y[h.labeled_ids].tolist() and h.n_labeled == [20, 25, 30]
    # the same run with the simulated oracle gives the same history
    assert h.accuracy == run_active_learning(POOL.X, POOL.y, TEST.X, TEST.y, "entropy", initial_labeled=np.arange(20),
                                             batch_size=5, n_rounds=2, progress=False).accuracy


@pytest.mark.parametrize("error", [RuntimeError("the labeler went home"), KeyboardInterrupt()])
def test_loop_stopped_keeps_the_finished_rounds_and_labels(error):
    calls = []

    def tired(ids):
        calls.append(len(ids))
        if len(calls) == 3:
            raise error
        return POOL.y[ids]

    with pytest.raises(LoopStopped, match=r"stopped after 2 rounds .*the 30 labels obtained so far") as stop:
        run_active_learning(POOL.X, None, TEST.X, TEST.y, "margin", initial_labeled=20, batch_size=10,
                            n_rounds=5, oracle=tired, classes=np.arange(10), progress=False)
    h = stop.value.history
    assert h.n_labeled == [20, 30] and len(h.accuracy) == 2 and len(h.labels) == 30
    assert h.labels.tolist() == POOL.y[h.labeled_ids].tolist()
    assert stop.value.__cause__ is error


def test_an_unimplemented_exercise_says_so():
    def my_scores(model, X_pool, labeled, batch_size, rng, **kwargs):
        raise NotImplementedError()  # what a released student notebook holds before the answer

    with pytest.raises(LoopStopped, match=r"stopped after 0 rounds \(NotImplementedError - an exercise this loop "
                                          r"calls is not implemented yet: write it"):
        run_active_learning(POOL.X, POOL.y, TEST.X, TEST.y, my_scores, initial_labeled=20, progress=False)


def test_oracle_labels_are_checked():
    with pytest.raises(LoopStopped, match=r"the oracle must return one label per pool id \(10\)"):
        run_active_learning(POOL.X, POOL.y, TEST.X, TEST.y, initial_labeled=20, n_rounds=1, progress=False,
                            oracle=lambda ids: POOL.y[ids] if len(ids) == 20 else [1])
    with pytest.raises(LoopStopped, match=r"the oracle returned label 42, which is not one of classes"):
        run_active_learning(POOL.X, POOL.y, TEST.X, TEST.y, initial_labeled=20, n_rounds=1, progress=False,
                            oracle=lambda ids: POOL.y[ids] if len(ids) == 20 else np.full(len(ids), 42))


@pytest.mark.parametrize("kwargs, message", [
    (dict(strategy="greedy"), r"unknown strategy 'greedy'; choose one of random, least_confidence"),
    (dict(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (dict(n_rounds=-1), r"n_rounds must be an integer >= 0, got -1"),
    (dict(initial_labeled=0), r"initial_labeled must be between 1 and the pool size 1348"),
    (dict(initial_labeled=[3, 3]), r"initial_labeled must be distinct pool ids in 0\.\.1347"),
    (dict(initial_labeled=[0]), r"the initial labels are all of class 0; .*at least two classes"),
    (dict(n_rounds=200), r"20 initial labels \+ 200 rounds x 10 need more than the 1348 pool items"),
    (dict(X_test=TEST.X[:, :5]), r"X_pool and X_test must be 2-D with the same number of features"),
    (dict(y_pool=None), r"give y_pool \(the simulated oracle reads labels from it\) or an oracle"),
    (dict(y_pool=POOL.y[:5]), r"y_pool has 5 labels for 1348 pool items"),
    (dict(y_test=TEST.y[:5]), r"y_test has 5 labels for 449 test items"),
    (dict(embeddings=np.ones((5, 2))), r"embeddings must have one row per pool item \(1348\)"),
    (dict(classes=[0, 1]), r"the initial labels hold classes missing from classes=\[0, 1\]"),
])
def test_bad_loop_arguments_raise_before_any_label_is_asked(kwargs, message):
    args = dict(X_pool=POOL.X, y_pool=POOL.y, X_test=TEST.X, y_test=TEST.y, initial_labeled=20,
                progress=False) | kwargs
    with pytest.raises(ValueError, match=message):
        run_active_learning(**args)


def _with_nan(X, row):
    X = np.array(X, dtype=np.float64)
    X[row, 3] = np.nan
    return X


@pytest.mark.parametrize("kwargs, message", [
    (dict(X_pool=_with_nan(POOL.X, 7)), r"X_pool holds NaN or infinite values \(first in row 7\)"),
    (dict(X_test=_with_nan(TEST.X, 2)), r"X_test holds NaN or infinite values \(first in row 2\)"),
    (dict(embeddings=_with_nan(POOL.X, 5), strategy="information_density"), r"embeddings holds NaN .*row 5"),
    (dict(embeddings=np.vstack([np.ones((4, 3)), np.zeros((1, 3)), np.ones((1343, 3))]),
          strategy="information_density"), r"pool item 4 has an all-zero embedding"),
    (dict(model=LinearSVC()), r"\(LinearSVC\) has no predict_proba"),
])
def test_bad_data_and_models_raise_before_a_person_labels_anything(kwargs, message):
    asked = []
    args = dict(X_pool=POOL.X, y_pool=POOL.y, X_test=TEST.X, y_test=TEST.y, initial_labeled=20, progress=False,
                oracle=lambda ids: asked.append(ids) or POOL.y[ids]) | kwargs
    with pytest.raises(ValueError, match=message):
        run_active_learning(**args)
    assert asked == []


# --------------------------------------------------------------------------- measured on digits


def test_entropy_reaches_randoms_final_accuracy_with_fewer_labels():
    # measured (3 seeds, 20 + 20 rounds x 10 labels): random ends at 0.926 mean accuracy with 220 labels;
    # entropy's mean curve passes it at 140 labels. Demand at least 40 labels saved (18%).
    hs = compare_strategies(["random", "entropy"], [0, 1, 2], POOL.X, POOL.y, TEST.X, TEST.y, progress=False,
                            initial_labeled=20, batch_size=10, n_rounds=20)
    mean = {name: np.mean([h.accuracy for h in hs if h.strategy == name], axis=0) for name in ("random", "entropy")}
    n_labeled = np.asarray(hs[0].n_labeled)
    target = mean["random"][-1]
    reached = n_labeled[np.argmax(mean["entropy"] >= target)]
    assert mean["entropy"].max() >= target, "entropy sampling never reached random's final accuracy"
    assert reached <= n_labeled[-1] - 40, f"entropy needed {reached} labels to reach random's {target:.3f}"
    assert math.isclose(target, 0.926, abs_tol=0.01)  # the measured value the margin above was chosen for


def test_the_loop_runs_single_threaded_by_default_and_restores_the_thread_limits():
    from threadpoolctl import threadpool_info

    def threads():
        return sorted((i["internal_api"], i["num_threads"]) for i in threadpool_info())

    before, seen = threads(), []

    def spy(model, X_pool, labeled, batch_size, rng, **kwargs):
        seen.append(threads())
        return STRATEGIES["random"](model, X_pool, labeled, batch_size, rng, **kwargs)

    small_run(spy, n_rounds=1)
    assert seen and all(n == 1 for _, n in seen[0])
    assert threads() == before
    small_run(spy, n_rounds=1, n_threads=None)
    assert seen[-1] == before
    with pytest.raises(ValueError, match=r"n_threads must be an integer >= 1, got 0"):
        small_run(n_threads=0)
