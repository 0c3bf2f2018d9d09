"""The embedding cache's files: atomic writes, checked reads (used by :func:`dcai_lab.embed.embed`).

A cache file is ``magic | header length | JSON header | raw float32 rows``; the header holds
the key, the shape and the SHA-256 of the rows. A damaged, stale or foreign file is reported
with a warning and counts as missing, so the embedding is computed again; a cache that cannot
be written (a read-only or shared ``data/``) warns and the computed result is still returned.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> write_array(folder / "a.emb", "key-1", np.ones((2, 3)))
True
>>> read_array(folder / "a.emb", "key-1").tolist()
[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["read_array", "write_array", "atomic_write", "file_sha256", "STALE_SECONDS"]

MAGIC = b"DCAIEMB1"
STALE_SECONDS = 3600  # a temporary file this old belongs to a writer that died: remove it
TMP_PREFIX = ".dcai-"  # only temporary files with this prefix are ever removed: a user's own *.tmp files are safe



def atomic_write(path: Path, write: Callable) -> None:
    """Call ``write(file)`` on a temporary file next to ``path``, then rename it into place.

    Readers see no file or a complete one, also when two processes write the same path.
    The file gets the usual permissions (``0o666`` less the umask), not ``mkstemp``'s 0600,
    so a shared cache stays readable. Temporary files left by writers that were killed are
    removed. Raises ``OSError`` when the folder cannot be written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TMP_PREFIX}{path.name}.{_writer()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read from /proc where it can be (setting it to read it would race with other threads)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _writer() -> str:
    """``host-pid``: names the writing process in its temporary file's name."""
    return f"{socket.gethostname().split('.')[0]}-{os.getpid()}"


def _remove_stale_temporaries(folder: Path) -> None:
    """Delete this module's temporary files of writers that are gone: a process of this machine that no longer
    runs, or over an hour old."""
    now, host = time.time(), _writer().rsplit("-", 1)[0]
    for tmp in folder.glob(f"{TMP_PREFIX}*.tmp"):
        writer_host, _, pid = tmp.name.split(".")[-3].rpartition("-") if tmp.name.count(".") >= 3 else ("", "", "")
        try:
            dead = writer_host == host and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid))
            if dead or now - tmp.stat().st_mtime > STALE_SECONDS:
                tmp.unlink()
        except OSError:  # gone already, or not ours to delete
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def write_array(path: Path, key: str, array: np.ndarray) -> bool:
    """Store ``array`` as float32 under ``key``; False (with a warning) if the folder cannot be written."""
    array = np.ascontiguousarray(array, dtype=np.float32)
    header = json.dumps({"key": key, "shape": list(array.shape), "dtype": "float32",
                         "sha256": hashlib.sha256(array.data).hexdigest()}).encode()
    header += b" " * (-(16 + len(header)) % 64)  # the rows start at a multiple of 64 bytes (aligned floats)

    def write(f) -> None:
        f.write(MAGIC + len(header).to_bytes(8, "little") + header)
        f.write(array.data)

    try:
        atomic_write(path, write)
    except OSError as exc:
        warnings.warn(f"could not write the embedding cache {path} ({type(exc).__name__}: {exc}); the embedding "
                      "is returned but not cached. Set DCAI_CACHE_DIR (or cache_dir=) to a writable folder",
                      stacklevel=3)
        return False
    return True


def read_array(path: Path, key: str) -> np.ndarray | None:
    """The cached array, or None when there is none; a damaged or stale file warns and counts as none."""
    try:
        with open(path, "rb") as f:  # one writable buffer: the array is a view of it, no copy
            data = bytearray(os.fstat(f.fileno()).st_size)
            del data[f.readinto(data):]
    except FileNotFoundError:
        return None
    except OSError as exc:
        warnings.warn(f"could not read the embedding cache {path} ({type(exc).__name__}); recomputing it",
                      stacklevel=3)
        return None
    problem = _problem(data, key)
    if problem:
        warnings.warn(f"embedding cache file {path} is {problem}; recomputing it", stacklevel=3)
        return None
    n = int.from_bytes(data[8:16], "little")
    header = json.loads(data[16: 16 + n])
    array = np.frombuffer(data, dtype=np.float32, offset=16 + n).reshape(header["shape"])
    return array if array.flags.aligned else array.copy()


def _problem(data: bytes | bytearray, key: str) -> str:
    """Empty when ``data`` is a valid cache file for ``key``, else what is wrong with it."""
    if data[:8] != MAGIC or len(data) < 16:
        return "not an embedding cache file (bad magic bytes)"
    n = int.from_bytes(data[8:16], "little")
    try:
        header = json.loads(data[16: 16 + n])
        shape, digest = [int(s) for s in header["shape"]], header["sha256"]
    except (ValueError, KeyError, TypeError):
        return "damaged (unreadable header)"
    if header.get("key") != key:
        return f"stale (made for key {header.get('key')!r})"
    have, want = len(data) - 16 - n, 4 * int(np.prod(shape))
    if have < want:
        return f"truncated ({have} bytes of data, the header says {want})"
    if have > want:
        return f"damaged ({have - want} bytes more than the header's {want}: something was appended)"
    if hashlib.sha256(memoryview(data)[16 + n:]).hexdigest() != digest:
        return "corrupted (checksum mismatch)"
    return ""


_FILE_HASHES: dict[tuple, str] = {}


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, remembered per (path, size, mtime)."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _FILE_HASHES:
        _FILE_HASHES[memo] = hashlib.sha256(path.read_bytes()).hexdigest()
    return _FILE_HASHES[memo]
