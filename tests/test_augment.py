"""Tests of dcai_lab.augment: distorted copies of a data set, the MNIST-8M recipe."""

import numpy as np
import pytest

from dcai_lab.augment import augment_pool
from dcai_lab.data import Dataset


def test_augment_pool_is_deterministic_and_prefix_stable(digits):
    a = augment_pool(digits, 65_600, seed=3)  # crosses the chunk boundary at 65,536
    c = augment_pool(digits, 1_000, seed=3)   # computed again, and shorter: the same first 1,000
    assert a.images.dtype == np.uint8 and a.images.shape == (65_600, 8, 8)
    np.testing.assert_array_equal(a.images[:1000], c.images)
    np.testing.assert_array_equal(a.source_index[:1000], c.source_index)
    assert not np.array_equal(a.images[65_536:], a.images[:64])  # each chunk has its own random stream
    assert not np.array_equal(augment_pool(digits, 1_000, seed=4).images, c.images)


def test_augment_pool_labels_follow_sources_and_images_stay_close(digits):
    pool = augment_pool(digits, 5_000, seed=0)
    np.testing.assert_array_equal(pool.y, digits.y[pool.source_index])
    assert set(np.unique(pool.source_index)) <= set(range(len(digits)))
    # small distortions keep the label: a model of the original digits still reads most of them (0.915
    # measured, 0.984 on the originals) ...
    from sklearn.linear_model import LogisticRegression
    model = LogisticRegression(max_iter=3000).fit(digits.X, digits.y)
    assert model.score(pool.X, pool.y) > 0.88
    # ... and they are not copies
    assert (pool.images != digits.images[pool.source_index]).any(axis=(1, 2)).mean() > 0.95


def test_source_index_traces_back_through_a_subset(digits):
    part = digits.subset(np.arange(100, 200))
    pool = augment_pool(part, 50, seed=0)
    assert set(pool.source_index.tolist()) <= set(range(100, 200))
    np.testing.assert_array_equal(pool.y, digits.y[pool.source_index])


def test_no_distortion_gives_copies(digits):
    pool = augment_pool(digits, 20, seed=0, max_rotation=0, max_scale=0, max_shear=0, max_shift=0,
                        elastic_alpha=0)
    np.testing.assert_array_equal(pool.images, digits.images[pool.source_index])


def test_augment_pool_on_colour_images():
    rng = np.random.default_rng(0)
    base = Dataset(rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8), [0, 1, 0, 1], ["a", "b"], "rgb")
    pool = augment_pool(base, 10, seed=0)
    assert pool.images.shape == (10, 32, 32, 3)


@pytest.mark.parametrize("n", [0, -5, 2.5, True, "10"])
def test_augment_pool_rejects_bad_sizes(digits, n):
    with pytest.raises(ValueError, match=r"n must be an integer >= 1, got .* \(the number of items to make\)"):
        augment_pool(digits, n)


@pytest.mark.parametrize("name", ["max_rotation", "max_scale", "max_shear", "max_shift", "elastic_alpha",
                                  "elastic_sigma"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -1.0, "0.2"])
def test_augment_pool_rejects_bad_distortions(digits, name, value):
    """Regression (issue 12): elastic_alpha=nan gave a cryptic error deep inside the warp."""
    with pytest.raises(ValueError, match=f"{name} must be a finite number >= 0, got"):
        augment_pool(digits, 10, **{name: value})


def test_augment_pool_rejects_other_bad_arguments(digits):
    with pytest.raises(ValueError, match="max_scale must be below 1"):
        augment_pool(digits, 10, max_scale=1.0)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got 'a' \(seeds are integers"):
        augment_pool(digits, 10, seed="a")
    with pytest.raises(ValueError, match="dataset must be a Dataset"):
        augment_pool(digits.images, 10)
    with pytest.raises(ValueError, match="cannot augment an empty data set"):
        augment_pool(digits.subset([]), 10)
