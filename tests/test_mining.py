"""Mining the pool for data like a model's failures (dcai_lab.mining, dcai_lab.failures.failure_mask)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from dcai_lab.failures import failure_mask, failure_report
from dcai_lab.knn import KnnIndex
from dcai_lab.mining import mine_similar, next_batch

POINTS = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.3], [0.0, 1.0], [0.1, 0.9], [-1.0, 0.0]])


def test_failure_mask_counts_wrong_and_unsure_items():
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.2, 0.8], [0.6, 0.4]])
    got = failure_mask(probs, [0, 0, 0, 1, 0], classes=[0, 1], low_confidence=0.6).tolist()
    assert got == [False, True, True, False, False], "0.6 is not below low_confidence=0.6: not a failure"


def test_failure_mask_follows_the_columns_of_classes():
    assert failure_mask([[0.7, 0.3], [0.2, 0.8]], [5, 5], classes=[5, 7]).tolist() == [False, True]


def test_failure_mask_agrees_with_the_report():
    rng = np.random.default_rng(1)
    probs, y = rng.dirichlet(np.ones(10), size=300), rng.integers(0, 10, 300)
    assert failure_mask(probs, y, low_confidence=0.3).sum() == failure_report(y, probs, low_confidence=0.3)[
        "failures"].sum()


def test_mine_similar_keeps_each_id_once_at_its_best_similarity():
    index, free = KnnIndex(POINTS), np.zeros(6, dtype=bool)
    # id 2: cos 0.936 to (1, 0), 0.733 to (0.5, 1); ranked by its best, in either query order
    for queries in ([[0.5, 1.0], [1.0, 0.0]], [[1.0, 0.0], [0.5, 1.0]]):
        assert mine_similar(index, np.array(queries), free, k=3, budget=10).tolist() == [0, 1, 4, 2, 3]


def test_mine_similar_leaves_out_labeled_and_missing_ids():
    class Missing(KnnIndex):
        def search(self, queries, k):  # an index whose graph reached only some points: -1 = not found
            sims, ids = super().search(queries, k)
            ids[:, -1], sims[:, -1] = -1, -np.inf
            return sims, ids

    labeled = np.array([True, False, False, False, False, False])
    assert mine_similar(Missing(POINTS), np.array([[1.0, 0.0]]), labeled, k=3, budget=5).tolist() == [1]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(1, 6), st.integers(1, 8), st.integers(0, 2**31 - 1))
def test_mine_similar_equals_a_slow_reference(k, budget, seed):
    rng = np.random.default_rng(seed)
    x, queries = rng.standard_normal((40, 4)), rng.standard_normal((3, 4))
    labeled = rng.random(40) < 0.3
    index = KnnIndex(x)
    sims, ids = index.search(queries, k)
    best = {}
    for s, i in zip(sims.ravel(), ids.ravel()):
        if not labeled[i]:
            best[int(i)] = max(best.get(int(i), -np.inf), float(s))
    expected = sorted(best, key=lambda i: (-best[i], i))[:budget]
    assert mine_similar(index, queries, labeled, k, budget).tolist() == expected


def test_next_batch_mines_next_to_the_weakest_class():
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 5
    z_pool = np.concatenate([c + rng.normal(0, 0.3, (30, 3)) for c in centres])
    y_pool = np.repeat([0, 1, 2], 30)
    z_val = np.concatenate([c + rng.normal(0, 0.3, (10, 3)) for c in centres])
    y_val = np.repeat([0, 1, 2], 10)
    labeled = np.zeros(90, dtype=bool)
    labeled[[0, 1, 30, 31]] = True  # no label of class 2: the model never predicts it
    model = LogisticRegression().fit(z_pool[labeled], y_pool[labeled])
    weakest, ids = next_batch(model, KnnIndex(z_pool), z_val, y_val, labeled, [0, 1, 2], budget=8, k=5)
    assert weakest == 2 and len(ids) == 8 and (y_pool[ids] == 2).all() and not labeled[ids].any()


def test_bad_inputs_name_the_argument():
    index = KnnIndex(POINTS)
    with pytest.raises(ValueError, match="labeled"):
        mine_similar(index, POINTS[:1], np.zeros(5, bool), 2, 2)
    with pytest.raises(ValueError, match="budget"):
        mine_similar(index, POINTS[:1], np.zeros(6, bool), 2, 0)
    with pytest.raises(ValueError, match="low_confidence"):
        failure_mask([[0.5, 0.5]], [0], low_confidence=0)
