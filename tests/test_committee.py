"""Query by committee: vote entropy from hand-made votes, consensus KL against loops, the Committee model."""

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.tree import DecisionTreeClassifier

from dcai_lab.active import run_active_learning
from dcai_lab.bald import bald_scores
from dcai_lab.committee import Committee, consensus_kl, consensus_kl_sampling, vote_entropy, \
    vote_entropy_sampling
from dcai_lab.data import course_split


def slow_vote_entropy(votes):
    M = len(votes)
    return np.array([-sum(v / M * math.log(v / M) for v in Counter(column).values()) for column in np.array(votes).T])


def slow_consensus_kl(samples):
    M, n, C = samples.shape
    mean = samples.mean(axis=0)
    return np.array([sum(sum(samples[m, i, c] * math.log(samples[m, i, c] / mean[i, c])
                             for c in range(C) if samples[m, i, c] > 0) for m in range(M)) / M for i in range(n)])


# --------------------------------------------------------------------------- the scores


def test_vote_entropy_of_hand_made_votes():
    votes = np.array([[0, 0, 0, 3],
                      [0, 0, 1, 2],
                      [0, 1, 2, 1],
                      [0, 1, 0, 0]])   # 4 members, 4 examples
    got = vote_entropy(votes)
    assert got[0] == 0.0                                                  # unanimous
    assert got[1] == pytest.approx(math.log(2))                           # 2 - 2
    assert got[2] == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))  # 2 - 1 - 1
    assert got[3] == pytest.approx(math.log(4))                           # all differ: log M
    assert vote_entropy(votes, n_classes=10).tolist() == got.tolist()    # unused classes change nothing


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 9), st.integers(1, 20), st.integers(1, 6))
def test_vote_entropy_equals_a_counter(seed, M, n, C):
    votes = np.random.default_rng(seed).integers(0, C, size=(M, n))
    assert np.allclose(vote_entropy(votes), slow_vote_entropy(votes), atol=1e-12)
    assert np.all(vote_entropy(votes) <= math.log(M) + 1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 7), st.integers(1, 8), st.integers(2, 5))
def test_consensus_kl_is_the_mean_kl_and_equals_bald(seed, M, n, C):
    samples = np.random.default_rng(seed).dirichlet(np.full(C, 0.6), size=(M, n))
    samples[0, 0] = np.eye(C)[0]  # a zero probability
    assert np.allclose(consensus_kl(samples), slow_consensus_kl(samples), atol=1e-12)
    assert np.allclose(consensus_kl(samples), bald_scores(samples))


def test_vote_entropy_rejects_bad_votes():
    with pytest.raises(ValueError, match="class indices"):
        vote_entropy([[0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="class indices"):
        vote_entropy([0, 1, 1])
    with pytest.raises(ValueError, match="class indices"):
        vote_entropy([[0, -1]])
    with pytest.raises(ValueError, match="n_classes"):
        vote_entropy([[0, 3]], n_classes=2)


# --------------------------------------------------------------------------- the Committee model


@pytest.fixture(scope="module")
def digits():
    return course_split()


def test_committee_members_see_every_class_and_average_to_the_consensus(digits):
    pool, _ = digits
    X, y = pool.X[:60], pool.y[:60].copy()
    y[0] = 99  # a class with a single example: a plain bootstrap would often miss it
    committee = Committee(n_members=6, random_state=3).fit(X, y)
    assert len(committee.members_) == 6
    assert all(np.array_equal(m.classes_, committee.classes_) for m in committee.members_)
    samples = committee.predict_proba_samples(pool.X[100:120])
    assert samples.shape == (6, 20, 11)
    assert np.allclose(committee.predict_proba(pool.X[100:120]), samples.mean(axis=0))
    assert set(committee.predict(pool.X[100:120])) <= set(committee.classes_)
    assert not np.allclose(samples[0], samples[1])  # different bootstrap samples, different members


def test_committee_is_seeded_clonable_and_uses_its_estimator(digits):
    pool, _ = digits
    X, y = pool.X[:80], pool.y[:80]
    a = Committee(DecisionTreeClassifier(), n_members=3, random_state=1).fit(X, y)
    b = Committee(DecisionTreeClassifier(), n_members=3, random_state=1).fit(X, y)
    c = Committee(DecisionTreeClassifier(), n_members=3, random_state=2).fit(X, y)
    assert np.array_equal(a.predict_proba_samples(pool.X[200:300]), b.predict_proba_samples(pool.X[200:300]))
    assert not np.array_equal(a.predict_proba_samples(pool.X[200:300]), c.predict_proba_samples(pool.X[200:300]))
    assert [m.random_state for m in a.members_] == [1, 2, 3]
    fresh = clone(a)
    assert not hasattr(fresh, "members_") and fresh.get_params()["n_members"] == 3


def test_committee_rejects_bad_arguments(digits):
    pool, _ = digits
    with pytest.raises(ValueError, match="n_members"):
        Committee(n_members=1).fit(pool.X[:20], pool.y[:20])
    with pytest.raises(ValueError, match="predict_proba"):
        Committee(estimator=object()).fit(pool.X[:20], pool.y[:20])
    with pytest.raises(ValueError, match="not fitted"):
        Committee().predict_proba(pool.X[:2])
    with pytest.raises(ValueError, match="2 classes"):
        Committee().fit(pool.X[:5], np.zeros(5, int))


# --------------------------------------------------------------------------- the strategies


class SampleModel:
    def __init__(self, samples):
        self.table = np.asarray(samples, dtype=np.float64)

    def predict_proba_samples(self, X):
        return self.table[:, np.asarray(X)[:, 0].astype(int)]

    def predict_proba(self, X):
        return self.predict_proba_samples(X).mean(axis=0)


# three members, five pool items; votes:  x0: 0 0 0   x1: 0 1 2   x2: 0 0 1   x3: 1 1 0   x4: 2 1 0 (labeled)
ONE_HOT = np.eye(3)
VOTES = np.array([[0, 0, 0, 1, 2], [0, 1, 0, 1, 1], [0, 2, 1, 0, 0]])
SAMPLES = 0.8 * ONE_HOT[VOTES] + 0.2 / 3
POOL = np.arange(5, dtype=np.float64)[:, None]
LABELED = np.array([False, False, False, False, True])


def test_vote_entropy_sampling_picks_the_most_split_votes():
    model = SampleModel(SAMPLES)
    assert vote_entropy_sampling(model, POOL, LABELED, 1, np.random.default_rng(0)).tolist() == [1]
    assert vote_entropy_sampling(model, POOL, LABELED, 3, np.random.default_rng(0), ties="id").tolist() == [1, 2, 3]
    tied = {tuple(vote_entropy_sampling(model, POOL, LABELED, 2, np.random.default_rng(s)).tolist())
            for s in range(20)}
    assert tied == {(1, 2), (1, 3)}  # x2 and x3 tie (2 - 1 votes): broken at random
    assert consensus_kl_sampling(model, POOL, LABELED, 1, np.random.default_rng(0), candidates=[0, 2]).tolist() == [2]


def test_committee_in_the_loop_counts_every_member(digits):
    pool, test = digits
    for strategy in (vote_entropy_sampling, consensus_kl_sampling):
        h = run_active_learning(pool.X[:300], pool.y[:300], test.X, test.y, strategy=strategy, initial_labeled=30,
                                batch_size=10, n_rounds=2, model=Committee(n_members=4), progress=False, seed=1)
        assert h.n_scored[:2] == [4 * 270, 4 * 260]
        assert h.n_labeled == [30, 40, 50] and len(set(np.concatenate(h.selected).tolist())) == 20


def test_committee_strategies_with_seals_pick_only_candidates(digits):
    from dcai_lab.seals import run_seals

    pool, test = digits
    for strategy in (vote_entropy_sampling, consensus_kl_sampling):
        h = run_seals(pool.X[:300], pool.y[:300], test.X[:100], test.y[:100], embeddings=pool.X[:300], k=5,
                      index_kind="flat", strategy=strategy, initial_labeled=20, batch_size=5, n_rounds=2,
                      progress=False, model=Committee(n_members=3))
        assert all(size <= 5 * n for size, n in zip(h.candidate_pool_size, h.n_labeled))
        assert h.n_scored[0] == 3 * h.candidate_pool_size[0]          # every member scores every candidate
        picked = np.concatenate(h.selected)
        assert len(set(picked.tolist())) == len(picked) == 10
