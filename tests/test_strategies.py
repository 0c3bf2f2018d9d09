"""Tests of dcai_lab.strategies: every selection strategy, candidate ids, top scoring, ties, predict_proba."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.strategies import (STRATEGIES, candidate_ids, entropy_sampling, information_density_sampling,
                                 least_confidence_sampling, margin_sampling, predict_proba, top_scoring)
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
UNCERTAINTY = [least_confidence_sampling, margin_sampling, entropy_sampling, information_density_sampling]


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
    assert candidate_ids(LABELED, 1, [4, 2, 2, 0]).tolist() == [0, 2, 4]  # sorted, repeats dropped


def test_information_density_prefers_the_representative_among_equally_uncertain():
    # rows 0..2 unlabeled, row 3 labeled; all four equally uncertain
    z = np.array([[1.0, 0.0], [0.8, 0.6], [-1.0, 0.0], [0.0, 1.0]])
    labeled = np.array([False, False, False, True])
    model = FixedModel(np.full((4, 3), 1 / 3))
    # unlabeled mean unit vector = (0.8, 0.6) / 3, so mean cos = 0.267, 0.333, -0.267 (clipped to 0)
    picked = information_density_sampling(model, pool_of(4), labeled, 3, RNG0, embeddings=z)
    assert picked.tolist() == [1, 0, 2]
    np.testing.assert_allclose(mean_unit_vector(z[~labeled]), [0.8 / 3, 0.2])
    # a given pool mean (array or function) replaces the one computed here
    toward_2 = np.array([-1.0, 0.0])
    for given_mean in (toward_2, lambda: toward_2):
        assert information_density_sampling(model, pool_of(4), labeled, 1, RNG0, embeddings=z,
                                            pool_mean=given_mean).tolist() == [2]


def test_information_density_averages_over_the_whole_unlabeled_pool_not_just_the_candidates():
    z = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    model = FixedModel(np.full((4, 2), 0.5))
    picked = information_density_sampling(model, pool_of(4), np.zeros(4, bool), 1, RNG0, embeddings=z,
                                          candidates=[0, 1])
    assert picked.tolist() == [1]  # the pool leans towards (0, 1), although candidate 0 is one of two


# --------------------------------------------------------------------------- top_scoring and ties


def test_top_scoring_breaks_ties_by_lowest_id_whatever_the_order():
    assert top_scoring([1.0, 3.0, 3.0, 3.0], [7, 9, 2, 5], 2).tolist() == [2, 5]


@pytest.mark.parametrize("batch_size", [0, -1, 5, 2.0, True])
def test_top_scoring_refuses_batches_it_cannot_fill(batch_size):
    """Regression (issue 12): a negative or too large batch was accepted."""
    with pytest.raises(ValueError, match=rf"batch_size must be an integer in 1\.\.4, got {batch_size!r}"):
        top_scoring([0.1, 0.2, 0.3, 0.4], [0, 1, 2, 3], batch_size)


def test_top_scoring_checks_scores():
    with pytest.raises(ValueError, match=r"scores must have 2 entries \(one per item\), got 1"):
        top_scoring([0.1], [0, 1], 1)
    with pytest.raises(ValueError, match=r"scores must be finite \(entry 0 is nan\)"):
        top_scoring([np.nan, 0.1], [0, 1], 1)
    with pytest.raises(ValueError, match=r"scores must hold real numbers"):
        top_scoring(["a", "b"], [0, 1], 1)


def test_random_tie_breaking_keeps_the_score_order_and_is_seeded():
    scores = [0.9, 0.5, 0.5, 0.5, 0.5, 0.1]
    ids = np.arange(6)
    draws = {tuple(top_scoring(scores, ids, 3, rng=np.random.default_rng(seed)).tolist()) for seed in range(30)}
    assert all(d[0] == 0 and set(d[1:]) <= {1, 2, 3, 4} for d in draws)   # the best score is still first
    assert len(draws) > 5                                                 # the tied ids come in many orders
    again = top_scoring(scores, ids, 3, rng=np.random.default_rng(7))
    assert again.tolist() == top_scoring(scores, ids, 3, rng=np.random.default_rng(7)).tolist()


def class_sorted_pool(n_classes=5, per_class=40):
    """A pool sorted by class whose scores are all tied (the model is equally unsure everywhere).

    The strategies get ``embeddings`` of equal rows, so information density's density term ties too.
    """
    n = n_classes * per_class
    classes = np.repeat(np.arange(n_classes), per_class)
    return FixedModel(np.full((n, 3), 1 / 3)), pool_of(n), np.zeros(n, bool), classes


@pytest.mark.parametrize("strategy", UNCERTAINTY, ids=lambda s: s.__name__)
def test_lowest_id_ties_bias_a_class_sorted_pool_and_random_ties_balance_it(strategy):
    """Regression (issue 12): with tied scores, lowest-id tie-breaking takes a whole batch from one class."""
    model, X, labeled, classes = class_sorted_pool()
    z = np.ones((len(X), 2))
    biased = strategy(model, X, labeled, 20, np.random.default_rng(0), embeddings=z)
    assert biased.tolist() == list(range(20)) and set(classes[biased]) == {0}   # the default: lowest ids
    counts = np.zeros(5)
    for seed in range(20):
        picked = strategy(model, X, labeled, 20, np.random.default_rng(seed), embeddings=z, ties="random")
        assert len(set(picked.tolist())) == 20
        counts += np.bincount(classes[picked], minlength=5)
    assert counts.min() >= 0.6 * counts.mean()                                   # 400 picks, about 80 per class
    again = [strategy(model, X, labeled, 20, np.random.default_rng(3), embeddings=z, ties="random").tolist()
             for _ in range(2)]
    assert again[0] == again[1]                                                  # seeded: reproducible


def test_ties_must_be_a_known_mode():
    model, X, labeled, _ = class_sorted_pool()
    for strategy in UNCERTAINTY:
        with pytest.raises(ValueError, match=r"ties must be one of 'id', 'random', got 'lowest'"):
            strategy(model, X, labeled, 2, RNG0, embeddings=np.ones((len(X), 2)), ties="lowest")


# --------------------------------------------------------------------------- every strategy: b distinct unlabeled ids


@settings(max_examples=40, deadline=None, derandomize=True)
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


def test_uncertainty_strategies_score_only_the_candidates():
    scored = []

    class Spy(FixedModel):
        def predict_proba(self, X):
            scored.append(len(X))
            return super().predict_proba(X)

    for select in UNCERTAINTY:
        scored.clear()
        select(Spy(PROBS), pool_of(6), LABELED, 1, RNG0, candidates=[1, 3], embeddings=np.ones((6, 2)))
        assert scored == [2], select.__name__


@pytest.mark.parametrize("kwargs, message", [
    (dict(labeled=[0, 1, 0]), r"labeled must be a boolean mask over the pool"),
    (dict(batch_size=0), r"batch_size must be an integer >= 1, got 0"),
    (dict(batch_size=2.0), r"batch_size must be an integer >= 1, got 2\.0"),
    (dict(candidates=[1, 9]), r"candidates must be pool ids in 0\.\.5 \(row numbers\); got \[9\]"),
    (dict(candidates=[1, 5]), r"candidates \[5\] are already labeled"),
    (dict(candidates=[0.5]), r"candidates must be integer pool ids"),
    (dict(candidates=[True] * 6), r"candidates must be pool ids \(integers\), got a boolean mask"),
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
        with pytest.raises(ValueError, match=r"labeled must be a boolean mask over the pool, shape \(5,\); "
                                             r"got dtype bool and shape \(6,\)"):
            select(FixedModel(PROBS), pool_of(5), LABELED, 1, RNG0)
        with pytest.raises(ValueError, match=r"X_pool must be a 2-D array"):
            select(FixedModel(PROBS), np.arange(6.0), LABELED, 1, RNG0)


def test_uncertainty_strategies_need_a_model_with_predict_proba():
    for select in UNCERTAINTY:
        with pytest.raises(ValueError, match=r"model \(object\) has no predict_proba"):
            select(object(), pool_of(6), LABELED, 1, RNG0, embeddings=np.ones((6, 2)))


def test_strategies_refuse_nan_in_what_they_read():
    X = pool_of(6)
    z = np.ones((6, 2))
    z[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"embeddings must be finite \(row 3"):
        STRATEGIES["core_set"](None, X, LABELED, 1, RNG0, embeddings=z)
    with pytest.raises(ValueError, match=r"embeddings must be finite \(row 3"):
        information_density_sampling(FixedModel(PROBS), X, LABELED, 1, RNG0, embeddings=z)
    with pytest.raises(ValueError, match=r"embeddings must have one row per pool item \(6\)"):
        information_density_sampling(FixedModel(PROBS), X, LABELED, 1, RNG0, embeddings=z[:5])


# --------------------------------------------------------------------------- predict_proba


def test_predict_proba_puts_columns_where_classes_has_them():
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0]], [0, 1, 2])
    p = model.predict_proba([[0.3], [1.7]])
    np.testing.assert_array_equal(predict_proba(model, [[0.3], [1.7]]), p)
    np.testing.assert_array_equal(predict_proba(model, [[0.3], [1.7]], classes=[0, 1, 2]), p)
    # regression (issue 12): classes in another order were refused with a false message
    np.testing.assert_array_equal(predict_proba(model, [[0.3], [1.7]], classes=[2, 0, 1]), p[:, [2, 0, 1]])
    full = predict_proba(model, [[0.3]], classes=[3, 2, 1, 0])   # a class the model never saw: zeros
    np.testing.assert_array_equal(full, np.c_[np.zeros(1), p[:1, ::-1]])


def test_predict_proba_refuses_duplicate_and_missing_classes():
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit([[0.0], [1.0], [2.0]], [0, 1, 2])
    with pytest.raises(ValueError, match=r"classes must be distinct, got \[0, 0, 1, 2\]"):
        predict_proba(model, [[0.3]], classes=[0, 0, 1, 2])   # regression: duplicates were accepted
    with pytest.raises(ValueError, match=r"the model knows classes \[0, 1, 2\], not all in classes=\[0, 1\]"):
        predict_proba(model, [[0.3]], classes=[0, 1])
    with pytest.raises(ValueError, match=r"model \(object\) has no predict_proba"):
        predict_proba(object(), [[0.3]])

    class NoClasses:
        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    with pytest.raises(ValueError, match=r"model \(NoClasses\) has no classes_"):
        predict_proba(NoClasses(), [[0.3]], classes=[0, 1])
