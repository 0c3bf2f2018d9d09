import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.data import load_digits
from dcai_lab.pruning import (distance_to_nearest_centroid, el2n_scores, nearest_centroid, normalize_rows,
                              prototype_scores, random_scores, select)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


# --------------------------------------------------------------------------- prototype metric


def brute_force_distances(x, c):
    """One example and one centroid at a time: 1 - max_j cos(x_i, c_j)."""
    out = []
    for xi in x:
        cosines = [xi @ cj / (np.linalg.norm(xi) * np.linalg.norm(cj)) for cj in c]
        out.append(1 - max(cosines))
    return np.array(out)


def test_distance_to_nearest_centroid_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 7))
    c = rng.normal(size=(4, 7)) * rng.uniform(0.5, 3, size=(4, 1))  # unnormalised centroids
    d = distance_to_nearest_centroid(x, c)
    np.testing.assert_allclose(d, brute_force_distances(x, c), atol=1e-12)
    assert d.shape == (50,) and d.min() >= 0 and d.max() <= 2
    cos = normalize_rows(x) @ normalize_rows(c).T
    np.testing.assert_array_equal(nearest_centroid(x, c), cos.argmax(axis=1))


def test_distance_is_zero_at_a_centroid_and_two_opposite():
    c = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    x = np.array([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    np.testing.assert_allclose(distance_to_nearest_centroid(x, c), [0, 0], atol=1e-12)
    np.testing.assert_allclose(distance_to_nearest_centroid(-c[:1], c[:1]), [2.0])


def test_prototype_scores_consistent_with_returned_centroids(digits):
    scores, clusters, centroids = prototype_scores(digits.X, n_clusters=10, seed=0, return_clusters=True)
    assert scores.shape == (len(digits),) and clusters.shape == (len(digits),)
    assert centroids.shape == (10, 64)
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1, atol=1e-5)  # spherical k-means
    np.testing.assert_allclose(scores[:100], brute_force_distances(digits.X[:100], centroids), atol=1e-6)
    np.testing.assert_allclose(scores, distance_to_nearest_centroid(digits.X, centroids), atol=1e-12)
    x = normalize_rows(digits.X)
    cos = x.astype(np.float64) @ centroids.T.astype(np.float64)
    np.testing.assert_array_equal(clusters, cos.argmax(axis=1))
    assert len(np.unique(clusters)) == 10
    # deterministic, and scores alone equal the first output
    np.testing.assert_array_equal(prototype_scores(digits.X, n_clusters=10, seed=0), scores)


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


@pytest.mark.parametrize("n_clusters, match", [
    (0, r"n_clusters must be in \[1, 5\].*got 0"),
    (6, r"n_clusters must be in \[1, 5\].*got 6"),
    (2.5, r"n_clusters must be an integer in \[1, 5\]"),
])
def test_prototype_scores_rejects_bad_n_clusters(n_clusters, match):
    with pytest.raises(ValueError, match=match):
        prototype_scores(np.ones((5, 3)), n_clusters=n_clusters)


@pytest.mark.parametrize("embeddings, match", [
    (np.array([[1.0, np.nan], [1.0, 2.0]]), "embeddings must be finite"),
    (np.array([[1.0, np.inf], [1.0, 2.0]]), "embeddings must be finite"),
    (np.array([[1.0, 2.0], [0.0, 0.0]]), r"no all-zero rows.*rows \[1\]"),
    (np.ones(4), "non-empty 2-D array"),
    (np.ones((0, 3)), "non-empty 2-D array"),
    (np.array([["a", "b"]]), "real numbers"),
])
def test_prototype_scores_rejects_bad_embeddings(embeddings, match):
    with pytest.raises(ValueError, match=match):
        prototype_scores(embeddings, n_clusters=1)


def test_distance_rejects_bad_centroids():
    with pytest.raises(ValueError, match="centroids must have as many columns as embeddings"):
        distance_to_nearest_centroid(np.ones((3, 2)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="centroids must have no all-zero rows"):
        distance_to_nearest_centroid(np.ones((3, 2)), np.zeros((1, 2)))


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
    (dict(X=np.ones(5), y=np.zeros(5)), "X must be a non-empty 2-D array"),
    (dict(X=np.full((2, 2), np.nan), y=[0, 1]), "X must be finite"),
    (dict(X=np.ones((3, 2)), y=[0, 1]), "y must be a 1-D array with one label per row of X"),
    (dict(X=np.ones((3, 2)), y=[0, 0, 0]), "at least two classes"),
    (dict(X=np.ones((2, 2)), y=[0, 1], n_models=0), "n_models must be a positive integer"),
    (dict(X=np.ones((2, 2)), y=[0, 1], epochs=1.5), "epochs must be a positive integer"),
])
def test_el2n_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        el2n_scores(**kwargs)


def test_random_scores():
    a = random_scores(100, seed=3)
    assert a.shape == (100,) and np.all((a >= 0) & (a < 1))
    np.testing.assert_array_equal(a, random_scores(100, seed=3))
    assert not np.array_equal(a, random_scores(100, seed=4))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        random_scores(0)


# --------------------------------------------------------------------------- select


@settings(max_examples=200, deadline=None)
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


@settings(max_examples=100, deadline=None)
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


@settings(max_examples=100, deadline=None)
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
    (dict(keep_fraction=1.5), r"keep_fraction must be in \(0, 1\], got 1.5"),
    (dict(keep_fraction=0), r"keep_fraction must be in \(0, 1\], got 0"),
    (dict(keep_fraction=-0.1), r"keep_fraction must be in \(0, 1\], got -0.1"),
    (dict(keep_fraction=float("nan")), r"keep_fraction must be in \(0, 1\], got nan"),
    (dict(keep_fraction="half"), r"keep_fraction must be a number in \(0, 1\], got 'half'"),
    (dict(keep_fraction=True), r"keep_fraction must be a number"),
    (dict(keep_fraction=0.5, keep="medium"), "keep must be 'hard' or 'easy', got 'medium'"),
    (dict(keep_fraction=0.5, class_balanced=True), "labels must be given when class_balanced=True"),
    (dict(keep_fraction=0.5, class_balanced=True, labels=[0, 1]), "labels must have one entry per score"),
    (dict(keep_fraction=0.5, labels=[0, 1]), "labels must have one entry per score"),
])
def test_select_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        select(np.arange(4.0), **kwargs)


@pytest.mark.parametrize("scores, match", [
    (np.array([1.0, np.nan]), "scores must be finite"),
    (np.array([]), "scores must be a non-empty 1-D array"),
    (np.ones((2, 2)), "scores must be a non-empty 1-D array"),
    (np.array(["a", "b"]), "scores must be real numbers"),
])
def test_select_rejects_bad_scores(scores, match):
    with pytest.raises(ValueError, match=match):
        select(scores, 0.5)
