"""Tests of dcai_lab.encoder: the kit's CNN and its checkpoint files."""

from __future__ import annotations

import numpy as np
import pytest

from dcai_lab.embed import encode
from dcai_lab.encoder import (ARCH_VERSION, DIGITS_CONFIG, EncoderMismatchError, EncoderUnavailableError,
                              build_encoder, checkpoint_path, load_encoder, save_encoder)
from dcai_lab.simclr import train_ssl_encoder, train_supervised_encoder


@pytest.fixture(scope="module")
def tiny_encoders(digits):
    """Encoders of width 4 trained for one epoch on 128 digits: ssl seeds 0 and 1, supervised seed 0."""
    x, y = digits.images[:128], digits.y[:128]
    options = dict(epochs=1, batch_size=64, width=4, num_threads=1, progress=False)
    return {"ssl": train_ssl_encoder(x, seed=0, **options), "ssl-1": train_ssl_encoder(x, seed=1, **options),
            "supervised": train_supervised_encoder(x, y, seed=0, **options)}


def test_build_encoder_shapes():
    import torch

    net = build_encoder(in_channels=3, width=4, embedding_dim=16)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 16)
    assert build_encoder()(torch.zeros(2, 1, 8, 8)).shape == (2, 128)
    for kwargs, message in [(dict(in_channels=4), r"in_channels must be an integer in 1\.\.3, got 4"),
                            (dict(width=0), "width must be an integer >= 1, got 0"),
                            (dict(embedding_dim=2.5), "embedding_dim must be an integer >= 1, got 2.5")]:
        with pytest.raises(ValueError, match=message):
            build_encoder(**kwargs)


def test_save_and_load_round_trip(tmp_path, digits, tiny_encoders):
    net = tiny_encoders["supervised"]
    path = save_encoder(net, tmp_path / "enc.pt", seed=0, data="128 digits")
    back = load_encoder(path, kind="supervised")
    x = digits.images[:30]
    np.testing.assert_array_equal(encode(back, x, progress=False), encode(net, x, progress=False))
    assert back.training_info["data"] == "128 digits" and back.training_info["epochs"] == 1
    assert back.config == net.config and not back.training
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    assert load_encoder(str(path), kind="supervised").kind == "supervised"  # a str works too


def test_shipped_checkpoints_load_with_the_digits_architecture():
    for kind in ("ssl", "supervised"):
        net = load_encoder(kind=kind)
        assert (net.kind, net.config, net.training) == (kind, DIGITS_CONFIG, False)
        assert net.training_info["n_images"] == 1348 and checkpoint_path(kind).stat().st_size < 2e6
        assert checkpoint_path(kind).name == f"digits_{kind}_encoder.pt"


def test_load_encoder_detects_wrong_architecture_kind_and_damaged_files(tmp_path, tiny_encoders):
    import torch

    path = save_encoder(tiny_encoders["ssl"], tmp_path / "small.pt")
    with pytest.raises(EncoderMismatchError, match=r"width=4 \(expected 16\).*train_encoder\.py"):
        load_encoder(path, kind="ssl", config=DIGITS_CONFIG)
    with pytest.raises(EncoderMismatchError, match=r"kind 'ssl' \(expected 'supervised'\)"):
        load_encoder(path, kind="supervised")
    assert isinstance(EncoderMismatchError("x"), ValueError)

    ckpt = torch.load(path, weights_only=True)
    ckpt["arch_version"] = ARCH_VERSION + 1
    torch.save(ckpt, tmp_path / "future.pt")
    with pytest.raises(EncoderMismatchError, match="architecture version"):
        load_encoder(tmp_path / "future.pt")

    ckpt = torch.load(path, weights_only=True)
    ckpt["config"]["width"] = 8  # the config says 8, the weights are for width 4
    torch.save(ckpt, tmp_path / "lying.pt")
    with pytest.raises(EncoderMismatchError, match="has shape"):
        load_encoder(tmp_path / "lying.pt")

    ckpt = torch.load(path, weights_only=True)
    del ckpt["state_dict"]["0.0.weight"]
    torch.save(ckpt, tmp_path / "missing.pt")
    with pytest.raises(EncoderMismatchError, match="missing weights 0.0.weight"):
        load_encoder(tmp_path / "missing.pt")

    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(EncoderMismatchError, match="not a dcai-lab encoder checkpoint"):
        load_encoder(tmp_path / "other.pt")

    data = path.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(EncoderMismatchError, match="not a readable encoder checkpoint"):
        load_encoder(tmp_path / "truncated.pt")
    (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(1000))
    with pytest.raises(EncoderMismatchError, match="not a readable encoder checkpoint"):
        load_encoder(tmp_path / "noise.pt")
    with pytest.raises(EncoderUnavailableError, match="no encoder checkpoint at"):
        load_encoder(tmp_path / "absent.pt")


def test_save_and_load_check_their_arguments(tmp_path, tiny_encoders):
    with pytest.raises(ValueError, match="encoder must be an encoder from train_ssl_encoder"):
        save_encoder(build_encoder(), tmp_path / "x.pt")  # a bare network records no config
    with pytest.raises(ValueError, match="path must be a file or folder name"):
        save_encoder(tiny_encoders["ssl"], None)
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        save_encoder(tiny_encoders["ssl"], tmp_path / "x.pt", seed=-1)
    with pytest.raises(ValueError, match="data must be a str"):
        save_encoder(tiny_encoders["ssl"], tmp_path / "x.pt", data=5)
    with pytest.raises(ValueError, match="kind must be one of 'ssl', 'supervised', got 'simclr'"):
        load_encoder(kind="simclr")
    with pytest.raises(ValueError, match="kind must be one of 'ssl', 'supervised', got 'x'"):
        checkpoint_path("x")
    with pytest.raises(ValueError, match="path must be a file or folder name"):
        load_encoder(5)
    with pytest.raises(ValueError, match="config must be a dict"):
        load_encoder(config=[1, 2])
    assert not (tmp_path / "x.pt").exists()
