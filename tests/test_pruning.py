"""Tests of dcai_lab.pruning: the prototype, EL2N and random scores, and keeping the easy or hard end."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.pruning import (distance_to_nearest_centroid, el2n_scores, nearest_centroid, prototype_scores,
                              random_scores, select)


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force_distances(x, c):
    """One example and one centroid at a time: 1 - max_j cos(x_i, c_j)."""
    out = []
    for xi in x:
        cosines = [xi @ cj / (np.linalg.norm(xi) * np.linalg.norm(cj)) for cj in c]
        out.append(1 - max(cosines))
    return np.array(out)


def separated_blobs(n_clusters=10, per_cluster=30, dim=16, spread=0.05, seed=0):
    """``n_clusters`` tight clusters around orthogonal directions of the sphere, and their labels."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.standard_normal((dim, dim)))[0][:n_clusters]
    x = np.concatenate([c + spread * rng.standard_normal((per_cluster, dim)) for c in centres])
    return x, np.repeat(np.arange(n_clusters), per_cluster)


def recovered(clusters, labels) -> bool:
    """Every true cluster has its own centroid: one assignment per cluster, a different one for each."""
    per_cluster = [np.unique(clusters[labels == c]) for c in np.unique(labels)]
    return all(len(a) == 1 for a in per_cluster) and len({int(a[0]) for a in per_cluster}) == len(per_cluster)


# --------------------------------------------------------------------------- prototype metric


def test_distance_to_nearest_centroid_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 7))
    c = rng.normal(size=(4, 7)) * rng.uniform(0.5, 3, size=(4, 1))  # unnormalised centroids
    d = distance_to_nearest_centroid(x, c)
    np.testing.assert_allclose(d, brute_force_distances(x, c), atol=1e-12)
    assert d.shape == (50,) and d.min() >= 0 and d.max() <= 2
    np.testing.assert_array_equal(nearest_centroid(x, c), (unit(x) @ unit(c).T).argmax(axis=1))


def test_distance_is_zero_at_a_centroid_and_two_opposite():
    c = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    x = np.array([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    np.testing.assert_allclose(distance_to_nearest_centroid(x, c), [0, 0], atol=1e-12)
    np.testing.assert_allclose(distance_to_nearest_centroid(-c[:1], c[:1]), [2.0])
    assert nearest_centroid(np.array([[1.0, 1.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])).tolist() == [0]  # a tie


def test_prototype_scores_consistent_with_returned_centroids(digits):
    scores, clusters, centroids = prototype_scores(digits.X, n_clusters=10, seed=0, return_clusters=True)
    assert scores.shape == (len(digits),) and clusters.shape == (len(digits),)
    assert centroids.shape == (10, 64) and centroids.dtype == np.float32 and clusters.dtype == np.int64
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1, atol=1e-5)  # spherical k-means
    np.testing.assert_allclose(scores[:100], brute_force_distances(digits.X[:100], centroids), atol=1e-6)
    np.testing.assert_allclose(scores, distance_to_nearest_centroid(digits.X, centroids), atol=1e-6)
    cos = unit(digits.X) @ centroids.T.astype(np.float64)
    np.testing.assert_array_equal(clusters, cos.argmax(axis=1))
    assert len(np.unique(clusters)) == 10
    # deterministic, and scores alone equal the first output
    np.testing.assert_array_equal(prototype_scores(digits.X, n_clusters=10, seed=0), scores)


def test_prototype_scores_recover_separated_clusters_for_every_seed():
    """Regression (issue 12): faiss k-means from one random start merged well-separated clusters (two centroids
    in one cluster, one centroid over two) for 17 of these 20 seeds; k-means++ with restarts recovers them."""
    x, labels = separated_blobs()
    for seed in range(20):
        scores, clusters, _ = prototype_scores(x, n_clusters=10, seed=seed, return_clusters=True)
        assert recovered(clusters, labels), f"seed {seed} merged clusters"
        assert scores.max() < 0.05  # every point is close to its own prototype
        _, single_start, _ = prototype_scores(x, n_clusters=10, seed=seed, n_init=1, return_clusters=True)
        assert recovered(single_start, labels), f"seed {seed}, one k-means++ start, merged clusters"


def test_prototype_scores_are_deterministic_by_seed():
    x, _ = separated_blobs(n_clusters=4, spread=0.6, seed=1)   # overlapping clusters: runs can differ
    a = prototype_scores(x, n_clusters=6, seed=3, return_clusters=True)
    b = prototype_scores(x, n_clusters=6, seed=3, return_clusters=True)
    for first, second in zip(a, b):
        np.testing.assert_array_equal(first, second)
    others = [prototype_scores(x, n_clusters=6, seed=s, n_init=1) for s in range(4)]
    assert any(not np.array_equal(others[0], o) for o in others[1:]), "the seed picks the k-means++ starts"


def test_more_restarts_never_give_a_worse_inertia():
    x, _ = separated_blobs(n_clusters=4, spread=0.6, seed=2)
    one = prototype_scores(x, n_clusters=8, seed=0, n_init=1)
    five = prototype_scores(x, n_clusters=8, seed=0, n_init=5)  # run 0 of the five is the single run
    assert five.sum() <= one.sum() + 1e-9


def test_prototype_scores_rank_outliers_as_hard():
    rng = np.random.default_rng(1)
    typical = rng.normal([10, 0, 0], 0.5, size=(60, 3))
    outliers = rng.normal([0, 10, 0], 0.5, size=(3, 3)) + typical[:3]  # halfway between directions
    scores = prototype_scores(np.concatenate([typical, outliers]), n_clusters=1)
    assert set(select(scores, 3 / 63, keep="hard")) == {60, 61, 62}


def test_prototype_scores_edge_cluster_counts():
    x = np.random.default_rng(2).normal(size=(12, 4))
    one = prototype_scores(x, n_clusters=1)
    assert one.shape == (12,) and np.all(one >= 0)
    all_points = prototype_scores(x, n_clusters=12)  # every point its own prototype
    np.testing.assert_allclose(all_points, 0, atol=1e-5)


@pytest.mark.parametrize("scale, dtype", [(1e200, np.float64), (1e-200, np.float64), (1e20, np.float32)])
def test_huge_and_tiny_embeddings_give_the_same_prototype_scores(scale, dtype):
    """Regression (issue 12): x1e200, x1e-200 and float32 x1e20 gave zero scores or NaN."""
    x, labels = separated_blobs(n_clusters=5, per_cluster=20, dim=8, spread=0.2, seed=3)
    scaled = (x * scale).astype(dtype)
    exact = scaled.astype(np.float64) / scale
    a = prototype_scores(scaled, n_clusters=5, seed=0, return_clusters=True)
    b = prototype_scores(exact, n_clusters=5, seed=0, return_clusters=True)
    np.testing.assert_allclose(a[0], b[0], atol=1e-6)
    np.testing.assert_array_equal(a[1], b[1])
    c = np.random.default_rng(4).standard_normal((3, 8))
    np.testing.assert_allclose(distance_to_nearest_centroid(scaled, c * scale),
                               distance_to_nearest_centroid(exact, c), atol=1e-6)
    np.testing.assert_array_equal(nearest_centroid(scaled, c * scale), nearest_centroid(exact, c))


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_clusters=0), r"n_clusters must be an integer in 1\.\.5, got 0 \(at most the number of examples\)"),
    (dict(n_clusters=6), r"n_clusters must be an integer in 1\.\.5, got 6"),
    (dict(n_clusters=2.5), r"n_clusters must be an integer in 1\.\.5, got 2\.5"),
    (dict(n_clusters=1, niter=0), r"niter must be an integer >= 1, got 0"),   # regression: niter=0 was accepted
    (dict(n_clusters=1, n_init=0), r"n_init must be an integer >= 1, got 0"),
    (dict(n_clusters=1, seed=-1), r"seed must be an integer >= 0, got -1"),
    (dict(n_clusters=1, return_clusters=1), r"return_clusters must be True or False, got 1"),
])
def test_prototype_scores_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        prototype_scores(np.random.default_rng(0).normal(size=(5, 3)), **kwargs)


@pytest.mark.parametrize("embeddings, match", [
    (np.array([[1.0, np.nan], [1.0, 2.0]]), r"embeddings must be finite \(row 0"),
    (np.array([[1.0, np.inf], [1.0, 2.0]]), r"embeddings must be finite \(row 0"),
    (np.array([[1.0, 2.0], [0.0, 0.0]]), r"embeddings rows \[1\] are all zero"),
    (np.ones(4), r"embeddings must be a 2-D array"),
    (np.ones((0, 3)), r"embeddings must have at least 1 row"),
    (np.array([["a", "b"]]), r"embeddings must hold real numbers"),
])
def test_prototype_scores_rejects_bad_embeddings(embeddings, match):
    with pytest.raises(ValueError, match=match):
        prototype_scores(embeddings, n_clusters=1)


def test_distance_rejects_bad_centroids():
    with pytest.raises(ValueError, match=r"centroids must have 2 columns, got shape \(1, 3\)"):
        distance_to_nearest_centroid(np.ones((3, 2)), np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"centroids rows \[0\] are all zero"):
        distance_to_nearest_centroid(np.ones((3, 2)), np.zeros((1, 2)))
    with pytest.raises(ValueError, match=r"centroids must have at least 1 row"):
        nearest_centroid(np.ones((3, 2)), np.zeros((0, 2)))


# --------------------------------------------------------------------------- EL2N and random


def test_el2n_shape_bounds_and_mislabelled_points(digits):
    rng = np.random.default_rng(0)
    y = digits.y.copy()
    flipped = rng.choice(len(y), 100, replace=False)
    y[flipped] = (y[flipped] + rng.integers(1, 10, size=100)) % 10  # always a different class
    scores = el2n_scores(digits.X, y, n_models=3, epochs=10, seed=0)
    assert scores.shape == (len(y),)
    assert np.all(scores >= 0) and np.all(scores <= np.sqrt(2) + 1e-12)
    clean = np.setdiff1d(np.arange(len(y)), flipped)
    assert scores[flipped].mean() > scores[clean].mean() + 0.2
    # the mislabelled points crowd the hard end
    assert len(np.intersect1d(select(scores, 0.1, keep="hard"), flipped)) > 50
    np.testing.assert_array_equal(scores, el2n_scores(digits.X, y, n_models=3, epochs=10, seed=0))


def test_el2n_accepts_string_labels():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = np.array(["cat", "dog", "eel"] * 10)
    scores = el2n_scores(X, y, n_models=1, epochs=1)
    assert scores.shape == (30,) and np.all((scores >= 0) & (scores <= np.sqrt(2)))


@pytest.mark.parametrize("kwargs, match", [
    (dict(X=np.ones(5), y=np.zeros(5)), r"X must be a 2-D array"),
    (dict(X=np.full((2, 2), np.nan), y=[0, 1]), r"X must be finite"),
    (dict(X=np.ones((3, 2)), y=[0, 1]), r"y must have one label per item \(3\), got 2"),
    (dict(X=np.ones((3, 2)), y=[0, 0, 0]), r"y must hold at least 2 classes"),
    (dict(X=np.ones((2, 2)), y=[0, 1], n_models=0), r"n_models must be an integer >= 1, got 0"),
    (dict(X=np.ones((2, 2)), y=[0, 1], epochs=1.5), r"epochs must be an integer >= 1, got 1\.5"),
    (dict(X=np.ones((2, 2)), y=[0, 1], hidden=0), r"hidden must be an integer >= 1, got 0"),
    (dict(X=np.ones((2, 2)), y=[0.5, 1]), r"y must hold class labels \(whole numbers\)"),
])
def test_el2n_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        el2n_scores(**kwargs)


def test_random_scores():
    a = random_scores(100, seed=3)
    assert a.shape == (100,) and np.all((a >= 0) & (a < 1))
    np.testing.assert_array_equal(a, random_scores(100, seed=3))
    assert not np.array_equal(a, random_scores(100, seed=4))
    with pytest.raises(ValueError, match=r"n must be an integer >= 1, got 0 \(the number of examples\)"):
        random_scores(0)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got 'a'"):
        random_scores(3, seed="a")


# --------------------------------------------------------------------------- select


@settings(max_examples=200, deadline=None, derandomize=True)
@given(scores=st.lists(st.floats(-1e6, 1e6) | st.integers(-3, 3).map(float), min_size=1, max_size=60),
       fraction=st.floats(0, 1, exclude_min=True), keep=st.sampled_from(["hard", "easy"]))
def test_select_keeps_exactly_round_f_n_from_the_tail(scores, fraction, keep):
    scores = np.array(scores)
    n = len(scores)
    kept = select(scores, fraction, keep=keep)
    assert len(kept) == round(fraction * n)
    assert len(np.unique(kept)) == len(kept) and np.all(np.diff(kept) > 0)  # distinct, sorted
    assert np.all((kept >= 0) & (kept < n))
    dropped = np.setdiff1d(np.arange(n), kept)
    if len(kept) and len(dropped):  # every kept score is at least as extreme as every dropped one
        if keep == "hard":
            assert scores[kept].min() >= scores[dropped].max()
        else:
            assert scores[kept].max() <= scores[dropped].min()
    np.testing.assert_array_equal(kept, select(scores, fraction, keep=keep))  # deterministic


@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.data(), n_classes=st.integers(1, 4), fraction=st.floats(0, 1, exclude_min=True),
       keep=st.sampled_from(["hard", "easy"]))
def test_select_class_balanced_keeps_round_f_n_c_per_class(data, n_classes, fraction, keep):
    n = data.draw(st.integers(1, 50))
    labels = np.array(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)))
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)))
    kept = select(scores, fraction, keep=keep, class_balanced=True, labels=labels)
    assert len(np.unique(kept)) == len(kept) and np.all(np.diff(kept) > 0)
    expected_total = 0
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        in_class = np.intersect1d(kept, members)
        assert len(in_class) == round(fraction * len(members))
        expected_total += round(fraction * len(members))
        # within the class, the same as selecting on the class alone
        if len(in_class):
            np.testing.assert_array_equal(
                in_class, members[select(scores[members], fraction, keep=keep)])
    assert len(kept) == expected_total


@settings(max_examples=100, deadline=None, derandomize=True)
@given(n=st.integers(1, 80), k=st.integers(0, 80), seed=st.integers(0, 2**32 - 1))
def test_easy_and_hard_are_complements(n, k, seed):
    k = min(k, n)
    scores = np.random.default_rng(seed).permutation(n).astype(float)  # no ties
    f = k / n
    easy = select(scores, 1 - f, keep="easy") if k < n else np.array([], dtype=np.int64)
    hard = select(scores, f, keep="hard") if k > 0 else np.array([], dtype=np.int64)
    assert len(hard) == k and len(easy) == n - k
    np.testing.assert_array_equal(np.sort(np.concatenate([easy, hard])), np.arange(n))


def test_select_breaks_ties_by_index():
    scores = np.zeros(6)
    assert select(scores, 0.5, keep="easy").tolist() == [0, 1, 2]
    assert select(scores, 0.5, keep="hard").tolist() == [3, 4, 5]
    assert select([1.0, 2.0, 2.0, 2.0], 0.5, keep="hard").tolist() == [2, 3]


def test_select_rounding_is_pythons_round():
    # round(2.5) == 2 and round(3.5) == 4: a half goes to the even number
    assert len(select(np.arange(5.0), 0.5)) == 2
    assert len(select(np.arange(7.0), 0.5)) == 4
    assert len(select(np.arange(10.0), 0.04)) == 0
    assert len(select(np.arange(10.0), 1.0)) == 10


@pytest.mark.parametrize("kwargs, match", [
    (dict(keep_fraction=1.5), r"keep_fraction must be a finite number in \(0, 1\], got 1.5"),
    (dict(keep_fraction=0), r"keep_fraction must be a finite number in \(0, 1\], got 0"),
    (dict(keep_fraction=-0.1), r"keep_fraction must be a finite number in \(0, 1\], got -0.1"),
    (dict(keep_fraction=float("nan")), r"keep_fraction must be a finite number in \(0, 1\], got nan"),
    (dict(keep_fraction="half"), r"keep_fraction must be a finite number in \(0, 1\], got 'half'"),
    (dict(keep_fraction=True), r"keep_fraction must be a finite number in \(0, 1\], got True"),
    (dict(keep_fraction=0.5, keep="medium"), "keep must be one of 'hard', 'easy', got 'medium'"),
    (dict(keep_fraction=0.5, class_balanced=True), "labels must be given when class_balanced=True"),
    (dict(keep_fraction=0.5, class_balanced=True, labels=[0, 1]), r"labels must have one label per item \(4\)"),
    (dict(keep_fraction=0.5, labels=[0, 1]), r"labels must have one label per item \(4\), got 2"),
    (dict(keep_fraction=0.5, class_balanced="yes"), r"class_balanced must be True or False, got 'yes'"),
])
def test_select_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        select(np.arange(4.0), **kwargs)


@pytest.mark.parametrize("scores, match", [
    (np.array([1.0, np.nan]), r"scores must be finite \(entry 1 is nan\)"),
    (np.array([]), r"scores must have at least 1 entry, got none"),
    (np.ones((2, 2)), r"scores must be a 1-D array"),
    (np.array(["a", "b"]), r"scores must hold real numbers"),
])
def test_select_rejects_bad_scores(scores, match):
    with pytest.raises(ValueError, match=match):
        select(scores, 0.5)
