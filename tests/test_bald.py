"""BALD and BatchBALD: hand-made samples, slow references, the strategies in the loop and in SEALS."""

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.active import run_active_learning
from dcai_lab.bald import bald_sampling, bald_scores, batch_bald, batch_bald_sampling, check_samples, joint_entropies
from dcai_lab.data import course_split
from dcai_lab.seals import run_seals

LOG2 = math.log(2)


class SampleModel:
    """A fitted 'model' whose samples for row i are a fixed table's (column 0 of X is i)."""

    def __init__(self, samples):
        self.table = np.asarray(samples, dtype=np.float64)
        self.classes_ = np.arange(self.table.shape[2])

    def predict_proba_samples(self, X):
        return self.table[:, np.asarray(X)[:, 0].astype(int)]

    def predict_proba(self, X):
        return self.predict_proba_samples(X).mean(axis=0)


def random_samples(seed, T, n, C, alpha=0.5):
    return np.random.default_rng(seed).dirichlet(np.full(C, alpha), size=(T, n))


def slow_entropy(p):
    return -sum(q * math.log(q) for q in p if q > 0)


def slow_bald(samples):
    """Mean KL divergence of each sample from the mean (the mutual information), with loops."""
    T, n, C = samples.shape
    out = []
    for i in range(n):
        mean = [sum(samples[t, i, c] for t in range(T)) / T for c in range(C)]
        out.append(sum(sum(samples[t, i, c] * math.log(samples[t, i, c] / mean[c])
                           for c in range(C) if samples[t, i, c] > 0) for t in range(T)) / T)
    return np.array(out)


# --------------------------------------------------------------------------- BALD by hand


def test_bald_of_hand_made_samples():
    samples = np.array([[[1.0, 0.0], [0.5, 0.5], [0.5, 0.5], [0.9, 0.1]],
                        [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0], [0.9, 0.1]],
                        [[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.9, 0.1]],
                        [[0.0, 1.0], [0.5, 0.5], [0.5, 0.5], [0.9, 0.1]]])
    scores = bald_scores(samples)
    # x0: certain samples, half each way: H[mean] = log 2, E H = 0
    assert scores[0] == pytest.approx(LOG2)
    # x1: every sample unsure the same way: all of it is expected entropy, BALD 0
    assert scores[1] == pytest.approx(0.0, abs=1e-15)
    # x2: mean (0.5, 0.5), sample entropies log 2, 0, 0, log 2: BALD = log 2 - log 2 / 2
    assert scores[2] == pytest.approx(LOG2 / 2)
    # x3: the samples agree: 0
    assert scores[3] == pytest.approx(0.0, abs=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(1, 7), st.integers(2, 5))
def test_bald_is_the_mean_kl_from_the_mean_and_bounded(seed, T, n, C):
    samples = random_samples(seed, T, n, C)
    samples[:, 0, 1:] = 0.0  # exact zeros in one row
    samples[:, 0, 0] = 1.0
    scores = bald_scores(samples)
    assert np.allclose(scores, slow_bald(samples), atol=1e-12)
    assert np.all(scores >= 0)
    assert np.all(scores <= math.log(T) + 1e-12)  # I(y; w) <= H(w) = log T for T equally likely samples
    assert np.all(scores <= np.array([slow_entropy(p) for p in samples.mean(axis=0)]) + 1e-12)


def test_bald_scores_reject_bad_samples():
    with pytest.raises(ValueError, match="3-D array"):
        bald_scores(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        bald_scores(np.full((2, 3, 2), 0.3))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_samples([[[1.5, -0.5]]])


# --------------------------------------------------------------------------- BatchBALD against brute force


def slow_joint_entropy(samples, rows):
    """H[y_rows] under p(y) = mean_t prod_i p_t(y_i), summed over every label configuration."""
    T, _, C = samples.shape
    total = 0.0
    for labels in itertools.product(range(C), repeat=len(rows)):
        p = sum(math.prod(samples[t, i, y] for i, y in zip(rows, labels)) for t in range(T)) / T
        total -= p * math.log(p) if p > 0 else 0.0
    return total


def slow_batch_bald(samples, batch_size):
    """Greedy BatchBALD by enumerating every configuration: maximise H[y_batch] - sum E_t H[p_t]."""
    T, n, _ = samples.shape
    own = [sum(slow_entropy(samples[t, i]) for t in range(T)) / T for i in range(n)]
    picked = []
    for _ in range(batch_size):
        gains = [-math.inf if i in picked else
                 slow_joint_entropy(samples, picked + [i]) - own[i] - sum(own[j] for j in picked) for i in range(n)]
        picked.append(int(np.argmax(gains)))
    return picked


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 5), st.integers(3, 7), st.integers(2, 3), st.integers(1, 3))
def test_batch_bald_equals_the_brute_force_greedy(seed, T, n, C, batch_size):
    samples = random_samples(seed, T, n, C, alpha=0.7)
    assert batch_bald(samples, batch_size, max_configs=10_000).tolist() == slow_batch_bald(samples, batch_size)


@pytest.mark.parametrize("seed", range(5))
def test_batch_bald_starts_with_the_top_bald_score_and_skips_a_twin(seed):
    # confident samples (near one-hot): a twin's label is all but decided by its twin's, so it adds nothing
    samples = random_samples(seed, 8, 30, 4, alpha=0.1)
    top = int(np.argmax(bald_scores(samples)))
    samples = np.concatenate([samples, samples[:, [top]]], axis=1)  # row 30 is a twin of the top row
    picks = batch_bald(samples, 6)
    assert picks[0] == top
    assert 30 not in picks.tolist()
    order = np.argsort(-bald_scores(samples), kind="stable")
    assert set(order[:2].tolist()) == {top, 30}  # top-k BALD would take both twins


def test_joint_entropies_exact_equal_the_brute_force():
    samples = random_samples(3, 6, 9, 3, alpha=0.6)
    picked = [0, 1, 2, 3]
    exact = joint_entropies(samples, picked, max_configs=10_000)
    assert np.allclose(exact[[4, 5]], [slow_joint_entropy(samples, picked + [i]) for i in [4, 5]])
    assert np.allclose(joint_entropies(samples, []), [slow_entropy(p) for p in samples.mean(axis=0)])
    assert slow_joint_entropy(samples, picked[:3] + [4]) < exact[4]  # one more variable, more joint entropy


def test_sampled_configurations_estimate_the_joint_entropy():
    samples = random_samples(3, 6, 12, 3, alpha=0.6)
    picked = list(range(8))                                  # 3^8 = 6,561 configurations
    exact = joint_entropies(samples, picked, max_configs=10_000)
    drawn = joint_entropies(samples, picked, max_configs=4_000, rng=np.random.default_rng(0))
    assert np.allclose(exact[[8, 9]], [slow_joint_entropy(samples, picked + [i]) for i in [8, 9]])
    assert np.abs(drawn - exact)[8:].max() < 0.1, (drawn, exact)
    again = joint_entropies(samples, picked, max_configs=4_000, rng=np.random.default_rng(0))
    assert np.array_equal(drawn, again)


def test_long_batches_do_not_underflow_to_nan():
    # regression: with 285 points of 20 near-uniform classes, prod_i p_t(y_i|x_i) ~ 0.05^285 underflowed to 0, the
    # weights 1 / p to inf and the gains to NaN (argmax then picked the first NaN). Rescaled configurations stay finite.
    samples = random_samples(0, 2, 300, 20, alpha=50.0)
    picked = list(range(285))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                       # no overflow, no 0 / 0 on the way
        entropies = joint_entropies(samples, picked, max_configs=8)
    assert np.isfinite(entropies).all()
    assert entropies.min() > 285 * 2.9                      # ~ log 20 = 3.0 nats per near-uniform label, not 0 or NaN
    # the estimate does not depend on the rescaling: a short batch, exact and drawn agree
    exact = joint_entropies(samples, picked[:3], max_configs=10_000)
    drawn = joint_entropies(samples, picked[:3], max_configs=999, rng=np.random.default_rng(1))
    assert np.abs(drawn - exact).max() < 0.1


def test_batch_bald_refuses_to_pick_from_nan_gains(monkeypatch):
    import dcai_lab.bald as bald

    samples = random_samples(0, 3, 5, 2)
    monkeypatch.setattr(bald, "_joint_entropies", lambda state, s: np.full(s.shape[1], np.nan))
    with pytest.raises(FloatingPointError, match="not finite"):
        bald.batch_bald(samples, 2)


def test_batch_bald_with_certain_samples_beyond_exact():
    # one-hot samples (exact zeros): every drawn label has p > 0 in its network, no zero weights
    samples = np.eye(3)[np.random.default_rng(2).integers(0, 3, size=(5, 40))]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picks = batch_bald(samples, 20, np.random.default_rng(0), max_configs=5)
    assert len(set(picks.tolist())) == 20


def test_batch_bald_is_seeded_and_distinct_beyond_exact():
    samples = random_samples(4, 10, 60, 10, alpha=0.3)
    a = batch_bald(samples, 8, np.random.default_rng(5), max_configs=200)
    b = batch_bald(samples, 8, np.random.default_rng(5), max_configs=200)
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 8


def test_batch_bald_rejects_bad_arguments():
    samples = random_samples(0, 3, 4, 2)
    with pytest.raises(ValueError, match="batch_size"):
        batch_bald(samples, 5)
    with pytest.raises(ValueError, match="max_configs"):
        batch_bald(samples, 2, max_configs=0)
    with pytest.raises(ValueError, match="rng"):
        batch_bald(samples, 2, rng=3)


# --------------------------------------------------------------------------- the strategies


SAMPLES = np.array([[[1.0, 0.0], [0.5, 0.5], [0.9, 0.1], [1.0, 0.0], [0.6, 0.4], [0.5, 0.5]],
                    [[0.0, 1.0], [0.5, 0.5], [0.1, 0.9], [1.0, 0.0], [0.4, 0.6], [0.5, 0.5]]])
# BALD:                log 2      0          0.368      0          0.020      0 (labeled below)
LABELED = np.array([False, False, False, False, False, True])
POOL = np.arange(6, dtype=np.float64)[:, None]


def test_bald_sampling_picks_the_hand_computed_ids():
    rng = np.random.default_rng(0)
    assert bald_sampling(SampleModel(SAMPLES), POOL, LABELED, 3, rng).tolist() == [0, 2, 4]
    assert bald_sampling(SampleModel(SAMPLES), POOL, LABELED, 2, rng, candidates=[4, 1, 3]).tolist() == [4, 1]
    assert batch_bald_sampling(SampleModel(SAMPLES), POOL, LABELED, 2, rng).tolist() == [0, 2]


def test_sample_strategies_need_samples_and_a_checked_pool():
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(POOL[:2], [0, 1])
    with pytest.raises(ValueError, match="predict_proba_samples"):
        bald_sampling(model, POOL, LABELED, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="labeled"):
        bald_sampling(SampleModel(SAMPLES), POOL, LABELED[:4], 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="already labeled"):
        bald_sampling(SampleModel(SAMPLES), POOL, LABELED, 1, np.random.default_rng(0), candidates=[5])
    with pytest.raises(ValueError, match="rng"):
        batch_bald_sampling(SampleModel(SAMPLES), POOL, LABELED, 1, 0)


@pytest.fixture(scope="module")
def digits():
    return course_split()


@pytest.mark.parametrize("strategy", [bald_sampling, batch_bald_sampling])
def test_bald_strategies_in_the_loop_count_every_sample(digits, strategy):
    from dcai_lab.cnn import CNNClassifier

    pool, test = digits
    h = run_active_learning(pool.X[:300], pool.y[:300], test.X[:100], test.y[:100], strategy=strategy,
                            initial_labeled=20, batch_size=5, n_rounds=2, progress=False,
                            model=CNNClassifier(mc_samples=4, max_epochs=5))
    assert h.n_labeled == [20, 25, 30]
    assert h.n_scored[:2] == [4 * 280, 4 * 275]  # T samples x candidates
    assert len(set(np.concatenate(h.selected).tolist())) == 10


def test_bald_with_seals_picks_only_candidates(digits):
    from dcai_lab.cnn import CNNClassifier

    pool, test = digits
    h = run_seals(pool.X[:300], pool.y[:300], test.X[:100], test.y[:100], embeddings=pool.X[:300], k=5,
                  index_kind="flat", strategy=bald_sampling, initial_labeled=20, batch_size=5, n_rounds=2,
                  progress=False, model=CNNClassifier(mc_samples=3, max_epochs=5))
    assert all(size <= 5 * n for size, n in zip(h.candidate_pool_size, h.n_labeled))
    assert h.n_scored[0] == 3 * h.candidate_pool_size[0]
