"""An index too big for one machine: IVF shards trained once, filled apart, searched together (notebook 02, section 13).

An IVF index (kinds ``"ivfsq"`` and ``"ivfpq"`` of :mod:`dcai_lab.knn`) is its trained part (the
cells' centroids and the codes' tables: ``4 * d * nlist`` bytes and the codebooks) plus one inverted list per cell holding the
codes and pool ids of the cell's points (bytes per point times ``n``). The lists split by pool
id: shard ``s`` is a copy of the trained, empty index filled with the pool's rows
``a_s .. b_s - 1`` under their pool ids, and each shard can be filled on its own machine
(:func:`fill_shard`, e.g. a Dask task reading its rows from the pool's file). Then, with faiss's
own tools, either

- :func:`search_shards`: ``faiss.IndexShards`` sends every query to every shard and merges
  their ``k`` best (the shards in one process here; across machines, one per server); or
- :func:`merge_on_disk`: ``faiss.contrib.ondisk.merge_ondisk`` writes all the shards' lists into
  one file that the index reads through ``mmap`` (``OnDiskInvertedLists``): memory holds only
  the trained part, the operating system pages in the lists a query scans.

Either way the neighbours are those of one index over the whole pool (the same cells, codes and
ids), and :class:`~dcai_lab.knn.KnnIndex` wraps the result, so SEALS's
:class:`~dcai_lab.seals.CandidatePool` runs on it unchanged.

>>> x = np.random.default_rng(0).standard_normal((12_000, 16)).astype(np.float32)
>>> trained = train_ivf(x, nlist=16)
>>> shards = [fill_shard(trained, x, 0, 6_000), fill_shard(trained, x, 6_000, 12_000)]
>>> index = search_shards(shards, x, nprobe=4)
>>> _, ids = index.neighbors([3], k=5)
>>> bool(np.array_equal(ids, KnnIndex(x, kind="ivfsq", nlist=16, nprobe=4).neighbors([3], k=5)[1]))
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dcai_lab._checks import CHUNK_ROWS, check_choice, check_int, check_matrix, check_path, check_seed, unit_rows
from dcai_lab._ivf import train_ivf as _train_ivf
from dcai_lab._ivf import unit_memmap as _unit_memmap
from dcai_lab.knn import IVF_KINDS, KnnIndex, ivf_settings

__all__ = ["train_ivf", "fill_shard", "search_shards", "merge_on_disk"]


def _unit(embeddings):
    """Unit float32 rows: a ``.npy`` path or a memory-mapped file as it is (checked), other arrays normalised."""
    if isinstance(embeddings, (str, Path)):
        if not Path(embeddings).exists():
            raise ValueError(f"embeddings: no file {embeddings}; give an array or the path of a .npy file")
        embeddings = np.load(embeddings, mmap_mode="r")
    if isinstance(embeddings, np.memmap):
        return _unit_memmap(embeddings)
    return unit_rows(check_matrix(embeddings, "embeddings", what="(n_points, dim)", dtype=None), "embeddings",
                     np.float32)


def train_ivf(embeddings, kind: str = "ivfsq", nlist: int | None = None, pq_bytes: int | None = None,
              seed: int = 0) -> bytes:
    """The trained, empty IVF index of ``KnnIndex(embeddings, kind, nlist=..., pq_bytes=..., seed=...)``, serialized.

    Trains on the same seeded sample as :class:`~dcai_lab.knn.KnnIndex` (``39 * nlist`` rows), so
    shards filled from it hold exactly that index's lists. The bytes (``4 * d * nlist`` for the
    centroids plus the codes' tables) are what every shard's machine gets. Taught in notebook 02,
    section 13.

    Parameters
    ----------
    embeddings : (n, d) array, memory-mapped float32 unit rows, or the path of such a ``.npy`` file.
    kind : ``"ivfsq"`` or ``"ivfpq"``.
    nlist, pq_bytes, seed : as in :class:`~dcai_lab.knn.KnnIndex`.

    Returns
    -------
    bytes, a serialized faiss index with no points.

    >>> x = np.random.default_rng(0).standard_normal((10_000, 8)).astype(np.float32)
    >>> import faiss
    >>> faiss.deserialize_index(np.frombuffer(train_ivf(x, nlist=4), np.uint8)).ntotal
    0
    """
    import faiss

    kind = check_choice(kind, "kind", IVF_KINDS)
    vectors = _unit(embeddings)
    nlist, pq_bytes = ivf_settings(kind, len(vectors), vectors.shape[1], nlist, pq_bytes)
    return faiss.serialize_index(_train_ivf(vectors, nlist, pq_bytes, check_seed(seed))).tobytes()


def fill_shard(trained: bytes, embeddings, start: int, stop: int) -> bytes:
    """A shard: the trained index holding rows ``start .. stop - 1`` of ``embeddings`` under their pool ids (bytes).

    ``embeddings`` may be the path of the pool's ``.npy`` file: only those rows are read, a chunk
    at a time, so a shard can be filled on any machine that sees the file, e.g. as a Dask task
    (``client.submit(fill_shard, trained, "embeddings.npy", start, stop)``). Shard ``s`` of ``S``
    over ``n`` rows is usually ``start = s * n // S``, ``stop = (s + 1) * n // S``. Taught in
    notebook 02, section 13.

    Parameters
    ----------
    trained : bytes from :func:`train_ivf`.
    embeddings : the whole pool's embeddings (array, memmap or ``.npy`` path); row ``i`` = pool id ``i``.
    start, stop : the rows (pool ids) this shard holds, ``start .. stop - 1``.

    Returns
    -------
    bytes, the serialized shard (``stop - start`` points).

    >>> x = np.random.default_rng(0).standard_normal((10_000, 8)).astype(np.float32)
    >>> import faiss
    >>> faiss.deserialize_index(np.frombuffer(fill_shard(train_ivf(x, nlist=4), x, 500, 1_200), np.uint8)).ntotal
    700
    """
    import faiss

    vectors = _unit(embeddings)
    start = check_int(start, "start", min=0, max=len(vectors))
    stop = check_int(stop, "stop", min=start, max=len(vectors), hint=f" (from start={start} to {len(vectors)})")
    shard = _read(trained)
    for a in range(start, stop, CHUNK_ROWS):
        b = min(a + CHUNK_ROWS, stop)
        shard.add_with_ids(np.ascontiguousarray(vectors[a:b]), np.arange(a, b, dtype=np.int64))
    return faiss.serialize_index(shard).tobytes()


def search_shards(shards: list[bytes], embeddings, nprobe: int = 8, rerank: int | None = None,
                  kind: str = "ivfsq") -> KnnIndex:
    """A :class:`~dcai_lab.knn.KnnIndex` over all ``shards`` at once (``faiss.IndexShards``).

    ``embeddings`` are the whole pool's (row ``i`` = pool id ``i``), read only to re-rank and to
    look up the vectors of query ids. ``nprobe`` cells are scanned in every shard, so a query
    scans ``nprobe * n / nlist`` codes in all, as one index would, and the shards' ``k`` best
    are merged. Taught in notebook 02, section 13.

    Parameters
    ----------
    shards : bytes from :func:`fill_shard`, one per shard.
    embeddings : the whole pool's embeddings (array, memmap or ``.npy`` path).
    nprobe : cells scanned per query in every shard.
    rerank, kind : as in :class:`~dcai_lab.knn.KnnIndex`.

    Returns
    -------
    KnnIndex (its ``index`` a ``faiss.IndexShards``); see the module's example.
    """
    import faiss

    if not shards:
        raise ValueError("give at least one shard (from fill_shard)")
    nprobe = check_int(nprobe, "nprobe", min=1)
    parts = [_read(shard) for shard in shards]
    joined = faiss.IndexShards(parts[0].d, True, False)  # threaded; the shards keep their own (pool) ids
    for part in parts:
        faiss.extract_index_ivf(part).nprobe = nprobe
        joined.add_shard(part)
    index = KnnIndex.from_faiss(joined, _unit(embeddings), kind=check_choice(kind, "kind", IVF_KINDS), rerank=rerank)
    index.nprobe = nprobe
    return index


def merge_on_disk(trained: bytes, shard_files: list[str | Path], folder: str | Path, embeddings, nprobe: int = 8,
                  rerank: int | None = None, kind: str = "ivfsq") -> KnnIndex:
    """Merge shard files (each ``fill_shard``'s bytes, written to a file) into one index whose lists stay on disk.

    Writes ``folder/lists.ivfdata`` (every shard's codes and ids, one list per cell) and
    ``folder/index.faiss`` (the trained part, pointing at the lists); the returned index reads the
    lists through ``mmap``. Reopen it later with ``faiss.read_index(str(folder / "index.faiss"))``
    and :meth:`KnnIndex.from_faiss`. Memory: the trained part only; the lists' file holds
    ``n * (code bytes + 8)`` bytes. Taught in notebook 02, section 13.

    Parameters
    ----------
    trained : bytes from :func:`train_ivf`, the index the shards were filled from.
    shard_files : files each holding one :func:`fill_shard` result.
    folder : where to write ``lists.ivfdata`` and ``index.faiss``.
    embeddings, nprobe, rerank, kind : as in :func:`search_shards`.

    Returns
    -------
    KnnIndex over every shard's points, its lists read from disk.

    >>> import tempfile
    >>> x = np.random.default_rng(0).standard_normal((10_000, 8)).astype(np.float32)
    >>> trained, folder = train_ivf(x, nlist=4), Path(tempfile.mkdtemp())
    >>> for s, (a, b) in enumerate([(0, 4_000), (4_000, 10_000)]):
    ...     _ = (folder / f"shard{s}").write_bytes(fill_shard(trained, x, a, b))
    >>> index = merge_on_disk(trained, [folder / "shard0", folder / "shard1"], folder / "merged", x, nprobe=4)
    >>> len(index), (folder / "merged" / "lists.ivfdata").exists()
    (10000, True)
    """
    import faiss
    from faiss.contrib.ondisk import merge_ondisk

    folder = check_path(folder, "folder", allow_none=False)
    folder.mkdir(parents=True, exist_ok=True)
    files = [str(Path(f)) for f in shard_files]
    if not files:
        raise ValueError("give at least one shard file")
    missing = [f for f in files if not Path(f).exists()]
    if missing:
        raise ValueError(f"shard files {missing} do not exist; write each fill_shard(...) result to a file first")
    index = _read(trained)
    merge_ondisk(index, files, str(folder / "lists.ivfdata"))
    faiss.write_index(index, str(folder / "index.faiss"))
    index = faiss.read_index(str(folder / "index.faiss"))
    faiss.extract_index_ivf(index).nprobe = check_int(nprobe, "nprobe", min=1)
    wrapped = KnnIndex.from_faiss(index, _unit(embeddings), kind=check_choice(kind, "kind", IVF_KINDS), rerank=rerank)
    wrapped.nprobe = nprobe
    return wrapped


def _read(serialized: bytes):
    import faiss

    if not isinstance(serialized, (bytes, bytearray)):
        raise ValueError(f"expected a serialized faiss index (bytes from train_ivf or fill_shard), got "
                         f"{type(serialized).__name__}")
    return faiss.deserialize_index(np.frombuffer(serialized, dtype=np.uint8))
