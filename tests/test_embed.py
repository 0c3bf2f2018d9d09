"""Tests of dcai_lab.embed: the embedding methods and encode (the cache is tested in test_cache.py)."""

from __future__ import annotations

import numpy as np
import pytest

from dcai_lab.data import split
from dcai_lab.embed import PCA_COMPONENTS, embed, encode
from dcai_lab.encoder import CHECKPOINT_SPLIT, EncoderUnavailableError, build_encoder, load_encoder


@pytest.mark.parametrize("method, dim", [("pixels", 64), ("pca", 32), ("ssl", 128), ("supervised", 128)])
@pytest.mark.parametrize("normalize", [False, True])
def test_shapes_dtypes_and_normalization(digits, method, dim, normalize):
    e = embed(digits.images[:100], method=method, normalize=normalize, cache=False, progress=False)
    assert e.shape == (100, dim) and e.dtype == np.float32 and np.isfinite(e).all()
    norms = np.linalg.norm(e, axis=1)
    if normalize:
        np.testing.assert_allclose(norms, 1, atol=1e-5)
    else:
        assert not np.allclose(norms, 1, atol=1e-3)


def test_pixels_and_pca_values(digits):
    images = digits.images[:50]
    np.testing.assert_allclose(embed(images, method="pixels"), images.reshape(50, 64) / 255, rtol=1e-6)
    floats = images.astype(np.float64) / 255  # float images in [0, 1] give the same result as uint8
    np.testing.assert_allclose(embed(floats, method="pixels"), embed(images, method="pixels"), rtol=1e-6)
    from sklearn.decomposition import PCA

    expected = PCA(PCA_COMPONENTS, random_state=0).fit_transform(images.reshape(50, 64) / 255)
    np.testing.assert_allclose(embed(images, method="pca", cache=False), expected, atol=1e-4)
    assert embed(images[:10], method="pca", cache=False).shape == (10, 10)  # at most as many components as images


def test_normalize_refuses_zero_rows_and_keeps_the_input(digits):
    """Behaviour changed on purpose (issue 12): one normaliser, one rule: a zero row has no direction."""
    images = digits.images[:5].astype(np.float32) / 255
    images[2] = 0
    before = images.copy()
    with pytest.raises(ValueError, match=r"the pixels embeddings rows \[2\] are all zero"):
        embed(images, method="pixels", normalize=True)
    np.testing.assert_array_equal(images, before)  # the caller's array is not normalized in place
    e = embed(images[[0, 1, 3, 4]], method="pixels", normalize=True)
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1, atol=1e-6)


def test_dataset_and_array_give_the_same_embedding(digits):
    np.testing.assert_array_equal(embed(digits, method="ssl", cache=False, progress=False)[:20],
                                  embed(digits.images[:20], method="ssl", cache=False, progress=False))


def test_encode_batches_agree_and_network_fits_larger_images(digits):
    net = load_encoder(kind="ssl")
    x = digits.images[:300]
    np.testing.assert_allclose(encode(net, x, batch_size=7, progress=False), encode(net, x, progress=False),
                               atol=1e-5)
    rgb = build_encoder(in_channels=3)
    for size in (28, 32):
        out = encode(rgb, np.zeros((3, size, size, 3), dtype=np.uint8), progress=False)
        assert out.shape == (3, 128) and out.dtype == np.float32
    assert rgb.training  # encode puts the network back in the mode it found it in


def test_encode_applies_the_preprocessing(digits):
    net = load_encoder(kind="ssl")
    x = digits.images[:20]
    blanked = encode(net, x, progress=False, preprocess=lambda batch: batch * 0)
    np.testing.assert_allclose(blanked, encode(net, np.zeros_like(x), progress=False), atol=1e-6)
    assert not np.allclose(blanked, encode(net, x, progress=False))


@pytest.mark.parametrize("images, message", [
    (np.zeros((5, 64), np.float32), "2-D array"),
    (np.full((2, 8, 8), 2.0), r"in \[0, 1\]"),
    (np.full((2, 8, 8), np.nan), "NaN"),
    (np.zeros((2, 3, 8, 8), dtype=np.uint8), "channels"),
    (np.zeros((0, 8, 8), dtype=np.uint8), "empty"),
    (np.zeros((2, 8, 8), dtype=np.int64), "dtype"),
    (np.zeros((2, 8, 8), dtype=bool), "dtype"),
])
def test_bad_images_raise_clear_errors(images, message):
    with pytest.raises(ValueError, match=f"images.*{message}"):
        embed(images, method="pixels")


def test_bad_method_batch_size_channels_and_options(digits):
    with pytest.raises(ValueError, match="method must be one of 'pixels', 'pca', 'ssl', 'supervised', 'resnet18', "
                                         "got 'simclr'"):
        embed(digits, method="simclr")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        embed(digits.images[:4], method="ssl", batch_size=0, cache=False)
    with pytest.raises(ValueError, match="1-channel images, got 3"):
        embed(np.zeros((2, 8, 8, 3), dtype=np.uint8), method="ssl", cache=False, progress=False)
    for option in ("normalize", "cache", "download", "progress"):
        with pytest.raises(ValueError, match=f"{option} must be True or False, got 'yes'"):
            embed(digits.images[:4], method="pixels", **{option: "yes"})
    for option in ("checkpoint", "cache_dir"):
        with pytest.raises(ValueError, match=f"{option} must be a file or folder name"):
            embed(digits.images[:4], method="ssl", **{option: 5})
    with pytest.raises(EncoderUnavailableError, match="no encoder checkpoint at"):
        embed(digits.images[:4], method="ssl", checkpoint="absent.pt", cache=False, progress=False)


def test_encode_checks_its_arguments(digits):
    with pytest.raises(ValueError, match=r"encoder must be a torch\.nn\.Module"):
        encode(object(), digits.images[:3])
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got -1"):
        encode(load_encoder(), digits.images[:3], batch_size=-1)
    with pytest.raises(ValueError, match="preprocess must be None or a function"):
        encode(load_encoder(), digits.images[:3], preprocess=3)


def test_resnet18_offline_says_how_to_get_the_weights(digits, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache
    with pytest.raises(EncoderUnavailableError, match=r"download=True.*method='ssl'") as info:
        embed(digits.images[:2], method="resnet18", cache=False, progress=False)
    assert str(tmp_path) in str(info.value) and "resnet18-" in str(info.value)


def test_an_encoder_trained_on_other_image_sizes_warns(digits):
    big = np.zeros((2, 16, 16), dtype=np.uint8)
    with pytest.warns(UserWarning, match=r"trained on 8x8 images, these are 16x16"):
        assert embed(big, method="ssl", cache=False, progress=False).shape == (2, 128)


def test_ssl_beats_pixels_and_pca_with_one_percent_of_labels(digits):
    """1-NN (cosine) on the 449 held-out digits, 13 stratified labels from the 1,348 the encoder saw unlabeled.

    Measured (benchmarks/bench_embed.py, seeds 0-4): SSL 0.791-0.929, pixels 0.552-0.706, PCA 0.615-0.746;
    SSL wins every draw by at least 0.17 over pixels. Asserted with a margin of about half of that.
    """
    _, train, test = split(digits, **CHECKPOINT_SPLIT)
    from sklearn.decomposition import PCA

    pca = PCA(PCA_COMPONENTS, random_state=0).fit(embed(train, method="pixels"))
    emb = {"ssl": [embed(d, method="ssl", normalize=True, cache=False, progress=False) for d in (train, test)],
           "pixels": [embed(d, method="pixels", normalize=True) for d in (train, test)],
           "pca": [pca.transform(embed(d, method="pixels")) for d in (train, test)]}
    accuracy = {m: [] for m in emb}
    for seed in range(5):
        labeled, _, _ = split(train, train_size=13, test_size=0, seed=seed)
        rows = np.flatnonzero(np.isin(train.source_index, labeled.source_index))
        assert len(rows) == 13 and len(set(train.y[rows])) == 10
        for method, (tr, te) in emb.items():
            tr = tr / np.linalg.norm(tr, axis=1, keepdims=True)
            te = te / np.linalg.norm(te, axis=1, keepdims=True)
            accuracy[method].append(np.mean(train.y[rows][np.argmax(te @ tr[rows].T, axis=1)] == test.y))
    ssl, pixels, pca_acc = (np.array(accuracy[m]) for m in ("ssl", "pixels", "pca"))
    assert (ssl > pixels + 0.08).all() and (ssl > pca_acc + 0.04).all(), accuracy
    assert ssl.mean() > pixels.mean() + 0.15 and ssl.mean() > 0.8, accuracy
