"""Tests of dcai_lab.rare: the rare-concept search experiment of the SEALS paper."""

import numpy as np
import pytest

from dcai_lab.augment import augment_pool
from dcai_lab.data import make_rare
from dcai_lab.knn import KnnIndex
from dcai_lab.rare import (RARE_METHODS, initial_rare_labels, positives_found, rare_average_precision,
                           rare_concept_search)


@pytest.fixture(scope="module")
def rare_task(course):
    train, test = course
    pool = make_rare(augment_pool(train, 3000, seed=0), rare_class=3, prevalence=0.01, seed=0)
    return pool.X, pool.y == 3, test.X, test.y == 3


@pytest.fixture(scope="module")
def rare_index(rare_task):
    return KnnIndex(rare_task[0], kind="flat")


def test_initial_rare_labels_and_positives_found():
    is_positive = np.zeros(1000, bool)
    is_positive[::50] = True
    ids = initial_rare_labels(is_positive, n_positives=5, n_negatives=95, seed=0)
    assert len(np.unique(ids)) == 100 and is_positive[ids].sum() == 5 and np.all(np.diff(ids) > 0)
    assert positives_found(ids, is_positive) == 5 / 20
    assert initial_rare_labels(is_positive.astype(int), seed=0).tolist() == ids.tolist()  # 1/0 flags work too
    assert positives_found(np.r_[ids, ids], is_positive) == 5 / 20  # a repeated id counts once


@pytest.mark.parametrize("call, message", [
    (lambda p: initial_rare_labels(p, n_positives=21), r"n_positives must be an integer in 1\.\.20, got 21 \(the pool"),
    (lambda p: initial_rare_labels(p, n_negatives=-1), r"n_negatives must be an integer in 0\.\.980, got -1"),
    (lambda p: initial_rare_labels(p, seed="x"), r"seed must be an integer >= 0, got 'x'"),
    (lambda p: initial_rare_labels(p.astype(float) * 0.5), r"is_positive must be True/False \(or 1/0\) per item"),
    (lambda p: positives_found([1000], p), r"labeled_ids must be pool ids in 0\.\.999"),
    (lambda p: positives_found([0.5], p), r"labeled_ids must be integer pool ids"),
    (lambda p: positives_found([1], np.zeros(5, bool)), "is_positive has no positive item"),
])
def test_rare_label_helpers_reject_bad_input(call, message):
    is_positive = np.zeros(1000, bool)
    is_positive[::50] = True
    with pytest.raises(ValueError, match=message):
        call(is_positive)


def test_rare_average_precision_of_a_perfect_and_a_constant_model():
    from sklearn.linear_model import LogisticRegression

    X = np.r_[np.zeros((30, 1)), np.ones((10, 1))]
    positive = X[:, 0] == 1
    model = LogisticRegression().fit(X, positive.astype(int))
    assert rare_average_precision(model, X, positive) == 1.0
    only_negatives = LogisticRegression().fit(np.r_[X, X + 2], np.r_[np.zeros(40), np.full(40, 2)].astype(int))
    assert rare_average_precision(only_negatives, X, positive) == pytest.approx(0.25)  # the prevalence
    with pytest.raises(ValueError, match=r"model \(object\) has no predict_proba"):
        rare_average_precision(object(), X, positive)
    with pytest.raises(ValueError, match=r"is_positive_test must have one flag per item \(40\)"):
        rare_average_precision(model, X, positive[:5])


def test_rare_concept_search_methods(rare_task, rare_index):
    X, pos, X_test, pos_test = rare_task
    options = dict(index=rare_index, k=10, batch_size=10, n_rounds=3, seed=0)
    frames = {m: rare_concept_search(m, X, pos, X_test, pos_test, **options) for m in RARE_METHODS}
    n_pos = int(pos.sum())
    for method, f in frames.items():
        assert f["method"].eq(method).all()
        assert f["n_labeled"].tolist() == [100, 110, 120, 130]
        assert f["positives_found"].iloc[0] == 5 / n_pos, "every method starts from the same 5 positives"
        assert f["positives_found"].is_monotonic_increasing
        assert f["average_precision"].between(pos_test.mean(), 1).all()
    assert frames["full MaxEnt"]["n_scored"].tolist()[:3] == [len(X) - 100, len(X) - 110, len(X) - 120]
    seals = frames["SEALS + MaxEnt"]
    assert (seals["n_scored"].iloc[:3] <= seals["n_labeled"].iloc[:3] * 10).all()
    assert frames["random"]["n_scored"].eq(0).all()
    # the refitted model of round 0 is the loop's: same labels, same fit
    first = frames["random"]["average_precision"].iloc[0]
    assert all(f["average_precision"].iloc[0] == first for f in frames.values())


def test_rare_concept_search_bad_input(rare_task):
    X, pos, X_test, pos_test = rare_task
    with pytest.raises(ValueError, match=r"method must be one of 'random', 'full MaxEnt', .*got 'MaxEnt'"):
        rare_concept_search("MaxEnt", X, pos, X_test, pos_test)
    with pytest.raises(ValueError, match="needs index="):
        rare_concept_search("SEALS + ID", X, pos, X_test, pos_test)
    with pytest.raises(ValueError, match=r"is_positive must have one flag per item \(\d+\), got shape \(89,\)"):
        rare_concept_search("random", X, pos[:89], X_test, pos_test)
    with pytest.raises(ValueError, match=r"is_positive_test must have one flag per item"):
        rare_concept_search("random", X, pos, X_test, pos_test[:-1])


def test_rare_search_finds_more_positives_than_random(rare_task, rare_index):
    X, pos, X_test, pos_test = rare_task
    found = {m: rare_concept_search(m, X, pos, X_test, pos_test, index=rare_index, k=20, batch_size=10,
                                    n_rounds=5, seed=0)["positives_found"].iloc[-1] for m in RARE_METHODS}
    assert found["SEALS + MaxEnt"] > found["random"] and found["full MaxEnt"] > found["random"]
