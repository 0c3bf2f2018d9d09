"""Tests of the embedding cache: through ``embed(..., cache_dir=...)`` and dcai_lab._cache's public functions.

A cache miss writes a new file (a new inode, by ``os.replace``); a hit leaves the file as it was. The
tests count misses by watching the folder, so nothing inside the library is patched.
"""

from __future__ import annotations

import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
import pytest

from dcai_lab._cache import STALE_SECONDS, atomic_write, file_sha256, read_array, write_array
from dcai_lab.embed import embed
from dcai_lab.encoder import save_encoder
from dcai_lab.simclr import train_ssl_encoder


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def cache_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.emb"))


class Writes:
    """Counts the cache files written into a folder (a miss writes one; a hit writes none)."""

    def __init__(self, folder: Path):
        self.folder, self.seen = folder, set()

    def count(self) -> int:
        for path in cache_files(self.folder):
            stat = path.stat()
            self.seen.add((path.name, stat.st_ino, stat.st_mtime_ns))
        return len(self.seen)


def silently(call):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any cache warning fails the test
        return call()


# --------------------------------------------------------------------------- hits, misses, keys


def test_cache_hit_and_misses(digits, cache_dir):
    images = digits.images[:60]
    writes = Writes(cache_dir)
    first = embed(images, method="pca", cache_dir=cache_dir)
    second = silently(lambda: embed(images, method="pca", cache_dir=cache_dir))
    np.testing.assert_array_equal(first, second)
    assert writes.count() == 1 and len(cache_files(cache_dir)) == 1
    embed(images, method="pca", normalize=True, cache_dir=cache_dir)  # another config: a miss
    embed(images[:59], method="pca", cache_dir=cache_dir)  # other data: a miss
    changed = images.copy()
    changed[0, 0, 0] ^= 1  # one pixel differs: a miss
    embed(changed, method="pca", cache_dir=cache_dir)
    embed(images, method="ssl", cache_dir=cache_dir, progress=False)  # another method: a miss
    assert writes.count() == 5 and len(cache_files(cache_dir)) == 5
    embed(images, method="pixels", cache_dir=cache_dir)  # pixels are never cached
    embed(images, method="pca", cache=False, cache_dir=cache_dir)  # nor anything with cache=False
    assert writes.count() == 5 and len(list(cache_dir.iterdir())) == 5
    np.testing.assert_array_equal(embed(images, method="pca", cache=False), first)


def test_the_cache_folder_comes_from_the_environment(digits, tmp_path, monkeypatch):
    monkeypatch.setenv("DCAI_CACHE_DIR", str(tmp_path / "from-env"))
    embed(digits.images[:20], method="pca")
    assert len(cache_files(tmp_path / "from-env")) == 1


def test_cache_key_follows_the_checkpoint(digits, cache_dir, tmp_path):
    images = digits.images[:30]
    options = dict(epochs=1, batch_size=64, width=4, num_threads=1, progress=False)
    path = save_encoder(train_ssl_encoder(digits.images[:128], seed=0, **options), tmp_path / "enc.pt")
    writes = Writes(cache_dir)
    a = embed(images, method="ssl", checkpoint=path, cache_dir=cache_dir, progress=False)
    save_encoder(train_ssl_encoder(digits.images[:128], seed=1, **options), path)  # retrained in place
    b = embed(images, method="ssl", checkpoint=path, cache_dir=cache_dir, progress=False)
    assert writes.count() == 2 and not np.allclose(a, b)  # the old cache entry was not used
    np.testing.assert_array_equal(b, embed(images, method="ssl", checkpoint=path, cache=False, progress=False))


# --------------------------------------------------------------------------- damaged and stale files


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


def damage_append(data: bytes) -> bytes:
    return data + b"\x00" * 12


@pytest.mark.parametrize("damage, problem", [
    (damage_truncate, r"truncated \(\d+ bytes of data, the header says \d+\)"),
    (damage_flip, "corrupted \\(checksum mismatch\\)"),
    (damage_magic, "bad magic"), (damage_header, "unreadable header"), (damage_empty, "bad magic"),
    # regression (issue 12): appended bytes were reported as "truncated"
    (damage_append, r"damaged \(12 bytes more than the header's \d+: something was appended\)"),
])
def test_damaged_cache_file_is_detected_and_rebuilt(digits, cache_dir, damage, problem):
    images = digits.images[:40]
    good = embed(images, method="pca", cache_dir=cache_dir)
    (path,) = cache_files(cache_dir)
    path.write_bytes(damage(path.read_bytes()))
    writes = Writes(cache_dir)
    writes.count()
    with pytest.warns(UserWarning, match=problem) as caught:
        again = embed(images, method="pca", cache_dir=cache_dir)
    assert all("truncated" not in str(w.message) for w in caught) or damage is damage_truncate
    np.testing.assert_array_equal(again, good)
    assert writes.count() == 2  # computed again and rewritten
    np.testing.assert_array_equal(silently(lambda: embed(images, method="pca", cache_dir=cache_dir)), good)
    assert writes.count() == 2  # the rebuilt file is valid: a silent hit


def test_stale_cache_file_is_detected_and_rebuilt(digits, cache_dir):
    a, b = digits.images[:40], digits.images[40:80]
    embed(a, method="pca", cache_dir=cache_dir)
    (path_a,) = cache_files(cache_dir)
    good_b = embed(b, method="pca", cache_dir=cache_dir)
    (path_b,) = set(cache_files(cache_dir)) - {path_a}
    path_b.write_bytes(path_a.read_bytes())  # a valid file, but made for other data
    with pytest.warns(UserWarning, match="stale"):
        np.testing.assert_array_equal(embed(b, method="pca", cache_dir=cache_dir), good_b)


def test_cache_file_layout_is_aligned(digits, cache_dir):
    out = embed(digits.images[:10], method="pca", cache_dir=cache_dir)
    data = cache_files(cache_dir)[0].read_bytes()
    n = int.from_bytes(data[8:16], "little")
    assert data[:8] == b"DCAIEMB1" and (16 + n) % 64 == 0 and len(data) == 16 + n + out.nbytes
    again = embed(digits.images[:10], method="pca", cache_dir=cache_dir)
    assert again.flags.aligned and again.flags.writeable  # a cache hit is an ordinary array


# --------------------------------------------------------------------------- the public functions of _cache


def test_write_and_read_array_round_trip(tmp_path):
    array = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert write_array(tmp_path / "a.emb", "key-1", array) is True
    back = read_array(tmp_path / "a.emb", "key-1")
    assert back.dtype == np.float32 and back.tolist() == array.tolist()
    assert read_array(tmp_path / "absent.emb", "key-1") is None
    with pytest.warns(UserWarning, match=r"stale \(made for key 'key-1'\)"):
        assert read_array(tmp_path / "a.emb", "key-2") is None


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    def half_then_fail(f):
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(tmp_path / "x.bin", half_then_fail)
    assert list(tmp_path.iterdir()) == []
    atomic_write(tmp_path / "x.bin", lambda f: f.write(b"whole"))
    assert (tmp_path / "x.bin").read_bytes() == b"whole" and list(tmp_path.iterdir()) == [tmp_path / "x.bin"]


def test_file_sha256_follows_the_file(tmp_path):
    import hashlib

    path = tmp_path / "f.bin"
    path.write_bytes(b"one")
    assert file_sha256(path) == hashlib.sha256(b"one").hexdigest()
    path.write_bytes(b"other")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime, as a rewrite would give
    assert file_sha256(path) == hashlib.sha256(b"other").hexdigest()


# --------------------------------------------------------------------------- shared and read-only folders (issue 12)


def _as_nobody(call):
    """Run ``call()`` in a forked child as user nobody (root can write anywhere); return its result or error."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = ("returned", call(), [str(w.message) for w in caught])
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = ("raised", repr(exc), [])
        with os.fdopen(write, "wb") as out:
            out.write(pickle.dumps(result))
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return pickle.loads(data)


def _without_write_rights(call):
    """``call()`` where the cache folder (mode 0o555) cannot be written: as nobody when running as root."""
    if os.geteuid() == 0:
        return _as_nobody(call)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return "returned", call(), [str(w.message) for w in caught]
        except BaseException as exc:  # noqa: BLE001
            return "raised", repr(exc), []


@pytest.fixture
def shared_folder():
    """A folder everyone may read (not under pytest's private tmp folder, which only its owner can enter)."""
    base = Path(tempfile.mkdtemp(prefix="dcai-shared-"))
    base.chmod(0o755)
    yield base
    for folder in [base, *base.rglob("*")]:
        if folder.is_dir():
            folder.chmod(0o755)  # writable again, so it can be removed
    shutil.rmtree(base, ignore_errors=True)


def test_a_read_only_cache_folder_warns_and_returns_the_embedding(digits, shared_folder):
    """Regression: on a read-only (or shared) data/ the computed embedding was lost to a PermissionError."""
    images = digits.images[:40]
    expected = embed(images, method="pca", cache=False)
    folder = shared_folder / "cache"
    folder.mkdir()
    folder.chmod(0o555)
    outcome, result, messages = _without_write_rights(lambda: embed(images, method="pca", cache_dir=folder))
    assert outcome == "returned", result
    np.testing.assert_array_equal(result, expected)
    assert any("could not write the embedding cache" in m and "returned but not cached" in m for m in messages)
    assert list(folder.iterdir()) == []
    # a cache folder that cannot even be created: the same
    outcome, result, messages = _without_write_rights(
        lambda: embed(images, method="pca", cache_dir=folder / "sub"))
    assert outcome == "returned" and any("could not write" in m for m in messages)


def test_a_read_only_cache_folder_still_serves_its_files(digits, shared_folder):
    images = digits.images[:40]
    folder = shared_folder / "cache"
    expected = embed(images, method="pca", cache_dir=folder)  # written by its owner
    folder.chmod(0o555)
    outcome, result, messages = _without_write_rights(lambda: embed(images, method="pca", cache_dir=folder))
    assert (outcome, messages) == ("returned", [])  # a silent hit
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_cache_files_get_the_umasks_permissions(digits, cache_dir, umask, mode):
    """Regression: cache files were created 0600 (mkstemp's mode), unreadable for the rest of a course."""
    before = os.umask(umask)
    try:
        embed(digits.images[:20], method="pca", cache_dir=cache_dir)
    finally:
        os.umask(before)
    (path,) = cache_files(cache_dir)
    assert path.stat().st_mode & 0o777 == mode


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporary_files_are_removed_at_the_next_write(digits, cache_dir):
    """Regression: a writer killed mid-write left its .tmp file (hundreds of MB) forever."""
    cache_dir.mkdir(parents=True)
    host = socket.gethostname().split(".")[0]
    dead = cache_dir / f".dcai-pca-aaa.emb.{host}-{_dead_pid()}.x1y2z3.tmp"      # this machine, the writer is gone
    old = cache_dir / ".dcai-pca-bbb.emb.elsewhere-12345.q9w8e7.tmp"              # another machine, two hours old
    live = cache_dir / f".dcai-pca-ccc.emb.{host}-{os.getppid()}.r5t6y7.tmp"     # a writer still running
    young = cache_dir / ".dcai-pca-ddd.emb.elsewhere-777.u1i2o3.tmp"              # another machine, just now
    foreign = cache_dir / "notes.tmp"                                              # a user's own file, old
    for path in (dead, old, live, young, foreign):
        path.write_bytes(b"\x00" * 1000)
    two_hours_ago = time.time() - 2 * STALE_SECONDS
    os.utime(old, (two_hours_ago, two_hours_ago))
    os.utime(foreign, (two_hours_ago, two_hours_ago))
    embed(digits.images[:20], method="pca", cache_dir=cache_dir)  # a miss: the next write
    left = {p.name for p in cache_dir.iterdir()}
    assert dead.name not in left and old.name not in left
    assert live.name in left and young.name in left
    assert foreign.name in left, "only the cache's own temporary files are removed, never a user's"
    assert len(cache_files(cache_dir)) == 1


# --------------------------------------------------------------------------- concurrency


def _write_many(args) -> int:
    path, key, value, times = args
    array = np.full((20_000, 16), value, dtype=np.float32)
    for _ in range(times):
        assert write_array(Path(path), key, array)
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
                out = read_array(path, key)
            problems += [str(w.message) for w in caught]
            if out is not None:
                assert out.shape == (20_000, 16) and (out == out[0, 0]).all()  # one writer's whole array
                seen.add(float(out[0, 0]))
        assert [f.result() for f in futures] == [15] * 4
    assert problems == [] and seen <= {0.0, 1.0, 2.0, 3.0}
    assert [p.name for p in cache_dir.iterdir()] == ["pca-k.emb"]  # no temporary files left


def test_concurrent_embed_calls_agree(digits, cache_dir):
    images = digits.images[:200]
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
