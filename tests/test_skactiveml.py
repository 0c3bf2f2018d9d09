"""Side by side with scikit-activeml on the same inputs: query by committee and BALD make the same picks.

scikit-activeml is a peer for comparison, not a dependency: ``pip install --no-deps scikit-activeml makefun``.
"""

import numpy as np
import pytest

skactiveml = pytest.importorskip("skactiveml", reason="scikit-activeml is not installed (pip install --no-deps "
                                                      "scikit-activeml makefun): the side-by-side test needs it")

from skactiveml.pool import BatchBALD, GreedyBALD, QueryByCommittee  # noqa: E402

from benchmarks.bench_deep import skactiveml_adapters  # noqa: E402
from dcai_lab.bald import bald_sampling, bald_scores, batch_bald_sampling  # noqa: E402
from dcai_lab.cnn import CNNClassifier  # noqa: E402
from dcai_lab.committee import Committee, consensus_kl_sampling, vote_entropy, vote_entropy_sampling  # noqa: E402
from dcai_lab.data import course_split  # noqa: E402


Fitted, Sampled = skactiveml_adapters()  # an already fitted model as a scikit-activeml classifier


@pytest.fixture(scope="module", params=[0, 1])
def setting(request):
    pool, _ = course_split()
    labeled = np.zeros(len(pool), dtype=bool)
    labeled[np.random.default_rng(request.param).choice(len(pool), 40, replace=False)] = True
    return pool, labeled, np.flatnonzero(~labeled), np.where(labeled, pool.y, np.nan), request.param


def test_query_by_committee_matches(setting):
    pool, labeled, ids, y, seed = setting
    committee = Committee(n_members=5, random_state=seed).fit(pool.X[labeled], pool.y[labeled])
    members = [Fitted(m).fit(None, None) for m in committee.members_]
    votes = committee.predict_proba_samples(pool.X[ids]).argmax(axis=2)
    theirs, utilities = QueryByCommittee(method="vote_entropy", random_state=0).query(
        pool.X, y, ensemble=members, fit_ensemble=False, candidates=ids, batch_size=10, return_utilities=True)
    scores = vote_entropy(votes, 10)
    assert np.allclose(utilities[0][ids], scores, atol=1e-12)
    mine = vote_entropy_sampling(committee, pool.X, labeled, 10, np.random.default_rng(0))
    # vote entropy ties: both break them at random, so compare the scores of what each picked
    assert np.allclose(np.sort(scores[np.searchsorted(ids, mine)]), np.sort(scores[np.searchsorted(ids, theirs)]))
    theirs = QueryByCommittee(method="KL_divergence", random_state=0).query(
        pool.X, y, ensemble=members, fit_ensemble=False, candidates=ids, batch_size=10)
    assert consensus_kl_sampling(committee, pool.X, labeled, 10, np.random.default_rng(0)).tolist() == theirs.tolist()


def test_bald_and_batch_bald_from_the_same_samples_match(setting):
    pool, labeled, ids, y, seed = setting
    cnn = CNNClassifier(random_state=seed).fit(pool.X[labeled], pool.y[labeled])
    sampler = Sampled(cnn).fit(None, None)
    theirs, utilities = GreedyBALD(sample_predictions_method_name="sample_proba", random_state=0).query(
        pool.X, y, ensemble=sampler, fit_ensemble=False, candidates=ids, batch_size=10, return_utilities=True)
    assert np.allclose(utilities[0][ids], bald_scores(cnn.predict_proba_samples(pool.X[ids])), atol=1e-5)  # eps 1e-7
    assert bald_sampling(cnn, pool.X, labeled, 10, np.random.default_rng(0)).tolist() == theirs.tolist()
    theirs = BatchBALD(n_MC_samples=1000, sample_predictions_method_name="sample_proba", random_state=0).query(
        pool.X, y, ensemble=sampler, fit_ensemble=False, candidates=ids, batch_size=4)   # exact joint entropies
    mine = batch_bald_sampling(cnn, pool.X, labeled, 4, np.random.default_rng(0), max_configs=1000)
    assert mine.tolist() == theirs.tolist()
