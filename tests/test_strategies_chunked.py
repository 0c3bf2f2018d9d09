"""Tests of the uncertainty strategies' chunked scoring: the same picks as scoring every candidate at once."""

from __future__ import annotations

import tracemalloc
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

import dcai_lab.strategies as strategies
from dcai_lab.strategies import candidate_ids, entropy_sampling, least_confidence_sampling, margin_sampling, \
    top_scoring
from dcai_lab.uncertainty import entropy, least_confidence, margin

SCORES = {entropy_sampling: entropy, margin_sampling: margin, least_confidence_sampling: least_confidence}


class RoundedModel:
    """A model whose probabilities come in steps of 1/8: many exact ties, as a quantised model gives."""

    classes_ = np.array([0, 1, 2])

    def predict_proba(self, X):
        p = np.floor(np.abs(np.sin(X[:, :3] * 7.0)) * 8) + 1
        return p / p.sum(axis=1, keepdims=True)


def all_at_once(select, model, X, labeled, batch_size, rng, candidates=None, ties="id"):
    """The former strategy: score every candidate in one call, then top_scoring."""
    ids = candidate_ids(labeled, batch_size, candidates)
    scores = SCORES[select](model.predict_proba(np.asarray(X[ids], dtype=np.float64)))
    return top_scoring(scores, ids, batch_size, rng if ties == "random" else None)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(20, 400), chunk=st.integers(1, 50), batch=st.integers(1, 15), seed=st.integers(0, 1_000),
       ties=st.sampled_from(["id", "random"]), select=st.sampled_from(list(SCORES)),
       use_candidates=st.booleans())
def test_chunks_pick_what_one_call_picks_ties_included(n, chunk, batch, seed, ties, select, use_candidates):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 4, (n, 3)).astype(np.float64)  # few distinct rows: ties everywhere
    labeled = rng.random(n) < 0.3
    candidates = rng.permutation(np.flatnonzero(~labeled))[: max(batch, n // 2)] if use_candidates else None
    if (~labeled).sum() < batch:
        return
    want = all_at_once(select, RoundedModel(), X, labeled, batch, np.random.default_rng(seed), candidates, ties)
    with mock.patch.object(strategies, "SCORE_CHUNK_ROWS", chunk):
        got = select(RoundedModel(), X, labeled, batch, np.random.default_rng(seed), candidates=candidates, ties=ties)
    np.testing.assert_array_equal(got, want)


def test_a_real_model_over_many_chunks_picks_the_same_batch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50_000, 8)).astype(np.float32)
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    labeled = np.zeros(len(X), dtype=bool)
    labeled[:200] = True
    model = LogisticRegression().fit(X[:200], y[:200])
    for select in SCORES:
        want = all_at_once(select, model, X, labeled, 30, np.random.default_rng(0))
        np.testing.assert_array_equal(select(model, X, labeled, 30, np.random.default_rng(0)), want)


def test_scoring_a_large_pool_never_copies_all_its_rows():
    X = np.random.default_rng(1).standard_normal((200_000, 32)).astype(np.float32)  # 25.6 MB; as float64, 51 MB
    labeled = np.zeros(len(X), dtype=bool)
    labeled[:100] = True
    model = LogisticRegression().fit(X[:100], (X[:100, 0] > 0).astype(int))
    tracemalloc.start()
    entropy_sampling(model, X, labeled, 10, np.random.default_rng(0))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < X.nbytes / 2  # the candidates' ids (1.6 MB) and one chunk (2 MB as float64), not X_pool[ids]


def test_candidate_ids_of_sorted_and_unsorted_candidates_agree():
    labeled = np.zeros(10, dtype=bool)
    labeled[[2, 7]] = True
    np.testing.assert_array_equal(candidate_ids(labeled, 1, [0, 1, 3, 9]), [0, 1, 3, 9])
    np.testing.assert_array_equal(candidate_ids(labeled, 1, [9, 3, 1, 3, 0]), [0, 1, 3, 9])
    with pytest.raises(ValueError, match=r"candidates \[2\] are already labeled"):
        candidate_ids(labeled, 1, [0, 2, 5])


def test_a_nan_row_is_named_by_its_pool_id():
    X = np.random.default_rng(0).standard_normal((30, 3))
    X[17, 1] = np.nan
    labeled = np.zeros(30, dtype=bool)
    labeled[[0, 1]] = True
    model = LogisticRegression().fit(X[:2], [0, 1])
    with mock.patch.object(strategies, "SCORE_CHUNK_ROWS", 4):
        with pytest.raises(ValueError, match=r"X_pool must be finite \(pool id 17 holds NaN or infinity\)"):
            entropy_sampling(model, X, labeled, 3, np.random.default_rng(0))
