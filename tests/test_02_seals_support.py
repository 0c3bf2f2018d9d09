"""Notebook 02's explore-mode references (dcai_lab.course.references) do what its exercises ask.

Each is checked against the library on small data of its own: the LSH codes and Hamming search
against faiss's ``IndexLSH`` (through ``KnnIndex``), the candidate-pool update against
``CandidatePool``, the selection against ``entropy_sampling``, the loop against ``run_seals``.
"""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dcai_lab.course.references import (add_labeled, estimated_cosine, hamming_search, lsh_codes, random_hyperplanes,
                                        seals_k_sweep, seals_loop, seals_select)
from dcai_lab.knn import KnnIndex
from dcai_lab.rare import initial_rare_labels, positives_found
from dcai_lab.seals import CandidatePool, run_seals
from dcai_lab.strategies import entropy_sampling


@pytest.fixture(scope="module")
def blobs():
    """600 unit vectors in 16 dimensions around 6 centres; class 0 (the first centre) is the rare one."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((6, 16)) * 3
    labels = np.repeat(np.arange(6), [20, 116, 116, 116, 116, 116])
    x = centres[labels] + rng.standard_normal((600, 16))
    order = rng.permutation(600)
    x, labels = x[order], labels[order]
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def test_hyperplanes_are_seeded_and_isotropic():
    planes = random_hyperplanes(8, 64, seed=0)
    assert planes.shape == (64, 8)
    assert np.array_equal(planes, random_hyperplanes(8, 64, seed=0))
    assert not np.array_equal(planes, random_hyperplanes(8, 64, seed=1))
    circle = random_hyperplanes(2, 40_000, seed=0)
    sectors = np.histogram(np.arctan2(circle[:, 1], circle[:, 0]), bins=16, range=(-np.pi, np.pi))[0] / 40_000
    assert np.all(np.abs(sectors - 1 / 16) < 0.006)


def test_lsh_codes_are_faiss_codes(blobs):
    x, _ = blobs
    index = KnnIndex(x, kind="lsh", n_bits=128, seed=3)
    assert np.mean(lsh_codes(index.vectors, index.hyperplanes) == index.lsh_bits(np.arange(len(x)))) > 0.9999
    assert lsh_codes([[1.0, -1.0]], [[1.0, 1.0]]).tolist() == [[False]]    # on the hyperplane: bit 0


def test_estimated_cosine_and_hamming_search_agree_with_faiss(blobs):
    x, _ = blobs
    index = KnnIndex(x, kind="lsh", n_bits=256, seed=0)
    codes, queries = index.lsh_bits(np.arange(len(x))), np.array([0, 17, 599])
    sims, found = index.neighbors(queries, k=5)
    assert np.allclose(estimated_cosine(codes[np.repeat(queries, 5)], codes[found.ravel()]), sims.ravel(), atol=1e-5)
    distances, ids = hamming_search(codes, codes[queries], 6)
    assert ids[:, 0].tolist() == queries.tolist() and distances[:, 0].tolist() == [0, 0, 0]
    assert np.array_equal(distances, (codes[ids] != codes[queries][:, None, :]).sum(axis=2))
    assert np.allclose(np.cos(np.pi * distances[:, 1:] / 256), sims, atol=1e-5)


def test_hamming_search_breaks_ties_by_lower_id():
    codes = np.array([[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 1, 1]], dtype=bool)
    distances, ids = hamming_search(codes, np.array([[1, 1, 0]], dtype=bool), 4)
    assert distances.tolist() == [[1, 1, 2, 2]] and ids.tolist() == [[1, 2, 0, 3]]


class MissingLast:
    """An index whose last neighbour of every query is "not found" (-1), recording the ids searched."""

    def __init__(self, index):
        self.index, self.searched = index, []

    def neighbors(self, ids, k):
        self.searched += np.asarray(ids).tolist()
        sims, found = self.index.neighbors(ids, k)
        found[:, -1] = -1
        return sims, found


def test_add_labeled_matches_candidate_pool_and_skips_minus_one(blobs):
    x, _ = blobs
    exact = KnnIndex(x, kind="flat")
    spy, reference = MissingLast(exact), CandidatePool(exact, k=4)    # 5 neighbours minus the -1: the nearest 4
    labeled, candidate = np.zeros(len(x), bool), np.zeros(len(x), bool)
    for new in ([3, 3, 50], [50, 7], np.array([], dtype=np.int64), [599, 7]):
        add_labeled(spy, 5, labeled, candidate, new)
        reference.add_labeled(new)
        assert np.flatnonzero(candidate).tolist() == reference.ids().tolist()
        assert np.flatnonzero(labeled).tolist() == reference.labeled.tolist()
    assert sorted(spy.searched) == [3, 7, 50, 599]


def test_seals_select_is_entropy_sampling_on_the_candidates(blobs):
    x, labels = blobs
    model = LogisticRegression(max_iter=1000).fit(x[::10], labels[::10])
    candidate = np.zeros(len(x), bool)
    candidate[CandidatePool(KnnIndex(x), k=8, labeled=np.arange(0, 600, 10)).ids()] = True
    expected = entropy_sampling(model, x, np.zeros(len(x), bool), 12, np.random.default_rng(0),
                                candidates=np.flatnonzero(candidate))
    assert seals_select(model, x, candidate, 12).tolist() == expected.tolist()
    for few in (0, 3):
        mask = np.zeros(len(x), bool)
        mask[:few] = True
        with pytest.raises(ValueError, match="candidates"):
            seals_select(model, x, mask, 4)


def test_seals_loop_is_run_seals(blobs):
    x, labels = blobs
    y, index = (labels == 0).astype(int), KnnIndex(x, kind="lsh", n_bits=64, seed=0)
    start = initial_rare_labels(y == 1, n_positives=3, n_negatives=20, seed=1)
    model = LogisticRegression(max_iter=1000, random_state=0)
    selected, scored = seals_loop(model, x, y, index, 6, start, 8, 4)
    history = run_seals(x, y, x[:30], y[:30], index=index, k=6, strategy="entropy", initial_labeled=start,
                        batch_size=8, n_rounds=4, model=model, progress=False, classes=[0, 1])
    assert [b.tolist() for b in selected] == [b.tolist() for b in history.selected[:4]]
    assert scored == history.candidate_pool_size[:4]


def test_k_sweep_has_a_row_per_run_that_matches_the_loop(blobs):
    x, labels = blobs
    is_positive, index = labels == 0, KnnIndex(x, kind="flat")
    sweep = seals_k_sweep(index, x, is_positive, ks=[3, 30], seeds=[0, 1], batch_size=10, n_rounds=2)
    assert sweep.columns.tolist() == ["k", "seed", "positives_found", "candidates_scored"]
    assert sweep[["k", "seed"]].values.tolist() == [[3, 0], [3, 1], [30, 0], [30, 1]]
    start = initial_rare_labels(is_positive, n_positives=5, n_negatives=95, seed=1)
    selected, scored = seals_loop(LogisticRegression(max_iter=1000, random_state=0), x, is_positive.astype(int), index,
                                  30, start, 10, 2)
    row = sweep.iloc[3]
    assert row["positives_found"] == positives_found(np.concatenate([start, *selected]), is_positive)
    assert row["candidates_scored"] == np.mean(scored)
    assert (sweep.groupby("k")["candidates_scored"].mean().diff().dropna() > 0).all()   # more k, more candidates
