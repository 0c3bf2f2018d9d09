"""Past one machine: embedding a pool and scoring all of it, block by block on Dask (notebook 02, section 13).

Install the extra first: ``pip install -e ".[scale]"`` (Dask and ``dask.distributed``). A Dask
array is a grid of NumPy blocks; every function here works one block of rows at a time, so the
same code runs on the threads of this process, on a ``LocalCluster`` of worker processes, or on
a cluster of many machines (``Client("tcp://scheduler:8786")``): Dask sends each block's task to
a worker and only small results come back.

- :func:`pool_array`: a Dask array over a ``.npy`` file (e.g. a pool of :mod:`dcai_lab.pool_files`)
  on storage every worker can read; each block is read by the worker that needs it.
- :func:`embed_blocks`: ``embed(..., normalize=True)`` of each block of images (the encoder is
  loaded once per worker process); :func:`write_npy` stores the result, each worker its rows.
- :func:`select_uncertain`: full-pool uncertainty sampling, ``argmax_batch score(model(x))``: each block
  returns its best ``batch_size`` (score, pool id) pairs, and the driver merges those few, so
  the data moved is ``blocks * batch_size`` pairs, not the pool. The result is that of
  :func:`dcai_lab.strategies.entropy_sampling` (or margin / least confidence) in one process,
  ties to the lowest pool id.

>>> import dask.array as da
>>> from sklearn.linear_model import LogisticRegression
>>> x = np.linspace(-1, 1, 200)[:, None]
>>> model = LogisticRegression().fit(x[[0, -1]], [0, 1])
>>> select_uncertain(model, da.from_array(x, chunks=64), batch_size=2).tolist()   # nearest x = 0
[99, 100]
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from dcai_lab._checks import (check_bool, check_choice, check_ids, check_int, check_model, check_path, check_vector,
                              unit_rows)
from dcai_lab.strategies import SCORE_CHUNK_ROWS
from dcai_lab.uncertainty import entropy, least_confidence, margin

__all__ = ["pool_array", "embed_blocks", "write_npy", "select_uncertain", "SCORES"]

SCORES = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError as exc:
        raise ImportError("dcai_lab.distributed needs Dask: pip install -e \".[scale]\" (or pip install "
                          "\"dask[distributed]\")") from exc
    return dask, da


# --------------------------------------------------------------------------- arrays on shared storage


class _NpyRows:
    """A ``.npy`` file as an array-like for ``dask.array.from_array``: pickled as its path, opened where read."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        header = np.load(self.path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = header.shape, header.dtype, header.ndim

    def __getitem__(self, key):
        return np.asarray(np.load(self.path, mmap_mode="r")[key])

    def __reduce__(self):
        return (_NpyRows, (self.path,))


def pool_array(path: str | Path, block_rows: int = 65_536):
    """A Dask array over the ``.npy`` file ``path``, in blocks of ``block_rows`` rows (notebook 02, section 13).

    Parameters
    ----------
    path : a ``.npy`` file that every worker can read at the same path (a shared or network
        file system); a task ships the path, never the data.
    block_rows : rows per block; block ``j`` holds rows ``j * block_rows .. (j + 1) * block_rows - 1``.

    Returns
    -------
    dask.array.Array of the file's shape and dtype, ``ceil(n / block_rows)`` blocks of whole rows.
    Its name is a token of the file's resolved path, size, modification time and ``block_rows``,
    so two files never share a graph key (even two ``embeddings.npy`` in different folders).

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(10.0).reshape(5, 2))
    >>> a = pool_array(path, block_rows=2)
    >>> a.chunks, float(a.sum().compute())
    (((2, 2, 1), (2,)), 45.0)
    """
    dask, da = _dask()
    path = check_path(path, "path", allow_none=False)
    if not path.is_file():
        raise ValueError(f"path: no file {path}; give the path of a .npy file that every worker can read")
    rows = _NpyRows(path)
    block_rows = check_int(block_rows, "block_rows", min=1)
    stat = path.stat()
    token = dask.base.tokenize(str(path.resolve()), stat.st_size, stat.st_mtime_ns, block_rows)
    return da.from_array(rows, chunks=(block_rows,) + rows.shape[1:], name=f"npy-{path.stem}-{token}")


def write_npy(array, path: str | Path) -> Path:
    """Store a Dask array in a ``.npy`` file: the driver writes the header, each block's worker its rows.

    Block ``j`` of rows ``a_j .. b_j - 1`` (``a_j`` = the sum of the earlier blocks' rows) is written
    by the worker that computed it into rows ``a_j .. b_j - 1`` of the file; an array split along
    other axes too is first rechunked to whole rows. Taught in notebook 02, section 13.

    Parameters
    ----------
    array : a Dask array (n, ...).
    path : the file to write, on storage every worker can write.

    Returns
    -------
    ``path`` (a Path); open it with ``np.load(path, mmap_mode="r")`` or :func:`pool_array`.

    >>> import dask.array as da, tempfile, os
    >>> x = da.from_array(np.arange(12).reshape(4, 3), chunks=(3, 2))
    >>> out = write_npy(x, os.path.join(tempfile.mkdtemp(), "x.npy"))
    >>> np.load(out).tolist()
    [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    """
    dask, da = _dask()
    if not isinstance(array, da.Array) or array.ndim < 1:
        raise ValueError(f"array must be a Dask array of at least 1 dimension, got {type(array).__name__}")
    path = check_path(path, "path", allow_none=False)
    if any(len(c) > 1 for c in array.chunks[1:]):
        array = array.rechunk({axis: -1 for axis in range(1, array.ndim)})  # whole rows in every block
    np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape).flush()
    starts = np.cumsum((0,) + array.chunks[0])[:-1]
    blocks = array.to_delayed().ravel()
    dask.compute(*[dask.delayed(_write_rows)(block, str(path), int(start)) for block, start in zip(blocks, starts)])
    return path


def _write_rows(block: np.ndarray, path: str, start: int) -> int:
    out = np.load(path, mmap_mode="r+")
    out[start:start + len(block)] = block
    out.flush()
    return len(block)


# --------------------------------------------------------------------------- embedding


def embed_blocks(images, method: str = "ssl", normalize: bool = True, checkpoint: str | Path | None = None):
    """:func:`dcai_lab.embed.embed` of every block of a Dask array of images (N, H, W[, C]): a Dask array (N, d).

    Row ``i`` of the result is ``f(x_i) / ||f(x_i)||`` (``normalize=True``) for the encoder ``f``
    of ``method``, computed by the worker that holds block ``j`` of the images, in batches of
    1,024 from the block's first row: blocks of a multiple of 1,024 rows give exactly the
    single-process result, others the same up to float32 rounding. Only methods that embed
    each image on its own. Taught in notebook 02, section 13.

    Parameters
    ----------
    images : a Dask array (N, H, W) or (N, H, W, C) of uint8 or float images.
    method : ``"ssl"``, ``"supervised"`` or ``"pixels"``.
    normalize : unit rows.
    checkpoint : an encoder file (default: the shipped one), read by every worker.

    Returns
    -------
    dask.array.Array (N, d) float32, with the images' row blocks.

    >>> import dask.array as da
    >>> imgs = da.from_array(np.arange(2 * 2 * 2, dtype=np.uint8).reshape(2, 2, 2) * 30, chunks=1)
    >>> embed_blocks(imgs, method="pixels").compute().astype(float).round(3).tolist()
    [[0.0, 0.267, 0.535, 0.802], [0.356, 0.445, 0.535, 0.624]]
    """
    _, da = _dask()
    from dcai_lab.pool_files import POOL_METHODS

    method = check_choice(method, "method", POOL_METHODS)
    normalize = check_bool(normalize, "normalize")
    if not isinstance(images, da.Array) or images.ndim not in (3, 4):
        raise ValueError("images must be a Dask array (N, H, W) or (N, H, W, C), e.g. "
                         "dask.array.from_array(images, chunks=65_536) or pool_array('images.npy')")
    if len(images.chunks[1:]) and any(len(c) > 1 for c in images.chunks[1:]):
        images = images.rechunk({axis: -1 for axis in range(1, images.ndim)})  # whole images in every block
    dim = _embedding_dim(method, checkpoint, images.shape[1:])
    checkpoint = None if checkpoint is None else str(checkpoint)
    return images.map_blocks(_embed_block, method, normalize, checkpoint, dtype=np.float32,
                             chunks=(images.chunks[0], (dim,)), drop_axis=list(range(2, images.ndim)))


def _embedding_dim(method: str, checkpoint, image_shape) -> int:
    if method == "pixels":
        return int(np.prod(image_shape))
    return int(_encoder(method, None if checkpoint is None else str(checkpoint)).config["embedding_dim"])


@lru_cache(maxsize=4)
def _encoder(method: str, checkpoint: str | None):
    """The encoder, loaded once per (worker) process."""
    from dcai_lab.encoder import load_encoder

    return load_encoder(checkpoint, kind=method)


def _embed_block(block: np.ndarray, method: str, normalize: bool, checkpoint: str | None) -> np.ndarray:
    from dcai_lab.embed import embed, encode

    raw = (embed(block, method="pixels", cache=False, progress=False) if method == "pixels"
           else encode(_encoder(method, checkpoint), block, batch_size=1024, progress=False))
    return unit_rows(raw, f"the {method} embeddings", np.float32) if normalize else raw


# --------------------------------------------------------------------------- full-pool scoring


def select_uncertain(model, X, batch_size: int, labeled_ids=(), score: str = "entropy") -> np.ndarray:
    """The ``batch_size`` unlabeled pool ids with the largest uncertainty ``score``, scored block by block on Dask.

    ``argmax_batch_{i unlabeled} score(p(y | x_i))``: each block returns its best ``batch_size``
    (score, pool id) pairs and the driver merges those ``blocks * batch_size`` pairs, so what
    moves is a few pairs per block, never the pool. Taught in notebook 02, section 13.

    Parameters
    ----------
    model : a fitted classifier with ``predict_proba``, sent to every worker.
    X : a Dask array (N, d) of the pool's features (embeddings); row ``i`` is pool id ``i``.
    batch_size : how many ids to return, most uncertain first.
    labeled_ids : pool ids already labeled (never returned); sent to every worker, so keep it
        to the labeled set, not a mask of the pool.
    score : ``"entropy"`` (MaxEnt), ``"margin"`` or ``"least_confidence"``.

    Returns
    -------
    int64 array of ``batch_size`` ids, by score and ties to the lowest id
    (:func:`dcai_lab.strategies.top_scoring`): the same as
    ``entropy_sampling(model, X, labeled, batch_size, rng)`` in one process.

    >>> import dask.array as da
    >>> from sklearn.linear_model import LogisticRegression
    >>> x = np.linspace(-1, 1, 9)[:, None]           # p(y=1 | x) = 1/2 at x = 0, id 4
    >>> model = LogisticRegression().fit(x[[0, -1]], [0, 1])
    >>> select_uncertain(model, da.from_array(x, chunks=4), batch_size=3, labeled_ids=[4]).tolist()
    [3, 5, 2]
    """
    dask, da = _dask()
    check_model(model)
    score = check_choice(score, "score", tuple(SCORES))
    if not isinstance(X, da.Array) or X.ndim != 2:
        raise ValueError("X must be a 2-D Dask array (n_pool, n_features), e.g. pool_array('embeddings.npy')")
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # whole rows in every block
    labeled = np.unique(check_ids(labeled_ids, X.shape[0], "labeled_ids"))
    batch_size = check_int(batch_size, "batch_size", min=1, max=X.shape[0] - len(labeled),
                           hint=f" (the pool has {X.shape[0] - len(labeled)} unlabeled items)")
    starts = np.cumsum((0,) + X.chunks[0])[:-1]
    model_in_graph = dask.delayed(model, pure=True)
    parts = [dask.delayed(_block_best)(block, int(start), model_in_graph, labeled, batch_size, score)
             for block, start in zip(X.to_delayed().ravel(), starts)]
    results = dask.compute(*parts)
    scores = np.concatenate([r[0] for r in results])
    ids = np.concatenate([r[1] for r in results])
    return ids[np.lexsort((ids, -scores))[:batch_size]]


def _block_best(block: np.ndarray, start: int, model, labeled: np.ndarray, batch_size: int, score: str):
    """The best ``batch_size`` (scores, pool ids) of one block, scored as ``entropy_sampling`` scores them."""
    from dcai_lab._checks import check_matrix

    ids = np.arange(start, start + len(block))
    keep = ~np.isin(ids, labeled)
    ids, rows = ids[keep], block[keep]
    scores = np.empty(len(ids))
    for a in range(0, len(ids), SCORE_CHUNK_ROWS):
        x = check_matrix(rows[a:a + SCORE_CHUNK_ROWS], "X")
        scores[a:a + len(x)] = check_vector(SCORES[score](model.predict_proba(x)), "scores", n=len(x))
    best = np.lexsort((ids, -scores))[:batch_size]
    return scores[best], ids[best]
