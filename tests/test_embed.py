"""Tests of dcai_lab.embed: methods, the encoders and their checkpoints, the cache."""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import pytest

from dcai_lab import embed as E
from dcai_lab.data import load_digits, split
from dcai_lab.embed import (DIGITS_CONFIG, EncoderMismatchError, EncoderUnavailableError, build_encoder, embed,
                            encode, load_encoder, save_encoder, train_ssl_encoder, train_supervised_encoder)

DIGITS = load_digits()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def count_computes(monkeypatch) -> list:
    """Record every real computation of an embedding (a cache miss)."""
    calls = []
    compute = E._compute

    def counting(images, method, *args):
        calls.append((method, len(images)))
        return compute(images, method, *args)

    monkeypatch.setattr(E, "_compute", counting)
    return calls


def tiny_encoder(seed: int = 0, kind: str = "ssl"):
    x, y = DIGITS.images[:128], DIGITS.y[:128]
    if kind == "ssl":
        return train_ssl_encoder(x, epochs=1, batch_size=64, width=4, seed=seed, num_threads=1, progress=False)
    return train_supervised_encoder(x, y, epochs=1, batch_size=64, width=4, seed=seed, num_threads=1,
                                    progress=False)


# --------------------------------------------------------------------------- methods: shapes, dtypes, values


@pytest.mark.parametrize("method, dim", [("pixels", 64), ("pca", 32), ("ssl", 128), ("supervised", 128)])
@pytest.mark.parametrize("normalize", [False, True])
def test_shapes_dtypes_and_normalization(method, dim, normalize):
    e = embed(DIGITS.images[:100], method=method, normalize=normalize, cache=False, progress=False)
    assert e.shape == (100, dim) and e.dtype == np.float32 and np.isfinite(e).all()
    norms = np.linalg.norm(e, axis=1)
    if normalize:
        np.testing.assert_allclose(norms, 1, atol=1e-5)
    else:
        assert not np.allclose(norms, 1, atol=1e-3)


def test_pixels_and_pca_values():
    images = DIGITS.images[:50]
    np.testing.assert_allclose(embed(images, method="pixels"), images.reshape(50, 64) / 255, rtol=1e-6)
    floats = images.astype(np.float64) / 255  # float images in [0, 1] give the same result as uint8
    np.testing.assert_allclose(embed(floats, method="pixels"), embed(images, method="pixels"), rtol=1e-6)
    from sklearn.decomposition import PCA

    expected = PCA(32, random_state=0).fit_transform(images.reshape(50, 64) / 255)
    np.testing.assert_allclose(embed(images, method="pca", cache=False), expected, atol=1e-4)


def test_normalize_keeps_zero_rows_and_input():
    images = DIGITS.images[:5].astype(np.float32) / 255
    images[2] = 0
    before = images.copy()
    e = embed(images, method="pixels", normalize=True)
    np.testing.assert_array_equal(e[2], 0)
    np.testing.assert_allclose(np.linalg.norm(e[[0, 1, 3, 4]], axis=1), 1, atol=1e-6)
    np.testing.assert_array_equal(images, before)  # the caller's array is not normalized in place


def test_dataset_and_array_give_the_same_embedding():
    np.testing.assert_array_equal(embed(DIGITS, method="ssl", cache=False, progress=False)[:20],
                                  embed(DIGITS.images[:20], method="ssl", cache=False, progress=False))


def test_encode_batches_agree_and_network_fits_larger_images():
    net = load_encoder(kind="ssl")
    x = DIGITS.images[:300]
    np.testing.assert_allclose(encode(net, x, batch_size=7, progress=False), encode(net, x, progress=False),
                               atol=1e-5)
    rgb = build_encoder(in_channels=3)
    for size in (28, 32):
        out = encode(rgb, np.zeros((3, size, size, 3), dtype=np.uint8), progress=False)
        assert out.shape == (3, 128) and out.dtype == np.float32


@pytest.mark.parametrize("images, message", [
    (DIGITS.X[:5], "2-D array"),
    (np.full((2, 8, 8), 2.0), r"in \[0, 1\]"),
    (np.full((2, 8, 8), np.nan), "NaN"),
    (np.zeros((2, 3, 8, 8), dtype=np.uint8), "channels"),
    (np.zeros((0, 8, 8), dtype=np.uint8), "empty"),
    (np.zeros((2, 8, 8), dtype=np.int64), "dtype"),
])
def test_bad_images_raise_clear_errors(images, message):
    with pytest.raises(ValueError, match=message):
        embed(images, method="pixels")


def test_bad_method_batch_size_and_channels():
    with pytest.raises(ValueError, match="unknown method 'simclr'; choose one of"):
        embed(DIGITS, method="simclr")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        embed(DIGITS.images[:4], method="ssl", batch_size=0, cache=False)
    with pytest.raises(ValueError, match="1-channel images, got 3"):
        embed(np.zeros((2, 8, 8, 3), dtype=np.uint8), method="ssl", cache=False, progress=False)


def test_resnet18_offline_says_how_to_get_the_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty torch hub cache
    with pytest.raises(EncoderUnavailableError, match=r"download=True.*method='ssl'") as info:
        embed(DIGITS.images[:2], method="resnet18", cache=False, progress=False)
    assert str(tmp_path) in str(info.value) and "resnet18-" in str(info.value)


# --------------------------------------------------------------------------- training and checkpoints


def test_training_is_deterministic_for_a_seed_and_leaves_global_rng_alone():
    import torch

    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    a = tiny_encoder(seed=0)
    assert torch.equal(torch.rand(3), expected_draw)  # the caller's global torch random state is untouched
    b, c = tiny_encoder(seed=0), tiny_encoder(seed=1)
    for name, tensor in a.state_dict().items():
        assert torch.equal(tensor, b.state_dict()[name]), name
    assert any(not torch.equal(t, c.state_dict()[k]) for k, t in a.state_dict().items() if t.is_floating_point())
    x = DIGITS.images[:40]
    np.testing.assert_array_equal(encode(a, x, progress=False), encode(b, x, progress=False))
    assert (a.kind, a.training, a.config) == ("ssl", False, {"in_channels": 1, "width": 4, "embedding_dim": 128})


def test_supervised_training_checks_labels():
    with pytest.raises(ValueError, match="needs labels"):
        train_supervised_encoder(DIGITS.images[:10], progress=False)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        train_supervised_encoder(DIGITS.images[:10], DIGITS.y[:9], epochs=1, width=4, progress=False)
    with pytest.raises(ValueError, match="minimum -1"):
        train_supervised_encoder(DIGITS.images[:3], [0, -1, 2], epochs=1, width=4, progress=False)


def test_save_and_load_round_trip(tmp_path):
    net = tiny_encoder(kind="supervised")
    path = save_encoder(net, tmp_path / "enc.pt", seed=0, data="128 digits")
    back = load_encoder(path, kind="supervised")
    x = DIGITS.images[:30]
    np.testing.assert_array_equal(encode(back, x, progress=False), encode(net, x, progress=False))
    assert back.training_info["data"] == "128 digits" and back.training_info["epochs"] == 1
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_shipped_checkpoints_load_with_the_digits_architecture():
    for kind in ("ssl", "supervised"):
        net = load_encoder(kind=kind)
        assert (net.kind, net.config, net.training) == (kind, DIGITS_CONFIG, False)
        assert net.training_info["n_images"] == 1348 and E.checkpoint_path(kind).stat().st_size < 2e6


def test_load_encoder_detects_wrong_architecture_kind_and_damaged_files(tmp_path):
    import torch

    path = save_encoder(tiny_encoder(), tmp_path / "small.pt")
    with pytest.raises(EncoderMismatchError, match=r"width=4 \(expected 16\).*train_encoder\.py"):
        load_encoder(path, kind="ssl", config=DIGITS_CONFIG)
    with pytest.raises(EncoderMismatchError, match=r"kind 'ssl' \(expected 'supervised'\)"):
        load_encoder(path, kind="supervised")
    assert isinstance(EncoderMismatchError("x"), ValueError)

    ckpt = torch.load(path, weights_only=True)
    ckpt["arch_version"] = E.ARCH_VERSION + 1
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


def test_ssl_beats_pixels_and_pca_with_one_percent_of_labels():
    """1-NN (cosine) on the 449 held-out digits, 13 stratified labels from the 1,348 the encoder saw unlabeled.

    Measured (benchmarks/bench_embed.py, seeds 0-4): SSL 0.791-0.929, pixels 0.552-0.706, PCA 0.615-0.746;
    SSL wins every draw by at least 0.17 over pixels. Asserted with a margin of about half of that.
    """
    _, train, test = split(DIGITS, **E.CHECKPOINT_SPLIT)
    from sklearn.decomposition import PCA

    pca = PCA(E.PCA_COMPONENTS, random_state=0).fit(embed(train, method="pixels"))
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


# --------------------------------------------------------------------------- the cache


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.emb"))


def test_cache_hit_and_misses(cache_dir, count_computes):
    images = DIGITS.images[:60]
    first = embed(images, method="pca", cache_dir=cache_dir)
    second = embed(images, method="pca", cache_dir=cache_dir)
    np.testing.assert_array_equal(first, second)
    assert count_computes == [("pca", 60)] and len(cache_files(cache_dir)) == 1
    embed(images, method="pca", normalize=True, cache_dir=cache_dir)  # another config: a miss
    embed(images[:59], method="pca", cache_dir=cache_dir)  # other data: a miss
    changed = images.copy()
    changed[0, 0, 0] ^= 1  # one pixel differs: a miss
    embed(changed, method="pca", cache_dir=cache_dir)
    embed(images, method="ssl", cache_dir=cache_dir, progress=False)  # another method: a miss
    assert len(count_computes) == 5 and len(cache_files(cache_dir)) == 5
    embed(images, method="pixels", cache_dir=cache_dir)  # pixels are never cached
    assert len(count_computes) == 6 and len(cache_files(cache_dir)) == 5


def test_cache_key_follows_the_checkpoint(cache_dir, count_computes, tmp_path):
    images = DIGITS.images[:30]
    path = save_encoder(tiny_encoder(seed=0), tmp_path / "enc.pt")
    a = embed(images, method="ssl", checkpoint=path, cache_dir=cache_dir, progress=False)
    save_encoder(tiny_encoder(seed=1), path)  # retrained in place: the old cache entry must not be used
    b = embed(images, method="ssl", checkpoint=path, cache_dir=cache_dir, progress=False)
    assert len(count_computes) == 2 and not np.allclose(a, b)
    np.testing.assert_array_equal(b, encode(load_encoder(path), images, progress=False))


def damage_truncate(data: bytes) -> bytes:
    return data[:-100]


def damage_flip(data: bytes) -> bytes:
    out = bytearray(data)
    out[-7] ^= 0xFF
    return bytes(out)


def damage_magic(data: bytes) -> bytes:
    return b"NOTACACHE" + data[9:]


def damage_header(data: bytes) -> bytes:
    return data[:20] + b"{{{" + data[23:]


def damage_empty(data: bytes) -> bytes:
    return b""


@pytest.mark.parametrize("damage, problem", [(damage_truncate, "truncated"), (damage_flip, "checksum"),
                                             (damage_magic, "bad magic"), (damage_header, "unreadable header"),
                                             (damage_empty, "bad magic")])
def test_damaged_cache_file_is_detected_and_rebuilt(cache_dir, count_computes, damage, problem):
    images = DIGITS.images[:40]
    good = embed(images, method="pca", cache_dir=cache_dir)
    (path,) = cache_files(cache_dir)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.warns(UserWarning, match=problem):
        again = embed(images, method="pca", cache_dir=cache_dir)
    np.testing.assert_array_equal(again, good)
    assert len(count_computes) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt file is valid: a silent hit
        np.testing.assert_array_equal(embed(images, method="pca", cache_dir=cache_dir), good)
    assert len(count_computes) == 2


def test_stale_cache_file_is_detected_and_rebuilt(cache_dir, count_computes):
    a, b = DIGITS.images[:40], DIGITS.images[40:80]
    embed(a, method="pca", cache_dir=cache_dir)
    (path_a,) = cache_files(cache_dir)
    good_b = embed(b, method="pca", cache_dir=cache_dir)
    (path_b,) = set(cache_files(cache_dir)) - {path_a}
    path_b.write_bytes(path_a.read_bytes())  # a valid file, but made for other data
    with pytest.warns(UserWarning, match="stale"):
        np.testing.assert_array_equal(embed(b, method="pca", cache_dir=cache_dir), good_b)
    assert len(count_computes) == 3


def test_cache_file_layout_is_aligned(cache_dir):
    out = embed(DIGITS.images[:10], method="pca", cache_dir=cache_dir)
    data = cache_files(cache_dir)[0].read_bytes()
    n = int.from_bytes(data[8:16], "little")
    assert data[:8] == b"DCAIEMB1" and (16 + n) % 64 == 0 and len(data) == 16 + n + out.nbytes
    again = embed(DIGITS.images[:10], method="pca", cache_dir=cache_dir)
    assert again.flags.aligned and again.flags.writeable  # a cache hit is an ordinary array


def _write_many(args) -> int:
    path, key, value, times = args
    array = np.full((20_000, 16), value, dtype=np.float32)
    for _ in range(times):
        E._write_cache(Path(path), key, array)
    return times


def test_concurrent_writers_never_leave_a_damaged_file(cache_dir):
    """Four processes rewrite one key (with different contents) while this process keeps reading it."""
    path, key = cache_dir / "pca-k.emb", "pca-k"
    seen, problems = set(), []
    start_method = "fork" if "fork" in get_all_start_methods() else "spawn"  # fork starts in milliseconds
    with ProcessPoolExecutor(4, mp_context=get_context(start_method)) as pool:
        futures = [pool.submit(_write_many, (str(path), key, float(v), 15)) for v in range(4)]
        while not all(f.done() for f in futures) or not seen:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = E._read_cache(path, key)
            problems += [str(w.message) for w in caught]
            if out is not None:
                assert out.shape == (20_000, 16) and (out == out[0, 0]).all()  # one writer's whole array
                seen.add(float(out[0, 0]))
        assert [f.result() for f in futures] == [15] * 4
    assert problems == [] and seen <= {0.0, 1.0, 2.0, 3.0}
    assert [p.name for p in cache_dir.iterdir()] == ["pca-k.emb"]  # no temporary files left


def test_concurrent_embed_calls_agree(cache_dir):
    images = DIGITS.images[:200]
    results, errors = [None] * 4, []

    def run(i):
        try:
            results[i] = embed(images, method="pca", cache_dir=cache_dir)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for r in results[1:]:
        np.testing.assert_array_equal(r, results[0])
    assert len(cache_files(cache_dir)) == 1 and len(list(cache_dir.iterdir())) == 1
