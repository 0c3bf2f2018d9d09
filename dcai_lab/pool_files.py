"""A pool too big for memory: generated and embedded chunk by chunk into memory-mapped files (notebook 02, section 13).

Ten million 8 x 8 digits embedded in 128 float32 dimensions take ``10^7 * 128 * 4`` bytes = 5.1 GB,
and building them at once would need several copies of that. :func:`make_pool_files` builds the
pool one random-stream chunk of :func:`dcai_lab.augment.augment_pool` at a time (65,536 items)::

    labels of every augmented item   (cheap: the base digit of each item)
    keep = make_rare(labels)[:n]      (the pool's items, if a class is made rare)
    for each chunk:  distort its images -> keep the pool's -> embed them -> write rows a..b of two .npy files

so memory stays at one chunk, whatever ``n``. The files are opened with
``np.load(path, mmap_mode="r")``: the operating system pages rows in when they are read.
The pool equals ``make_rare(augment_pool(dataset, oversample * n, seed), ...)`` cut to its first
``n`` items, with ``embed(..., normalize=True)`` of those images (up to float32 rounding).

- **Cached by content**: the folder ``data/cache/pool-<key>`` is named by a SHA-256 of the data
  set's images and labels, every argument, the encoder checkpoint and :data:`POOL_FORMAT`.
- **Resumable**: a pool is built in ``pool-<key>.partial``; after each chunk its rows are flushed to
  disk and the chunk is recorded (with the SHA-256 of its rows) in ``progress.json``. A run that is
  interrupted starts again at the first chunk not recorded; the finished folder is renamed into place.
- **One writer**: a lock file keeps two processes from building the same pool at once.

>>> from dcai_lab.data import load_digits
>>> import tempfile
>>> pool = make_pool_files(load_digits(), 300, cache_dir=tempfile.mkdtemp(), progress=False)
>>> pool.images.shape, pool.embeddings.shape, pool.embeddings.dtype
((300, 8, 8), (300, 128), dtype('float32'))
"""

from __future__ import annotations

import fcntl
import hashlib
import inspect
import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from dcai_lab._cache import atomic_write, file_sha256
from dcai_lab._checks import check_bool, check_choice, check_float, check_int, check_path, check_seed
from dcai_lab.augment import CHUNK_SIZE, augment_chunk, augment_pool
from dcai_lab.data import Dataset, make_rare

__all__ = ["PoolFiles", "make_pool_files", "open_pool_files", "POOL_FORMAT", "POOL_METHODS"]

POOL_FORMAT = 1  # part of every pool's key: bump it when the files or how they are made change
POOL_METHODS = ("ssl", "supervised", "pixels")  # embed each image on its own (PCA fits on the whole pool: no)


class PoolFiles:
    """A finished pool on disk: images and embeddings memory-mapped (read-only), labels in memory.

    Attributes
    ----------
    folder : the pool's folder.
    images : uint8 memmap (n, H, W[, C]).
    embeddings : float32 memmap (n, d), unit rows (``embed(..., normalize=True)``).
    y : int64 array (n,), the class of each item; ``class_names`` names them.
    source_index : int64 array (n,), the item of the original data set each item distorts.
    positions : int64 array (n,), each item's position in ``augment_pool(dataset, n_augmented, seed)``.
    info : the arguments, the chunks' SHA-256 and the seconds the build took (``pool.json``).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        info_file = self.folder / "pool.json"
        if not info_file.exists():
            raise ValueError(f"{self.folder} is not a finished pool folder (no pool.json); build it with "
                             "make_pool_files(...)")
        self.info = json.loads(info_file.read_text())
        self.images = np.load(self.folder / "images.npy", mmap_mode="r")
        self.embeddings = np.load(self.folder / "embeddings.npy", mmap_mode="r")
        labels = np.load(self.folder / "labels.npz")
        self.y, self.source_index, self.positions = labels["y"], labels["source_index"], labels["positions"]
        self.class_names = list(self.info["class_names"])
        n = self.info["n"]
        if not (len(self.images) == len(self.embeddings) == len(self.y) == n):
            raise ValueError(f"pool folder {self.folder} is damaged: its files hold {len(self.images)} images, "
                             f"{len(self.embeddings)} embeddings and {len(self.y)} labels, pool.json says {n}; "
                             "delete the folder to rebuild it")

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        return f"PoolFiles(n={len(self):,}, dim={self.embeddings.shape[1]}, folder={str(self.folder)!r})"

    def verify(self) -> None:
        """Recompute the SHA-256 of every chunk's rows; raise ``ValueError`` naming the first that differs."""
        for chunk in self.info["chunks"]:
            a, b = chunk["rows"]
            if _rows_sha256(self.images, self.embeddings, a, b) != chunk["sha256"]:
                raise ValueError(f"pool folder {self.folder}: rows {a}..{b - 1} changed since they were written "
                                 "(checksum mismatch); delete the folder to rebuild it")


def open_pool_files(folder: str | Path) -> PoolFiles:
    """Open a finished pool folder (made by :func:`make_pool_files`, here or on another machine).

    Parameters
    ----------
    folder : a folder holding ``pool.json``, ``images.npy``, ``embeddings.npy`` and ``labels.npz``.

    Returns
    -------
    PoolFiles: ``images`` and ``embeddings`` memory-mapped, so opening costs ``O(n)`` bytes of
    labels only. Taught in notebook 02, section 13.

    >>> from dcai_lab.data import load_digits
    >>> import tempfile
    >>> pool = make_pool_files(load_digits(), 200, cache_dir=tempfile.mkdtemp(), progress=False)
    >>> len(open_pool_files(pool.folder)), type(open_pool_files(pool.folder).embeddings).__name__
    (200, 'memmap')
    """
    folder = check_path(folder, "folder", allow_none=False)
    return PoolFiles(folder)


def make_pool_files(dataset: Dataset, n: int, *, seed: int = 0, rare_class: int | None = None,
                    prevalence: float | None = None, oversample: float = 1.15, method: str = "ssl",
                    checkpoint: str | Path | None = None, cache_dir: str | Path | None = None,
                    progress: bool = True, verify: bool = False) -> PoolFiles:
    """Build (or open, when cached) a pool of ``n`` distorted copies of ``dataset``, embedded, on disk.

    Parameters
    ----------
    dataset : the data set to distort (:func:`dcai_lab.augment.augment_pool`).
    n : items in the pool.
    seed : seeds the distortions and ``make_rare``.
    rare_class, prevalence : if given, make that class rare with :func:`dcai_lab.data.make_rare`
        over ``int(oversample * n)`` augmented items, and keep the first ``n`` left; otherwise the pool
        is ``augment_pool(dataset, n, seed)``.
    oversample : augmented items per pool item when a class is made rare (enough must be left).
    method : ``"ssl"``, ``"supervised"`` or ``"pixels"`` (:func:`dcai_lab.embed.embed`, normalized);
        methods that fit on the whole pool (``"pca"``) cannot be built chunk by chunk.
    checkpoint : an encoder file for ``"ssl"`` / ``"supervised"`` (default: the shipped one).
    cache_dir : where pool folders live; default ``$DCAI_CACHE_DIR`` or ``data/cache``.
    progress : a tqdm bar over the chunks.
    verify : recompute the checksums of a cached pool before returning it (:meth:`PoolFiles.verify`).

    Returns
    -------
    PoolFiles, read-only.

    Memory: one chunk, ``CHUNK_SIZE * (H * W * C + 4 * d)`` bytes of images and embeddings, plus
    the labels (8 bytes per augmented item) and the encoder. Disk: ``n * (H * W * C + 4 * d)``
    bytes. Taught in notebook 02, section 13.

    >>> from dcai_lab.data import load_digits
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> a = make_pool_files(load_digits(), 500, rare_class=3, prevalence=0.01, cache_dir=folder, progress=False)
    >>> b = make_pool_files(load_digits(), 500, rare_class=3, prevalence=0.01, cache_dir=folder, progress=False)
    >>> a.folder == b.folder, len(a), bool((a.y == 3).sum() <= 0.01 * 1.15 * 500 + 1)
    (True, 500, True)
    """
    if not isinstance(dataset, Dataset):
        raise ValueError(f"dataset must be a Dataset (e.g. load_digits()), got {type(dataset).__name__}")
    n, seed = check_int(n, "n", min=1, hint=" (the number of pool items)"), check_seed(seed)
    method = check_choice(method, "method", POOL_METHODS)
    progress, verify = check_bool(progress, "progress"), check_bool(verify, "verify")
    if (rare_class is None) != (prevalence is None):
        raise ValueError("give both rare_class and prevalence (to make a class rare), or neither")
    if rare_class is not None:
        check_int(rare_class, "rare_class", min=0, max=dataset.n_classes - 1)
        check_float(prevalence, "prevalence", min=0, max=1, min_open=True, max_open=True)
        oversample = check_float(oversample, "oversample", min=1, hint=" (augmented items per pool item)")
    n_augmented = n if rare_class is None else int(oversample * n)
    config = dict(format=POOL_FORMAT, n=n, n_augmented=n_augmented, seed=seed, rare_class=rare_class,
                  prevalence=prevalence, method=method, augment=_augment_defaults(),
                  checkpoint=_checkpoint_sha256(method, checkpoint), image_shape=list(dataset.image_shape))
    key = _pool_key(dataset, config)
    folder = _pools_dir(check_path(cache_dir, "cache_dir")) / f"pool-{key}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_name(folder.name + ".lock")):
        if not (folder / "pool.json").exists():
            _build(dataset, config, folder, checkpoint, progress)
    pool = PoolFiles(folder)
    if verify:
        pool.verify()
    return pool


# --------------------------------------------------------------------------- building


def _build(dataset: Dataset, config: dict, folder: Path, checkpoint, progress: bool) -> None:
    """Build the pool in ``<folder>.partial`` chunk by chunk (resuming), then rename it to ``folder``."""
    from tqdm.auto import tqdm

    start = time.perf_counter()
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(exist_ok=True)
    positions = _pool_positions(dataset, config)
    bases = _bases_of(dataset, positions, config)
    np.savez(partial / "labels.npz", y=dataset.y[bases], source_index=dataset.source_index[bases], positions=positions)
    state = _read_progress(partial, config)
    chunks = np.searchsorted(positions, np.arange(0, config["n_augmented"] + CHUNK_SIZE, CHUNK_SIZE))  # pool rows per chunk
    encoder = _encoder(config["method"], checkpoint)
    dim = int(np.prod(dataset.image_shape)) if encoder is None else int(encoder.config["embedding_dim"])
    images, new_images = _open_npy(partial / "images.npy", (config["n"],) + dataset.image_shape, np.uint8)
    embeddings, new_embeddings = _open_npy(partial / "embeddings.npy", (config["n"], dim), np.float32)
    if new_images or new_embeddings:  # a file was missing or damaged: its rows must all be written again
        state["chunks"] = {}
    todo = [c for c in range(len(chunks) - 1) if chunks[c] < chunks[c + 1] and str(c) not in state["chunks"]]
    for chunk in tqdm(todo, desc=f"pool of {config['n']:,}: distort and embed", unit="chunk", disable=not progress):
        started = time.perf_counter()
        a, b = int(chunks[chunk]), int(chunks[chunk + 1])
        imgs, _ = _augmented_chunk(dataset, config["n_augmented"], config["seed"], chunk)
        imgs = imgs[positions[a:b] - chunk * CHUNK_SIZE]
        images[a:b], embeddings[a:b] = imgs, _embed_rows(encoder, imgs, config["method"])
        images.flush()
        embeddings.flush()
        state["chunks"][str(chunk)] = {"rows": [a, b], "sha256": _rows_sha256(images, embeddings, a, b)}
        state["seconds"] += time.perf_counter() - started
        _write_json(partial / "progress.json", state)
    del images, embeddings
    chunk_list = [state["chunks"][c] for c in sorted(state["chunks"], key=int)]
    info = dict(config, class_names=list(dataset.class_names), name=f"{dataset.name}-pool-{config['n']}",
                chunks=chunk_list, seconds_building=state["seconds"], seconds_this_run=time.perf_counter() - start)
    _write_json(partial / "pool.json", info)
    if folder.exists():  # a damaged earlier folder without pool.json
        shutil.rmtree(folder)
    os.replace(partial, folder)


def _augmented_chunk(dataset: Dataset, n: int, seed: int, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """Images and base digits of chunk ``chunk`` of ``augment_pool(dataset, n, seed)``, the same random stream."""
    return augment_chunk(dataset, n, seed, chunk, **_augment_defaults())


def _bases_of(dataset: Dataset, positions: np.ndarray, config: dict) -> np.ndarray:
    """The base digit (row of ``dataset``) of each of the sorted augmented ``positions``: each chunk's first draw."""
    out = np.empty(len(positions), dtype=np.int64)
    bounds = np.searchsorted(positions, np.arange(0, config["n_augmented"] + CHUNK_SIZE, CHUNK_SIZE))  # sorted positions
    for chunk in range(len(bounds) - 1):
        a, b = bounds[chunk], bounds[chunk + 1]
        if a < b:
            base = np.random.default_rng([config["seed"], chunk]).integers(0, len(dataset), size=CHUNK_SIZE)
            out[a:b] = base[positions[a:b] - chunk * CHUNK_SIZE]
    return out


def _pool_positions(dataset: Dataset, config: dict) -> np.ndarray:
    """Sorted positions in the augmented stream of the pool's ``n`` items (``make_rare`` on the labels alone)."""
    n_aug = config["n_augmented"]
    every = np.arange(n_aug, dtype=np.int64)
    if config["rare_class"] is None:
        return every
    labels = dataset.y[_bases_of(dataset, every, config)]
    placeholder = Dataset(np.zeros((n_aug, 1, 1), np.uint8), labels, list(dataset.class_names), dataset.name,
                          source_index=every)  # make_rare reads labels only; source_index = position
    kept = make_rare(placeholder, config["rare_class"], config["prevalence"], seed=config["seed"]).source_index
    if len(kept) < config["n"]:
        raise ValueError(f"only {len(kept):,} items are left after make_rare of {n_aug:,} augmented items, "
                         f"{config['n']:,} wanted; raise oversample")
    return kept[: config["n"]]


def _pools_dir(cache_dir: Path | None) -> Path:
    """Where pool folders live: ``cache_dir``, else ``$DCAI_CACHE_DIR``, else ``data/cache`` (as the embeddings)."""
    from dcai_lab.data import DATA_DIR

    return Path(cache_dir or os.environ.get("DCAI_CACHE_DIR") or DATA_DIR / "cache")


def _encoder(method: str, checkpoint):
    if method == "pixels":
        return None
    from dcai_lab.encoder import load_encoder

    return load_encoder(checkpoint, kind=method)


def _embed_rows(encoder, images: np.ndarray, method: str) -> np.ndarray:
    """``embed(images, method, normalize=True)`` with an encoder loaded once (unit float32 rows)."""
    from dcai_lab._checks import unit_rows
    from dcai_lab.embed import embed, encode

    raw = (embed(images, method="pixels", cache=False, progress=False) if encoder is None
           else encode(encoder, images, batch_size=1024, progress=False))
    return unit_rows(raw, f"the {method} embeddings", np.float32)


def _open_npy(path: Path, shape: tuple, dtype) -> tuple[np.memmap, bool]:
    """An .npy file of ``shape`` opened for writing, and whether it is new: reopened on resume, else created (zeros)."""
    try:
        mm = np.load(path, mmap_mode="r+")
        if mm.shape == tuple(shape) and mm.dtype == dtype:
            return mm, False
        del mm
    except (OSError, ValueError):  # missing, or not a readable .npy file
        pass
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=tuple(shape)), True


def _rows_sha256(images: np.ndarray, embeddings: np.ndarray, a: int, b: int) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images[a:b]).data)
    h.update(np.ascontiguousarray(embeddings[a:b]).data)
    return h.hexdigest()


def _read_progress(partial: Path, config: dict) -> dict:
    """The chunks already written by an interrupted run (none if its progress file is missing or foreign)."""
    try:
        state = json.loads((partial / "progress.json").read_text())
        if state.get("config") == json.loads(json.dumps(config)):
            return state
    except (OSError, ValueError):
        pass
    return {"config": config, "chunks": {}, "seconds": 0.0}


def _write_json(path: Path, value: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(value, indent=1).encode()))


@contextmanager
def _locked(lock_file: Path):
    """Hold an exclusive lock on ``lock_file`` (another process building the same pool waits)."""
    with open(lock_file, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --------------------------------------------------------------------------- the key


def _augment_defaults() -> dict:
    """``augment_pool``'s distortion settings (its keyword defaults), part of the key."""
    return {name: p.default for name, p in inspect.signature(augment_pool).parameters.items()
            if p.default is not inspect.Parameter.empty and name != "seed"}


def _checkpoint_sha256(method: str, checkpoint) -> str | None:
    if method == "pixels":
        return None
    from dcai_lab.encoder import checkpoint_path

    path = checkpoint_path(method) if checkpoint is None else Path(checkpoint)
    return file_sha256(path) if path.exists() else "missing"


def _pool_key(dataset: Dataset, config: dict) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(dataset.images).data)
    h.update(np.ascontiguousarray(dataset.y).data)
    h.update(np.ascontiguousarray(dataset.source_index).data)
    h.update(json.dumps(config, sort_keys=True).encode())
    return h.hexdigest()[:32]
