"""Core-set selection by k-center greedy (Sener & Savarese, 2018; notebook 01, section 5).

Cover the pool with the labeled points: repeatedly label the point farthest from every
point labeled (or picked) so far,

    u = argmax_{i in candidates} min_{j in labeled or picked} ||z_i - z_j||

so that the largest distance from any pool point to its nearest labeled point (the covering
radius) shrinks as fast as possible. The model is not used: core-set looks only at the
embeddings (pixels here; Sener & Savarese use the network's own features).

Distances are exact for offset data: ``||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2`` cancels
catastrophically when the features share a large offset (in float32 it picks a wrong nearest
point for a third of the rows at an offset of 1,000), so the data are centred and scaled
first and the sums are taken in float64.

>>> z = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])
>>> labeled = np.array([True, False, False, False, False])        # only 0 is labeled
>>> k_center_greedy(z, labeled, 2).tolist()                      # 10 is farthest from 0; then 3 (3 from 0, 7 from 10)
[4, 3]
"""

from __future__ import annotations

import numpy as np

__all__ = ["k_center_greedy", "min_sq_distances"]

CHUNK_ELEMENTS = 2**22  # distances held at a time by min_sq_distances


def k_center_greedy(z: np.ndarray, labeled: np.ndarray, batch_size: int, candidates: np.ndarray | None = None,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """``batch_size`` pool ids by k-center greedy, in the order picked (see the module docstring).

    Expects checked input (the strategy :func:`dcai_lab.active.core_set_sampling` checks it):
    ``z`` a finite (N, d) array, ``labeled`` a boolean mask (N,), ``candidates`` sorted
    unlabeled pool ids (default: every unlabeled id) with at least ``batch_size`` of them.
    With nothing labeled, the first pick is drawn with ``rng`` (default: seed 0).
    """
    ids = np.flatnonzero(~labeled) if candidates is None else candidates
    z = _centred_and_scaled(z)
    points = z[ids]
    nearest = min_sq_distances(points, z[labeled])
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


def _centred_and_scaled(z: np.ndarray) -> np.ndarray:
    """``(z - mean) / 2^e`` in float64, ``2^e`` the power of two nearest ``max |z - mean|``.

    Distances keep their order (a shift and an exact power-of-two scale), the shared offset
    is gone, and no square of a huge or tiny number over- or underflows.
    """
    z = np.asarray(z, dtype=np.float64)
    z = z - z.mean(axis=0)
    largest = float(np.abs(z).max()) if z.size else 0.0
    return np.ldexp(z, -np.frexp(largest)[1]) if largest > 0 else z


def min_sq_distances(X: np.ndarray, centers: np.ndarray, chunk_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
    """Squared distance of every row of ``X`` to its nearest row of ``centers`` (inf if there are none).

    Finds the nearest centre with ``||x||^2 - 2 x.c + ||c||^2`` in float64, chunk by chunk (at
    most ``chunk_elements`` distances at a time), then recomputes that distance exactly as
    ``||x - c||^2``. Expects finite float arrays; centre offset data first (as
    :func:`k_center_greedy` does).

    >>> min_sq_distances(np.array([[0.0, 0.0], [3.0, 4.0]]), np.array([[0.0, 1.0], [3.0, 3.0]])).tolist()
    [1.0, 1.0]
    """
    out = np.full(len(X), np.inf)
    if len(centers) == 0 or len(X) == 0:
        return out
    centers = np.asarray(centers, dtype=np.float64)
    center_norms = np.einsum("ij,ij->i", centers, centers)
    step = max(1, chunk_elements // len(centers))
    for start in range(0, len(X), step):
        block = np.asarray(X[start:start + step], dtype=np.float64)
        d = np.einsum("ij,ij->i", block, block)[:, None] - 2 * block @ centers.T + center_norms[None, :]
        diff = block - centers[np.argmin(d, axis=1)]
        out[start:start + len(block)] = np.einsum("ij,ij->i", diff, diff)
    return out


def _sq_distances_to(X: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of every row of ``X`` to ``point`` (float64 arrays)."""
    diff = X - point
    return np.einsum("ij,ij->i", diff, diff)
