"""Query by committee: label what a committee of models disagrees on (notebook 05, section 3).

Train ``M`` models on bootstrap samples of the labeled set (query by bagging, Abe &
Mamitsuka 1998), then score each unlabeled ``x`` by how much the members disagree::

    vote entropy   VE(x) = -sum_c (V_c / M) log(V_c / M)           V_c: members whose predicted class is c
    consensus KL   KL(x) = (1/M) sum_m KL(p_m || p_bar),   p_bar = (1/M) sum_m p_m(y|x)

(Dagan & Engelson 1995; McCallum & Nigam 1998). Vote entropy looks only at the members'
votes; consensus KL at their probabilities, and equals ``H[p_bar] - (1/M) sum_m H[p_m]``:
BALD (:mod:`dcai_lab.bald`) with the members as the samples.

:class:`Committee` is itself a classifier, so the loop fits it like any model: its ``fit``
trains the members on bootstrap samples, its ``predict_proba`` is the consensus ``p_bar``,
and :meth:`Committee.predict_proba_samples` gives the members' probabilities, which the
strategies :func:`vote_entropy_sampling` and :func:`consensus_kl_sampling` read.

>>> votes = np.array([[0, 0, 1],        # member 1's votes for three examples
...                   [0, 1, 1],        # member 2
...                   [0, 2, 1]])       # member 3: all agree on x0 and x2, all differ on x1
>>> vote_entropy(votes).round(3)        # log 3 = 1.099
array([0.   , 1.099, 0.   ])
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from dcai_lab._checks import as_array, check_choice, check_int, check_labels, check_matrix, check_model, \
    check_rng, check_seed
from dcai_lab.bald import candidate_samples, bald_scores, check_samples
from dcai_lab.strategies import TIES, top_scoring

__all__ = ["Committee", "vote_entropy", "consensus_kl", "vote_entropy_sampling", "consensus_kl_sampling"]


class Committee(ClassifierMixin, BaseEstimator):
    """``n_members`` copies of ``estimator``, each fitted on a bootstrap sample of the labeled set.

    Notebook 05, section 3.

    Its probabilities are the members' consensus::

        p_bar(y|x) = (1/M) sum_m p_m(y|x),     p_m fitted on bootstrap sample m

    The bootstrap is stratified: each member draws, for every class, as many rows as the
    class has, with replacement, from that class. So every member sees every class, and
    the members' probability columns line up with ``classes_``.

    Parameters
    ----------
    estimator : a scikit-learn classifier with ``predict_proba``; default ``LogisticRegression(max_iter=1000)``.
    n_members : ``M``, the committee's size (at least 2).
    random_state : seeds the bootstrap samples, and member ``m``'s ``random_state`` (if it has one)
        is ``random_state + m``; None = 0 (the loop sets it to its seed).

    Attributes
    ----------
    members_ : the fitted members. classes_ : the class labels, sorted.

    >>> from dcai_lab.data import course_split
    >>> pool, _ = course_split()
    >>> committee = Committee(n_members=3, random_state=0).fit(pool.X[:100], pool.y[:100])
    >>> committee.predict_proba_samples(pool.X[100:102]).shape
    (3, 2, 10)
    """

    def __init__(self, estimator=None, n_members: int = 5, random_state: int | None = None) -> None:
        self.estimator, self.n_members, self.random_state = estimator, n_members, random_state

    def fit(self, X, y) -> "Committee":
        """Fit every member on its own stratified bootstrap sample of ``(X, y)``: for each class ``c``,
        ``n_c`` of its rows drawn with replacement. Checks every argument; returns ``self``."""
        from sklearn.linear_model import LogisticRegression

        X = check_matrix(X, "X", dtype=None)
        y = check_labels(y, "y", n=len(X), min_classes=2)
        n_members = check_int(self.n_members, "n_members", min=2, hint=" (a committee of one cannot disagree)")
        seed = 0 if self.random_state is None else check_seed(self.random_state, "random_state")
        estimator = LogisticRegression(max_iter=1000) if self.estimator is None else check_model(self.estimator,
                                                                                                   "estimator")
        self.classes_ = np.unique(y)
        rng = np.random.default_rng(seed)
        self.members_ = []
        for m in range(n_members):
            rows = _stratified_bootstrap(y, rng)
            member = clone(estimator)
            if "random_state" in member.get_params():
                member.set_params(random_state=seed + m)
            self.members_.append(member.fit(X[rows], y[rows]))
        return self

    def predict_proba_samples(self, X) -> np.ndarray:
        """Each member's class probabilities ``p_m(y|x)``, shape (M, n, C), columns in the order of ``classes_``.

        The "samples" of :mod:`dcai_lab.bald`: BALD of the members is the consensus KL.
        """
        if not hasattr(self, "members_"):
            raise ValueError("this Committee is not fitted yet; call fit(X, y) first")
        return np.stack([member.predict_proba(X) for member in self.members_])

    def predict_proba(self, X) -> np.ndarray:
        """The consensus ``p_bar = (1/M) sum_m p_m(y|x)``, shape (n, C)."""
        return self.predict_proba_samples(X).mean(axis=0)

    def predict(self, X) -> np.ndarray:
        """The consensus's likeliest class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _stratified_bootstrap(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row numbers: for every class, ``n_c`` rows drawn with replacement from its ``n_c`` rows.

    Expects a checked ``y`` (:meth:`Committee.fit` checks it)."""
    return np.concatenate([rng.choice(rows, size=len(rows), replace=True)
                           for rows in (np.flatnonzero(y == c) for c in np.unique(y))])


# --------------------------------------------------------------------------- the two disagreement scores


def vote_entropy(votes, n_classes: int | None = None) -> np.ndarray:
    """Vote entropy of each example from the members' votes (notebook 05, section 3, exercise 2)::

        VE(x) = -sum_c (V_c / M) log(V_c / M)       V_c = members voting for class c; 0 log 0 = 0

    In nats: 0 when all agree, at most ``log min(M, C)``.

    Parameters
    ----------
    votes : int array (M, n): ``votes[m, i]`` is member ``m``'s class index (``0 .. C-1``) for example ``i``,
        e.g. ``samples.argmax(axis=2)``.
    n_classes : ``C``; default ``votes.max() + 1`` (it changes no score, only the check).

    Returns
    -------
    numpy.ndarray (n,), float64.

    >>> vote_entropy([[0, 1], [0, 0]]).round(3)      # x1: one vote each way
    array([0.   , 0.693])
    """
    votes = as_array(votes, "votes")
    if votes.ndim != 2 or votes.size == 0 or not np.issubdtype(votes.dtype, np.integer) or votes.min() < 0:
        raise ValueError(f"votes must be a 2-D array (n_members, n_examples) of class indices 0, 1, ...; got "
                         f"shape {votes.shape} and dtype {votes.dtype}; votes = samples.argmax(axis=2)")
    M, n = votes.shape
    C = int(votes.max()) + 1 if n_classes is None else check_int(n_classes, "n_classes", min=int(votes.max()) + 1)
    counts = np.bincount((np.arange(n) * C + votes).ravel(), minlength=n * C).reshape(n, C)
    return (counts / M * np.log(M / np.maximum(counts, 1))).sum(axis=1)     # (V/M) log(M/V), 0 where V = 0


def consensus_kl(samples) -> np.ndarray:
    """Mean KL divergence of each member from the consensus (notebook 05, section 3)::

        KL(x) = (1/M) sum_m KL(p_m || p_bar) = H[p_bar] - (1/M) sum_m H[p_m],    p_bar = (1/M) sum_m p_m

    computed as the right-hand side: :func:`dcai_lab.bald.bald_scores` of the members.

    Parameters
    ----------
    samples : array-like (M, n, C), the members' probabilities (:meth:`Committee.predict_proba_samples`).

    Returns
    -------
    numpy.ndarray (n,), in nats, >= 0.

    >>> consensus_kl([[[1.0, 0.0]], [[0.5, 0.5]]]).round(3)
    array([0.216])
    """
    return bald_scores(check_samples(samples))


# --------------------------------------------------------------------------- strategies


def vote_entropy_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                          embeddings=None, pool_mean=None, ties: str = "random") -> np.ndarray:
    """The candidates whose members' votes have the largest entropy (notebook 05, section 3)::

        pick the batch_size candidates with the largest VE(x) = -sum_c (V_c / M) log(V_c / M)

    The strategy signature of :mod:`dcai_lab.strategies`. ``model`` gives member probabilities
    (:meth:`Committee.predict_proba_samples`, or MC dropout);
    a vote is a member's likeliest class. Vote entropy takes few distinct values, so ties are
    common: they are broken at random with ``rng`` (``ties="id"``: lowest pool id first).
    The loop counts ``M x candidates`` rows scored: every member scores every candidate.

    Returns
    -------
    numpy.ndarray (batch_size,): distinct unlabeled pool ids, most wanted first.

    >>> class Members:                       # 3 members; pool ids 0 and 2 split 2-1, id 1 is unanimous
    ...     def predict_proba_samples(self, X):
    ...         return np.eye(2)[[[0, 0, 1], [1, 0, 1], [0, 0, 0]]]
    >>> sorted(vote_entropy_sampling(Members(), np.zeros((3, 1)), np.zeros(3, bool), 2,
    ...                              np.random.default_rng(0)).tolist())
    [0, 2]
    """
    check_rng(rng)
    ids, samples = candidate_samples(model, X_pool, labeled, batch_size, candidates)
    scores = vote_entropy(samples.argmax(axis=2), samples.shape[2])
    return top_scoring(scores, ids, batch_size, rng if check_choice(ties, "ties", TIES) == "random" else None)


def consensus_kl_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                          embeddings=None, pool_mean=None, ties: str = "id") -> np.ndarray:
    """The candidates whose members' probabilities diverge most from the consensus (notebook 05, section 3)::

        pick the batch_size candidates with the largest (1/M) sum_m KL(p_m || p_bar)

    The strategy signature of :mod:`dcai_lab.strategies`; ties go to the lowest pool id
    (``ties="random"``: broken with ``rng``).

    Returns
    -------
    numpy.ndarray (batch_size,): distinct unlabeled pool ids, most wanted first.

    >>> class Members:                       # 2 members: they disagree on pool id 1 only
    ...     def predict_proba_samples(self, X):
    ...         return np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]]])
    >>> consensus_kl_sampling(Members(), np.zeros((2, 1)), np.zeros(2, bool), 1, np.random.default_rng(0)).tolist()
    [1]
    """
    check_rng(rng)
    ids, samples = candidate_samples(model, X_pool, labeled, batch_size, candidates)
    return top_scoring(consensus_kl(samples), ids, batch_size, rng if check_choice(ties, "ties", TIES) == "random"
                       else None)
