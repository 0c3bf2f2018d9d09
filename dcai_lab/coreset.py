"""Core-set selection by k-center greedy (Sener & Savarese, 2018; notebook 01, section 5).

Cover the pool with the labeled points: repeatedly label the point farthest from every
point labeled (or picked) so far,

    u = argmax_{i in candidates} min_{j in labeled or picked} ||z_i - z_j||

so that the largest distance from any pool point to its nearest labeled point (the covering
radius) shrinks as fast as possible. The model is not used: core-set looks only at the
embeddings (pixels here; Sener & Savarese use the network's own features).

Distances are exact for offset data: ``||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2`` cancels
catastrophically when the features share a large offset (in float32 it picks a wrong nearest
point for a third of the rows at an offset of 1,000), so every distance the greedy compares
is a direct difference ``||x - c||^2`` in float64; the expansion only *finds* the nearest
labeled point, on data shifted to the centres' mean. The data are scaled by a power of two
first (exact), so neither huge (1e200) nor tiny (1e-200) values over- or underflow, and
equal distances stay equal: ties go to the lowest pool id, as in a direct computation.

>>> z = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
>>> labeled = np.array([True, False, False, False, False])        # only 0 is labeled
>>> k_center_greedy(z, labeled, 2).tolist()                      # 10 is farthest from 0; then 3 (3 from 0, 7 from 10)
[4, 3]
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import check_ids, check_int, check_mask, check_matrix, check_rng, some

__all__ = ["k_center_greedy", "min_sq_distances"]

CHUNK_ELEMENTS = 2**22  # distances held at a time by min_sq_distances


def k_center_greedy(z: np.ndarray, labeled: np.ndarray, batch_size: int, candidates: np.ndarray | None = None,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """``batch_size`` pool ids by k-center greedy, in the order picked (see the module docstring).

    ``z`` is a finite (N, d) array, ``labeled`` a boolean mask (N,), ``candidates`` the
    unlabeled pool ids to pick from (default: every unlabeled id), at least ``batch_size``
    of them. With nothing labeled, the first pick is drawn with ``rng`` (default: seed 0).
    """
    z = check_matrix(z, "z", what="(n_pool, dim), one embedding per pool item", dtype=None)
    labeled = check_mask(labeled, len(z), "labeled")
    batch_size = check_int(batch_size, "batch_size", min=1)
    if candidates is None:
        ids = np.flatnonzero(~labeled)
    else:
        ids = np.unique(check_ids(candidates, len(z), "candidates"))
        if labeled[ids].any():
            raise ValueError(f"candidates {some(ids[labeled[ids]])} are already labeled; pass only unlabeled pool ids")
    if len(ids) < batch_size:
        raise ValueError(f"only {len(ids)} unlabeled candidates remain but batch_size is {batch_size}")
    return _k_center_greedy(z, labeled, batch_size, ids, None if rng is None else check_rng(rng))


def _k_center_greedy(z: np.ndarray, labeled: np.ndarray, batch_size: int, ids: np.ndarray,
                     rng: np.random.Generator | None) -> np.ndarray:
    """:func:`k_center_greedy` of checked input: ``ids`` sorted unlabeled pool ids, at least ``batch_size``."""
    z = _scaled(z)
    points = z[ids]
    nearest = _min_sq_distances(points, z[labeled], CHUNK_ELEMENTS)
    picked = np.empty(batch_size, dtype=np.int64)
    for b in range(batch_size):
        if np.isinf(nearest).all():  # nothing labeled or picked yet
            i = int((rng or np.random.default_rng(0)).integers(len(ids)))
        else:
            i = int(np.argmax(nearest))
        picked[b] = ids[i]
        np.minimum(nearest, _sq_distances_to(points, points[i]), out=nearest)
        nearest[i] = -1.0  # never again
    return picked


def _scaled(z: np.ndarray) -> np.ndarray:
    """``z / 2^e`` in float64, ``2^e`` the power of two nearest ``max |z|``.

    An exact scale: every difference keeps its value (relative to the others), and no square
    of a huge or tiny number over- or underflows. The data are not centred: subtracting a
    mean rounds, and would break exact ties between distances.
    """
    z = np.asarray(z, dtype=np.float64)
    largest = float(np.abs(z).max()) if z.size else 0.0
    return np.ldexp(z, -np.frexp(largest)[1]) if largest > 0 else z


def min_sq_distances(X: np.ndarray, centers: np.ndarray, chunk_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
    """Squared distance of every row of ``X`` to its nearest row of ``centers`` (inf if there are none).

    Finds the nearest centre with ``||x||^2 - 2 x.c + ||c||^2`` in float64 on rows shifted by
    the centres' mean (so a shared offset cancels before the expansion), chunk by chunk (at
    most ``chunk_elements`` distances at a time), then recomputes that distance directly as
    ``||x - c||^2`` from the rows as given. Expects finite float arrays whose squares do not
    overflow (:func:`k_center_greedy` scales them first by a power of two).

    >>> min_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [3.0, 3.0]])).tolist()
    [1.0, 1.0]
    """
    X = check_matrix(X, "X", what="(n, dim)", dtype=None, min_rows=0)
    centers = check_matrix(centers, "centers", what="(n_centers, dim)", dtype=None, min_rows=0, n_cols=X.shape[1])
    return _min_sq_distances(X, centers, check_int(chunk_elements, "chunk_elements", min=1))


def _min_sq_distances(X: np.ndarray, centers: np.ndarray, chunk_elements: int) -> np.ndarray:
    """:func:`min_sq_distances` of checked float arrays."""
    out = np.full(len(X), np.inf)
    if len(centers) == 0 or len(X) == 0:
        return out
    centers = np.asarray(centers, dtype=np.float64)
    shift = centers.mean(axis=0)
    shifted = centers - shift
    center_norms = np.einsum("ij,ij->i", shifted, shifted)
    step = max(1, chunk_elements // len(centers))
    for start in range(0, len(X), step):
        block = np.asarray(X[start:start + step], dtype=np.float64)
        moved = block - shift
        d = np.einsum("ij,ij->i", moved, moved)[:, None] - 2 * moved @ shifted.T + center_norms[None, :]
        diff = block - centers[np.argmin(d, axis=1)]
        out[start:start + len(block)] = np.einsum("ij,ij->i", diff, diff)
    return out


def _sq_distances_to(X: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every row of ``X`` to ``point`` (float64 arrays)."""
    diff = X - point
    return np.einsum("ij,ij->i", diff, diff)
