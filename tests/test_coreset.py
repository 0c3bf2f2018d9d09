"""Tests of dcai_lab.coreset (k-center greedy) and the core-set strategy built on it."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dcai_lab.coreset import k_center_greedy, min_sq_distances
from dcai_lab.strategies import core_set_sampling

RNG0 = np.random.default_rng(0)


def reference_k_center_greedy(z, labeled, batch_size, candidates):
    """Exact k-center greedy, slowly: float64, direct differences ``sum((z_i - z_j)**2)``, ties to the first.

    ``candidates`` must be sorted, so the first of tied candidates is the lowest pool id.
    """
    z = np.asarray(z, dtype=np.float64)
    centres = list(np.flatnonzero(labeled))
    nearest = [min((((z[i] - z[j]) ** 2).sum() for j in centres), default=np.inf) for i in candidates]
    picked = []
    for _ in range(batch_size):
        best = max(range(len(candidates)), key=lambda k: (nearest[k], -k))  # the largest, the first of ties
        picked.append(int(candidates[best]))
        for k, i in enumerate(candidates):
            nearest[k] = min(nearest[k], ((z[i] - z[candidates[best]]) ** 2).sum())
        nearest[best] = -1.0
    return picked


def covering_radius(z, labeled, picked):
    """The largest distance from a pool point to its nearest labeled or picked point (float64, direct)."""
    z = np.asarray(z, dtype=np.float64)
    centres = np.concatenate([np.flatnonzero(labeled), picked]).astype(int)
    return float(np.sqrt(((z[:, None, :] - z[None, centres, :]) ** 2).sum(axis=2).min(axis=1)).max())


def pool(n=200, d=6, seed=0, labeled_fraction=0.1):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    labeled = rng.random(n) < labeled_fraction
    labeled[0] = True
    return z, labeled


# --------------------------------------------------------------------------- by hand


def test_core_set_covers_the_line_farthest_first():
    X = np.arange(11, dtype=np.float64)[:, None]     # points 0, 1, ..., 10 on a line
    labeled = np.zeros(11, dtype=bool)
    labeled[0] = True
    # 10 is farthest from 0; then 5 (5 from both); then 2, 3, 7, 8 tie at distance 2: lowest id wins
    assert core_set_sampling(None, X, labeled, 3, RNG0).tolist() == [10, 5, 2]
    assert k_center_greedy(X, labeled, 3).tolist() == [10, 5, 2]


@pytest.mark.parametrize("seed", range(6))
def test_core_set_equals_the_reference(seed):
    rng = np.random.default_rng(seed)
    n, d = 80, 5
    z = rng.standard_normal((n, d)) * rng.uniform(0.1, 10)
    labeled = rng.random(n) < 0.2
    labeled[0] = True
    free = np.flatnonzero(~labeled)
    candidates = np.sort(rng.choice(free, size=len(free) // 2 + 5, replace=False)) if seed % 2 else free
    b = int(rng.integers(1, 10))
    fast = core_set_sampling(None, np.zeros((n, 1)), labeled, b, rng, candidates=candidates, embeddings=z)
    assert fast.tolist() == reference_k_center_greedy(z, labeled, b, candidates)
    assert k_center_greedy(z, labeled, b, candidates=candidates[::-1]).tolist() == fast.tolist()  # any order


def test_core_set_with_nothing_labeled_starts_from_a_seeded_random_point():
    X = np.random.default_rng(1).standard_normal((30, 2))
    none = np.zeros(30, dtype=bool)
    a = core_set_sampling(None, X, none, 4, np.random.default_rng(5))
    assert a.tolist() == core_set_sampling(None, X, none, 4, np.random.default_rng(5)).tolist()
    # after the random first pick, each next pick is the farthest from the picks so far
    rest = core_set_sampling(None, X, np.isin(np.arange(30), a[:1]), 3, RNG0)
    assert rest.tolist() == a[1:].tolist()
    assert k_center_greedy(X, none, 4, rng=np.random.default_rng(5)).tolist() == a.tolist()


# --------------------------------------------------------------------------- issue 12: exact on offset, huge, tiny data


@pytest.mark.parametrize("offset", [1_000.0, 1e6])
def test_core_set_picks_equal_exact_k_center_greedy_on_offset_float32_data(offset):
    """Regression: the float32 expansion ||x||^2 - 2x.c + ||c||^2 picked wrong nearest points at an offset
    (a third of the rows at 1,000) and a covering radius up to 13% worse than exact k-center greedy."""
    z, labeled = pool(300, 8, seed=1)
    z = (z + offset).astype(np.float32)
    candidates = np.flatnonzero(~labeled)
    expected = reference_k_center_greedy(z, labeled, 25, candidates)
    picked = core_set_sampling(None, z, labeled, 25, RNG0)
    assert picked.tolist() == expected
    assert k_center_greedy(z, labeled, 25).tolist() == expected
    assert covering_radius(z, labeled, picked) == covering_radius(z, labeled, expected)


def test_min_sq_distances_is_exact_on_offset_data():
    rng = np.random.default_rng(4)
    X = (rng.standard_normal((400, 5)) + 1e6).astype(np.float32)
    centers = (rng.standard_normal((30, 5)) + 1e6).astype(np.float32)
    exact = ((X[:, None, :].astype(np.float64) - centers[None].astype(np.float64)) ** 2).sum(axis=2).min(axis=1)
    np.testing.assert_allclose(min_sq_distances(X, centers), exact, rtol=1e-12)


@pytest.mark.parametrize("scale, dtype", [(1e200, np.float64), (1e-200, np.float64), (1e20, np.float32)])
def test_core_set_picks_are_the_same_for_huge_and_tiny_magnitudes(scale, dtype):
    """Regression: squares of 1e200 overflow (and of 1e-200 underflow), so every distance was inf (or 0)."""
    z, labeled = pool(150, 4, seed=2)
    expected = reference_k_center_greedy(z.astype(dtype).astype(np.float64), labeled, 15, np.flatnonzero(~labeled))
    scaled = (z * scale).astype(dtype)
    assert core_set_sampling(None, scaled, labeled, 15, RNG0).tolist() == expected
    assert k_center_greedy(scaled, labeled, 15).tolist() == expected


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16), offset=st.sampled_from([0.0, 1_000.0, 1e6, -3e5]),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_ties_go_to_the_lowest_id_as_in_the_exact_reference(seed, offset, dtype):
    """Small integer coordinates: many exactly tied distances, all exactly representable (also offset)."""
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(5, 50)), int(rng.integers(1, 4))
    z = (rng.integers(-4, 5, (n, d)) + offset).astype(dtype)
    labeled = rng.random(n) < 0.2
    labeled[0] = True
    free = np.flatnonzero(~labeled)
    if len(free) == 0:
        return
    b = int(rng.integers(1, len(free) + 1))
    expected = reference_k_center_greedy(z, labeled, b, free)
    assert core_set_sampling(None, z, labeled, b, RNG0).tolist() == expected
    assert covering_radius(z, labeled, k_center_greedy(z, labeled, b)) == covering_radius(z, labeled, expected)


def test_ties_on_a_grid():
    grid = np.stack(np.meshgrid(np.arange(12), np.arange(12)), -1).reshape(-1, 2).astype(np.float64)
    labeled = np.zeros(len(grid), dtype=bool)
    labeled[[0, 77]] = True
    for offset in (0.0, 1_000.0, 1e6):
        z = (grid + offset).astype(np.float32)
        assert k_center_greedy(z, labeled, 30).tolist() == reference_k_center_greedy(z, labeled, 30,
                                                                                      np.flatnonzero(~labeled))


# --------------------------------------------------------------------------- min_sq_distances


def test_min_sq_distances_in_small_chunks_equals_one_chunk():
    rng = np.random.default_rng(3)
    X, centers = rng.standard_normal((500, 7)), rng.standard_normal((40, 7))
    exact = ((X[:, None, :] - centers[None]) ** 2).sum(axis=2).min(axis=1)
    np.testing.assert_allclose(min_sq_distances(X, centers), exact, rtol=1e-12)
    np.testing.assert_allclose(min_sq_distances(X, centers, chunk_elements=100), exact, rtol=1e-12)
    assert np.isinf(min_sq_distances(X, centers[:0])).all()
    assert min_sq_distances(X[:0], centers).shape == (0,)


# --------------------------------------------------------------------------- bad input


def test_nan_embeddings_are_refused_not_picked():
    """Regression (issue 12): core-set with NaN embeddings picked the NaN row."""
    z, labeled = pool(40, 3)
    z[7, 1] = np.nan
    with pytest.raises(ValueError, match=r"embeddings must be finite \(row 7 holds NaN or infinity\)"):
        core_set_sampling(None, z, labeled, 3, RNG0)
    with pytest.raises(ValueError, match=r"embeddings must be finite \(row 7"):
        core_set_sampling(None, np.zeros((40, 1)), labeled, 3, RNG0, embeddings=z)
    with pytest.raises(ValueError, match=r"z must be finite \(row 7"):
        k_center_greedy(z, labeled, 3)
    z[7, 1] = np.inf
    with pytest.raises(ValueError, match=r"z must be finite \(row 7"):
        k_center_greedy(z, labeled, 3)


def test_k_center_greedy_checks_its_arguments():
    z, labeled = pool(20, 3)
    free = np.flatnonzero(~labeled)
    with pytest.raises(ValueError, match=r"labeled must be a boolean mask over the pool, shape \(20,\)"):
        k_center_greedy(z, labeled[:5], 2)
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0"):
        k_center_greedy(z, labeled, 0)
    with pytest.raises(ValueError, match=rf"only {len(free)} unlabeled candidates remain but batch_size is 99"):
        k_center_greedy(z, labeled, 99)
    with pytest.raises(ValueError, match=r"candidates \[0\] are already labeled"):
        k_center_greedy(z, labeled, 1, candidates=[0])
    with pytest.raises(ValueError, match=r"candidates must be pool ids in 0\.\.19"):
        k_center_greedy(z, labeled, 1, candidates=[25])
    with pytest.raises(ValueError, match=r"rng must be a numpy\.random\.Generator"):
        k_center_greedy(z, labeled, 1, rng=3)
    with pytest.raises(ValueError, match=r"z must be a 2-D array"):
        k_center_greedy(z[:, 0], labeled, 1)
    with pytest.raises(ValueError, match=r"centers must have 3 columns"):
        min_sq_distances(z, z[:, :2])
    with pytest.raises(ValueError, match=r"X must be finite"):
        min_sq_distances(np.full((2, 3), np.nan), z)
    with pytest.raises(ValueError, match=r"chunk_elements must be an integer >= 1, got 0"):
        min_sq_distances(z, z, chunk_elements=0)
