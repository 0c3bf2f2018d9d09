"""BADGE: gradient embeddings against autograd, k-means++ seeding against a slow reference, the strategy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from dcai_lab.active import run_active_learning
from dcai_lab.badge import badge_sampling, gradient_embeddings, kmeans_pp_seeding
from dcai_lab.data import course_split
from dcai_lab.seals import run_seals


def test_gradient_embeddings_by_hand():
    probs = np.array([[0.2, 0.7, 0.1]])
    hidden = np.array([[2.0, -1.0]])
    # y_hat = 1: (p - e_1) = (0.2, -0.3, 0.1), outer (2, -1)
    assert np.allclose(gradient_embeddings(probs, hidden), [[0.4, -0.2, -0.6, 0.3, 0.2, -0.1]])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.integers(2, 5), st.integers(1, 4))
def test_gradient_embeddings_are_the_last_layer_gradient(seed, n, C, D):
    """The gradient of cross-entropy(W h, y_hat) with respect to W, computed by torch's autograd."""
    import torch

    rng = np.random.default_rng(seed)
    W = torch.tensor(rng.standard_normal((C, D)), requires_grad=True)
    h = torch.tensor(rng.standard_normal((n, D)))
    logits = h @ W.T
    probs = torch.softmax(logits, dim=1).detach().numpy()
    want = []
    for i in range(n):
        W.grad = None
        torch.nn.functional.cross_entropy(logits[i:i + 1], torch.tensor([int(probs[i].argmax())])).backward(
            retain_graph=True)
        want.append(W.grad.numpy().ravel().copy())
    assert np.allclose(gradient_embeddings(probs, h.numpy()), want, atol=1e-12)


def slow_kmeans_pp(vectors, k, rng):
    """k-means++ seeding with loops: the same random draws as kmeans_pp_seeding."""
    n = len(vectors)
    norms = [sum(x * x for x in v) for v in vectors]
    picked = [max(range(n), key=lambda i: (norms[i], -i))]
    while len(picked) < k:
        d2 = [0.0 if i in picked else min(sum((a - b) ** 2 for a, b in zip(vectors[i], vectors[j])) for j in picked)
              for i in range(n)]
        total = sum(d2)
        if total > 0:
            picked.append(int(rng.choice(n, p=np.array(d2) / total)))
        else:
            picked.append(int(rng.choice([i for i in range(n) if i not in picked])))
    return picked


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 12), st.integers(1, 4), st.data())
def test_kmeans_pp_seeding_equals_the_slow_reference(seed, n, d, data):
    vectors = np.random.default_rng(seed).integers(-3, 4, size=(n, d)).astype(float)  # duplicates are likely
    k = data.draw(st.integers(1, n))
    got = kmeans_pp_seeding(vectors, k, np.random.default_rng(seed))
    assert got.tolist() == slow_kmeans_pp(vectors, k, np.random.default_rng(seed))
    assert len(set(got.tolist())) == k


def test_kmeans_pp_draws_with_squared_distances():
    v = np.array([[0.0, 10.0], [0.0, 9.0], [0.0, 8.0]])  # first: the longest, row 0; then D^2 = 1 and 4
    seconds = [kmeans_pp_seeding(v, 2, np.random.default_rng(s))[1] for s in range(4000)]
    share = np.mean(np.array(seconds) == 2)
    assert abs(share - 4 / 5) < 0.03  # drawn with D instead of D^2 it would be 2 / 3


def test_kmeans_pp_identical_rows_fall_back_to_uniform():
    picks = kmeans_pp_seeding(np.ones((5, 3)), 5, np.random.default_rng(0))
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4] and picks[0] == 0


def test_kmeans_pp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="k must be"):
        kmeans_pp_seeding(np.ones((3, 2)), 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        kmeans_pp_seeding(np.ones((3, 2)), 1, 0)
    with pytest.raises(ValueError, match="hidden must have 2 rows"):
        gradient_embeddings(np.full((2, 2), 0.5), np.ones((3, 4)))


@pytest.fixture(scope="module")
def digits():
    return course_split()


def test_badge_with_logistic_regression_uses_the_features(digits):
    pool, _ = digits
    labeled = np.zeros(400, bool)
    labeled[:30] = True
    model = LogisticRegression(max_iter=1000).fit(pool.X[:30], pool.y[:30])
    picks = badge_sampling(model, pool.X[:400], labeled, 10, np.random.default_rng(4))
    ids = np.arange(30, 400)
    want = ids[kmeans_pp_seeding(gradient_embeddings(model.predict_proba(pool.X[ids]), pool.X[ids]), 10,
                                 np.random.default_rng(4))]
    assert picks.tolist() == want.tolist()
    assert len(set(picks.tolist())) == 10 and not labeled[picks].any()
    some = badge_sampling(model, pool.X[:400], labeled, 3, np.random.default_rng(4), candidates=[50, 60, 70, 80])
    assert set(some.tolist()) <= {50, 60, 70, 80} and len(set(some.tolist())) == 3


def test_badge_with_the_cnn_in_the_loop_and_in_seals(digits):
    from dcai_lab.cnn import CNNClassifier

    pool, test = digits
    model = CNNClassifier(max_epochs=5)
    h = run_active_learning(pool.X[:300], pool.y[:300], test.X[:100], test.y[:100], strategy=badge_sampling,
                            initial_labeled=20, batch_size=8, n_rounds=2, model=model, progress=False)
    assert h.n_scored[:2] == [280, 272]
    s = run_seals(pool.X[:300], pool.y[:300], test.X[:100], test.y[:100], embeddings=pool.X[:300], k=4,
                  index_kind="flat", strategy=badge_sampling, initial_labeled=20, batch_size=8, n_rounds=1,
                  model=model, progress=False)
    assert s.n_scored[0] == s.candidate_pool_size[0] <= 80
