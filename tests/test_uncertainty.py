"""Tests of dcai_lab.uncertainty: least confidence, margin, entropy and information density."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dcai_lab.uncertainty import (UnlabeledMean, entropy, information_density, least_confidence, margin,
                                  mean_cosine_similarity, mean_unit_vector)

SCORES = [least_confidence, margin, entropy]


@st.composite
def prob_rows(draw, max_rows=8, max_classes=12):
    """Random probability tables: non-negative weights (some exactly 0) normalized per row."""
    n = draw(st.integers(1, max_rows))
    c = draw(st.integers(1, max_classes))
    weights = draw(arrays(np.float64, (n, c), elements=st.one_of(st.just(0.0), st.floats(1e-6, 1.0))))
    weights[:, 0] += 1e-3  # no all-zero row
    return weights / weights.sum(axis=1, keepdims=True)


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --------------------------------------------------------------------------- hand-computed values


def test_hand_computed_values():
    probs = [[0.5, 0.5], [1.0, 0.0]]
    np.testing.assert_allclose(entropy(probs), [math.log(2), 0.0])
    np.testing.assert_allclose(least_confidence(probs), [0.5, 0.0])
    np.testing.assert_allclose(margin(probs), [1.0, 0.0])
    probs = [[0.7, 0.2, 0.1]]
    np.testing.assert_allclose(least_confidence(probs), [0.3])
    np.testing.assert_allclose(margin(probs), [1 - (0.7 - 0.2)])
    np.testing.assert_allclose(entropy(probs), [-(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1))])


def test_margin_uses_the_two_largest_wherever_they_are():
    np.testing.assert_allclose(margin([[0.1, 0.3, 0.6], [0.25, 0.5, 0.25]]), [0.7, 0.75])


def test_single_class_and_empty_input():
    for score in SCORES:
        np.testing.assert_allclose(score([[1.0], [1.0]]), [0.0, 0.0])
        assert score(np.zeros((0, 3))).shape == (0,)
    assert information_density(np.zeros((0, 3)), np.zeros((0, 4))).shape == (0,)


def test_lists_and_float32_are_accepted():
    probs32 = np.array([[0.2, 0.8]], dtype=np.float32)
    for score in SCORES:
        assert score(probs32).dtype == np.float64
        assert score([[0.2, 0.8]]).dtype == np.float64


# --------------------------------------------------------------------------- probability rows (issue 12)


def test_float32_softmax_over_10000_classes_is_accepted():
    """Regression: the absolute 1e-6 tolerance on row sums refused float32 softmax over many classes."""
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal((32, 10_000)) * 2).astype(np.float32)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / np.cumsum(e, axis=1, dtype=np.float32)[:, -1:]   # normalised by a float32 running sum
    off = np.abs(probs.astype(np.float64).sum(axis=1) - 1)
    assert probs.dtype == np.float32 and (off > 1e-6).any()       # the old check refused these rows
    for score in SCORES:
        assert np.isfinite(score(probs)).all()
    h = entropy(probs)
    exact = entropy(probs.astype(np.float64) / probs.astype(np.float64).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(h, exact, atol=1e-4)


def test_float16_rows_are_accepted():
    """Regression: float16 rows (sums off by up to about 1e-3) were refused."""
    probs = np.random.default_rng(1).dirichlet(np.ones(10), size=200).astype(np.float16)
    assert np.abs(probs.astype(np.float64).sum(axis=1) - 1).max() > 1e-6
    for score in SCORES:
        assert np.isfinite(score(probs)).all()
    assert entropy(np.array([[0.25, 0.75]], dtype=np.float16)).tolist() == pytest.approx([0.5623351446188083])


def test_a_row_summing_to_1_000002_is_reported_with_its_real_sum():
    """Regression: the message said "sums to 1" for a row summing to 1.000002."""
    row = np.array([[0.500002, 0.5]])
    with pytest.raises(ValueError, match=rf"row 0 sums to {float(row.sum())!r}\)") as info:
        entropy(row)
    assert "sums to 1.0000019999999998" in str(info.value)


def test_round_off_below_zero_is_clipped_not_refused():
    """Regression: a round-off value of -1e-17 was refused."""
    probs = np.array([[-1e-17, 1.0], [0.5, 0.5]])
    np.testing.assert_array_equal(least_confidence(probs), [0.0, 0.5])
    np.testing.assert_allclose(entropy(probs), [0.0, math.log(2)])
    assert (entropy(probs) >= 0).all()
    with pytest.raises(ValueError, match=r"probs must be in \[0, 1\] \(row 0 holds -0\.01\)"):
        entropy([[-0.01, 1.01]])


def test_the_tolerance_follows_the_dtype():
    slightly_off = [[0.5, 0.5004]]                     # 4e-4 too much
    with pytest.raises(ValueError, match="rows must sum to 1"):
        entropy(np.array(slightly_off))                # float64: 4e-4 is not round-off
    entropy(np.array(slightly_off, dtype=np.float16))  # float16: it is (eps = 1e-3)


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prob_rows())
def test_entropy_is_between_0_and_log_c(probs):
    h = entropy(probs)
    assert np.all(h >= 0) and np.all(h <= math.log(probs.shape[1]) + 1e-9)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(1, 50))
def test_entropy_is_maximal_at_uniform(c):
    assert entropy(np.full((1, c), 1 / c))[0] == pytest.approx(math.log(c))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prob_rows(), st.randoms(use_true_random=False))
def test_scores_ignore_the_order_of_the_classes(probs, random):
    order = list(range(probs.shape[1]))
    random.shuffle(order)
    for score in SCORES:
        np.testing.assert_allclose(score(probs[:, order]), score(probs), atol=1e-12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(prob_rows())
def test_margin_and_least_confidence_ranges(probs):
    c = probs.shape[1]
    m, lc = margin(probs), least_confidence(probs)
    assert np.all((0 <= m) & (m <= 1))
    assert np.all((0 <= lc) & (lc <= 1 - 1 / c + 1e-12))


# --------------------------------------------------------------------------- information density


def naive_information_density(probs, z, pool, beta, negative):
    """The lecture's formula with the explicit pairwise cosine matrix: O(N * |P|)."""
    cos = unit(z) @ unit(pool).T
    if negative == "shift":
        sim = ((1 + cos) / 2).mean(axis=1)
    else:
        sim = np.maximum(cos.mean(axis=1), 0)
    p = np.asarray(probs)
    h = -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0), axis=1)
    return h * sim ** beta


@pytest.mark.parametrize("negative", ["clip", "shift"])
@pytest.mark.parametrize("beta", [0.0, 0.5, 1.0, 2.0])
def test_information_density_equals_the_naive_pairwise_formula(negative, beta):
    rng = np.random.default_rng(1)
    n, m, d = 200, 300, 16
    z = rng.standard_normal((n, d)) + 0.3       # some mean similarities are negative, most positive
    pool = rng.standard_normal((m, d)) + 0.3
    probs = rng.dirichlet(np.ones(5), size=n)
    fast = information_density(probs, z, pool, beta=beta, negative=negative)
    np.testing.assert_allclose(fast, naive_information_density(probs, z, pool, beta, negative), atol=1e-6)
    # pool defaults to the candidates themselves
    np.testing.assert_allclose(information_density(probs, z, beta=beta, negative=negative),
                               naive_information_density(probs, z, z, beta, negative), atol=1e-6)
    # a precomputed pool mean gives the same
    np.testing.assert_allclose(information_density(probs, z, beta=beta, negative=negative,
                                                   pool_mean=mean_unit_vector(pool)), fast, atol=1e-12)


def test_clip_scores_examples_facing_away_from_the_pool_0_and_shift_does_not():
    probs = np.full((2, 2), 0.5)
    pool = np.array([[1.0, 0.0], [1.0, 0.2]])
    z = np.array([[1.0, 0.1], [-1.0, 0.0]])
    assert mean_cosine_similarity(z, pool)[1] < 0
    clip = information_density(probs, z, pool, negative="clip")
    shift = information_density(probs, z, pool, negative="shift")
    assert clip[1] == 0 and clip[0] > 0
    assert 0 < shift[1] < shift[0]
    sim = mean_cosine_similarity(z, pool)
    np.testing.assert_allclose(shift, math.log(2) * (1 + sim) / 2)


def test_identical_embeddings_have_similarity_1_and_scale_does_not_matter():
    z = np.array([[2.0, 2.0], [5.0, 5.0], [0.1, 0.1]])
    np.testing.assert_allclose(mean_cosine_similarity(z), 1.0)
    probs = np.full((3, 4), 0.25)
    np.testing.assert_allclose(information_density(probs, z), math.log(4))


@pytest.mark.parametrize("scale, dtype", [(1e200, np.float64), (1e-200, np.float64), (1e20, np.float32),
                                          (1e-30, np.float32)])
def test_huge_and_tiny_embeddings_give_the_same_scores_as_unscaled_ones(scale, dtype):
    """Regression (issue 12): x1e200, x1e-200 and float32 x1e20 gave zero scores or NaN."""
    rng = np.random.default_rng(2)
    z = rng.standard_normal((50, 8)) + 0.5
    pool = rng.standard_normal((80, 8)) + 0.5
    probs = rng.dirichlet(np.ones(3), size=50)
    scaled, scaled_pool = (z * scale).astype(dtype), (pool * scale).astype(dtype)
    exact_z, exact_pool = scaled.astype(np.float64) / scale, scaled_pool.astype(np.float64) / scale
    np.testing.assert_allclose(mean_cosine_similarity(scaled, scaled_pool), mean_cosine_similarity(exact_z, exact_pool),
                               atol=1e-6)
    np.testing.assert_allclose(information_density(probs, scaled, scaled_pool),
                               information_density(probs, exact_z, exact_pool), atol=1e-6)
    np.testing.assert_allclose(information_density(probs, scaled), information_density(probs, exact_z), atol=1e-6)
    np.testing.assert_allclose(mean_unit_vector(scaled_pool), mean_unit_vector(exact_pool), atol=1e-6)
    assert (information_density(probs, scaled, scaled_pool) > 0).any()


# --------------------------------------------------------------------------- the running pool mean


def test_unlabeled_mean_follows_the_labels():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((40, 5))
    labeled = np.zeros(40, dtype=bool)
    labeled[:4] = True
    running = UnlabeledMean(z, labeled)
    np.testing.assert_allclose(running(), mean_unit_vector(z[~labeled]), atol=1e-12)
    for batch in ([4, 9], [9, 10, 11], [0], [5, 6, 7, 8] + list(range(12, 39))):   # repeats and labeled ids are ignored
        running.remove(batch)
        labeled[batch] = True
        np.testing.assert_allclose(running(), mean_unit_vector(z[~labeled]), atol=1e-12)
    running.remove([39])
    with pytest.raises(ValueError, match="every pool item is labeled"):
        running()


def test_unlabeled_mean_is_computed_on_first_use_only():
    z = np.ones((3, 2))
    z[1] = 0  # an all-zero row is refused, but only when the mean is asked for
    running = UnlabeledMean(z, np.zeros(3, dtype=bool))
    running.remove([2])
    with pytest.raises(ValueError, match=r"embeddings rows \[1\] are all zero"):
        running()


# --------------------------------------------------------------------------- validation errors


@pytest.mark.parametrize("probs, message", [
    ([[0.5, 0.2], [0.5, 0.5]], r"probs rows must sum to 1 \(row 0 sums to 0\.7\); pass predict_proba output"),
    ([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.4, 0.3]], r"row 3 sums to 0\.7"),
    ([[1.2, -0.2]], r"probs must be in \[0, 1\] \(row 0 holds 1\.2\); .*softmax"),
    ([[0.5, 0.5], [np.nan, 1.0]], r"probs must be finite \(row 1"),
    ([[0.5, 0.5], [np.inf, 0.0]], r"probs must be finite \(row 1"),
    ([0.5, 0.5], r"probs must be a 2-D array.*shape \(2,\).*probs\[None, :\]"),
    ([[["a"]]], r"probs must hold real numbers, got dtype <U1"),
    ([["a", "b"]], r"probs must hold real numbers, got dtype <U1"),
    ([[0.5, 0.5], [1.0]], r"probs must be a rectangular array of numbers"),
    ([[True, False]], r"probs must hold real numbers, got dtype bool"),
    (np.zeros((3, 0)), r"probs must have at least one column, got shape \(3, 0\)"),
])
def test_bad_probs_raise_value_errors_that_name_the_row(probs, message):
    for score in SCORES:
        with pytest.raises(ValueError, match=message):
            score(probs)
    with pytest.raises(ValueError, match=message):
        information_density(probs, np.ones((len(probs), 2)))


def test_bad_embeddings_raise_value_errors():
    probs = np.full((3, 2), 0.5)
    good = np.ones((3, 4))
    with pytest.raises(ValueError, match=r"^embeddings rows \[1\] are all zero: .*drop those rows"):
        information_density(probs, [[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    with pytest.raises(ValueError, match=r"pool_embeddings rows \[0, 1\] are all zero"):
        information_density(probs, good, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"embeddings must be finite \(row 2"):
        information_density(probs, [[1, 0, 0, 0], [1, 0, 0, 0], [np.nan, 1, 1, 1]])
    with pytest.raises(ValueError, match=r"embeddings must be a 2-D array"):
        information_density(probs, np.ones(3))
    with pytest.raises(ValueError, match=r"embeddings must have 3 rows \(one per item\), got 2"):
        information_density(probs, np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"embeddings have dimension 4 but the pool \(pool_embeddings\) has "
                                         r"dimension 5"):
        information_density(probs, good, np.ones((6, 5)))
    with pytest.raises(ValueError, match=r"embeddings have dimension 4 but the pool \(pool_mean\) has dimension 2"):
        information_density(probs, good, pool_mean=np.ones(2) / 2)
    with pytest.raises(ValueError, match=r"pool_embeddings must have at least 1 row"):
        information_density(probs, good, np.ones((0, 4)))
    with pytest.raises(ValueError, match=r"give pool_embeddings or pool_mean, not both"):
        mean_cosine_similarity(good, good, pool_mean=np.ones(4) / 4)
    with pytest.raises(ValueError, match=r"pool_mean must be"):
        mean_cosine_similarity(good, pool_mean=np.ones(4))
    with pytest.raises(ValueError, match=r"^embeddings rows \[0\] are all zero"):
        mean_cosine_similarity(np.zeros((1, 4)), good)


@pytest.mark.parametrize("beta", [-1, np.nan, np.inf, "1", True, None])
def test_bad_beta_raises(beta):
    with pytest.raises(ValueError, match=r"beta must be a finite number >= 0"):
        information_density(np.full((2, 2), 0.5), np.ones((2, 3)), beta=beta)


def test_bad_negative_mode_raises():
    with pytest.raises(ValueError, match=r"negative must be one of 'clip', 'shift', got 'abs'"):
        information_density(np.full((2, 2), 0.5), np.ones((2, 3)), negative="abs")
