"""Tests of dcai_lab.simclr: views, the NT-Xent loss, and training the encoder (with and without labels)."""

from __future__ import annotations

import numpy as np
import pytest

from dcai_lab.embed import encode
from dcai_lab.simclr import augment_views, nt_xent_loss, train_ssl_encoder, train_supervised_encoder

TINY = dict(epochs=1, batch_size=64, width=4, num_threads=1, progress=False)


def test_training_is_deterministic_for_a_seed_and_leaves_global_rng_alone(digits):
    import torch

    x = digits.images[:128]
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    a = train_ssl_encoder(x, seed=0, **TINY)
    assert torch.equal(torch.rand(3), expected_draw)  # the caller's global torch random state is untouched
    b, c = train_ssl_encoder(x, seed=0, **TINY), train_ssl_encoder(x, seed=1, **TINY)
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
    assert any(not torch.equal(t, c.state_dict()[k]) for k, t in a.state_dict().items() if t.is_floating_point())
    np.testing.assert_array_equal(encode(a, x[:40], progress=False), encode(b, x[:40], progress=False))
    assert (a.kind, a.training, a.config) == ("ssl", False, {"in_channels": 1, "width": 4, "embedding_dim": 128})
    assert a.training_info["temperature"] == 0.1 and a.training_info["n_images"] == 128


def test_supervised_training_uses_a_datasets_labels(digits):
    part = digits.subset(np.arange(64))
    net = train_supervised_encoder(part, **TINY)
    assert net.kind == "supervised" and net.training_info["image_shape"] == [1, 8, 8]


def test_supervised_training_checks_labels(digits):
    images = digits.images[:10]
    with pytest.raises(ValueError, match="needs labels"):
        train_supervised_encoder(images, progress=False)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        train_supervised_encoder(images, digits.y[:9], **TINY)
    with pytest.raises(ValueError, match=r"labels must be a 1-D array of class numbers 0, 1, 2"):
        train_supervised_encoder(images[:3], [0, -1, 2], **TINY)
    with pytest.raises(ValueError, match=r"labels must be a 1-D array of class numbers 0, 1, 2"):
        train_supervised_encoder(images, digits.y[:10].astype(str), **TINY)
    with pytest.raises(ValueError, match=r"labels must hold class labels \(whole numbers\), got \[0\.5\]"):
        train_supervised_encoder(images[:3], [0.5, 1, 2], **TINY)


@pytest.mark.parametrize("kwargs, message", [
    # regression (issue 12): temperature=0 gave NaN weights; negative epochs and batch sizes were accepted
    (dict(temperature=0), r"temperature must be a finite number > 0, got 0 \(SimCLR uses about 0\.1\)"),
    (dict(temperature=-0.1), r"temperature must be a finite number > 0"),
    (dict(temperature=np.nan), r"temperature must be a finite number > 0"),
    (dict(epochs=-1), r"epochs must be an integer >= 1, got -1"),
    (dict(epochs=0), r"epochs must be an integer >= 1, got 0"),
    (dict(batch_size=-8), r"batch_size must be an integer >= 2, got -8 \(contrastive and batch-norm training"),
    (dict(batch_size=0), r"batch_size must be an integer >= 2, got 0"),
    (dict(batch_size=1), r"batch_size must be an integer >= 2, got 1"),
    (dict(seed="a"), r"seed must be an integer >= 0, got 'a'"),
    (dict(lr=0), r"lr must be a finite number > 0, got 0"),
    (dict(weight_decay=-1), r"weight_decay must be a finite number >= 0, got -1"),
    (dict(width=0), r"width must be an integer >= 1, got 0"),
    (dict(embedding_dim=0), r"embedding_dim must be an integer >= 1, got 0"),
    (dict(num_threads=0), r"num_threads must be an integer >= 1, got 0"),
    (dict(progress="no"), r"progress must be True or False, got 'no'"),
])
def test_bad_training_settings_raise_before_training(digits, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train_ssl_encoder(digits.images[:16], **(TINY | kwargs))
    if "temperature" not in kwargs:
        with pytest.raises(ValueError, match=message):
            train_supervised_encoder(digits.images[:16], digits.y[:16], **(TINY | kwargs))


def test_bad_training_images_raise(digits):
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W\)"):
        train_ssl_encoder(digits.X[:16], **TINY)
    with pytest.raises(ValueError, match=r"images hold NaN"):
        train_ssl_encoder(np.full((4, 8, 8), np.nan), **TINY)


def test_nt_xent_loss_finds_partners_and_checks_its_input():
    import torch

    z = torch.eye(4)
    assert float(nt_xent_loss(z, z)) < 1e-3                     # each view's partner is its only similar view
    assert float(nt_xent_loss(z, z.roll(1, dims=0))) > 1.0      # partners shuffled: a large loss
    assert float(nt_xent_loss(z, z, temperature=1.0)) > float(nt_xent_loss(z, z, temperature=0.1))
    with pytest.raises(ValueError, match=r"temperature must be a finite number > 0, got 0"):
        nt_xent_loss(z, z, temperature=0)                       # regression: 0 gave NaN
    with pytest.raises(ValueError, match=r"z1 must be a float tensor \(batch, dim\)"):
        nt_xent_loss(1, z)
    with pytest.raises(ValueError, match=r"z2 must be a float tensor \(batch, dim\)"):
        nt_xent_loss(z, torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"z1 and z2 must have the same shape"):
        nt_xent_loss(z, z[:3])


def test_augment_views_are_seeded_and_stay_images(digits):
    import torch

    x = torch.from_numpy(digits.images[:32].astype(np.float32) / 255)[:, None]
    a = augment_views(x, torch.Generator().manual_seed(0))
    b = augment_views(x, torch.Generator().manual_seed(0))
    c = augment_views(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    still = augment_views(x, torch.Generator().manual_seed(0), max_rotation=0, max_scale=0, max_shear=0,
                          max_shift=0, elastic=0, contrast=0, brightness=0, noise=0, erase_prob=0)
    torch.testing.assert_close(still, x, atol=1e-5, rtol=0)      # no distortion: the images themselves


def test_augment_views_checks_its_input():
    import torch

    x, g = torch.zeros(2, 1, 8, 8), torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match=r"x must be a float tensor of images \(B, C, H, W\)"):
        augment_views(np.zeros((2, 1, 8, 8)), g)
    with pytest.raises(ValueError, match=r"x must be a float tensor of images .*got \(1, 8, 8\)"):
        augment_views(x[0], g)
    with pytest.raises(ValueError, match="generator must be a torch.Generator"):
        augment_views(x, 0)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0, got -1"):
        augment_views(x, g, noise=-1)
    with pytest.raises(ValueError, match="max_rotation must be a finite number >= 0, got nan"):
        augment_views(x, g, max_rotation=float("nan"))
    with pytest.raises(ValueError, match="max_scale must be below 1"):
        augment_views(x, g, max_scale=1.0)
    with pytest.raises(ValueError, match=r"erase_prob must be a finite number in \[0, 1\], got 1\.5"):
        augment_views(x, g, erase_prob=1.5)
