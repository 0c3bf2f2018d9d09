"""BALD and BatchBALD: label what the model's possible versions disagree on (notebook 05, section 2).

A model that can give ``T`` samples ``p_t(y | x)`` of its beliefs (MC dropout,
:meth:`dcai_lab.cnn.CNNClassifier.predict_proba_samples`; or a committee,
:class:`dcai_lab.committee.Committee`) splits its uncertainty in two (Houlsby et al. 2011;
Gal, Islam & Ghahramani 2017)::

    BALD(x) = H[ (1/T) sum_t p_t(y|x) ]  -  (1/T) sum_t H[ p_t(y|x) ]
              total uncertainty             expected uncertainty of one sample

the mutual information between the label and the model's weights. It is large when each
sample is confident but they disagree (labelling ``x`` would tell which is right), and
small when they agree, even if every one of them is unsure (a smudge that no label
would explain). ``H`` is the entropy in nats, ``0 log 0 = 0``.

A batch of the top BALD scores often holds near-duplicates: the second copy of a digit
teaches nothing the first did not. **BatchBALD** (Kirsch, van Amersfoort & Gal 2019) scores
a batch by the mutual information of its labels *jointly*, and builds it greedily::

    a(x_1..x_b) = H[y_1, ..., y_b]  -  sum_i (1/T) sum_t H[p_t(y_i|x_i)]
    p(y_1..y_b) = (1/T) sum_t prod_i p_t(y_i|x_i)        (sample t is one network)

A near-duplicate's label is almost determined by its twin's, so it adds almost no joint
entropy and is not picked. The joint entropy is summed exactly over the ``C^k`` label
configurations of the ``k`` points picked so far while there are at most ``max_configs``;
beyond, ``max_configs`` configurations are sampled from ``p`` (as in the paper), rescaled so
that long batches do not underflow (:func:`joint_entropies`). Each step
weighs ``n x M x C`` joint probabilities (``M <= max_configs`` configurations), so a batch
costs ``batch_size`` times that: far more than BALD; a smaller ``max_configs`` is faster and
noisier.

>>> samples = np.array([[[0.9, 0.1], [0.5, 0.5]],      # sample 1: confident on x0, unsure on x1
...                     [[0.1, 0.9], [0.5, 0.5]]])     # sample 2: confident the other way on x0
>>> bald_scores(samples).round(3)                       # x0: the samples disagree; x1: they agree
array([0.368, 0.   ])
"""

from __future__ import annotations

import numpy as np

from dcai_lab._checks import as_array, check_choice, check_ids, check_int, check_mask, check_matrix, check_probs, \
    check_rng
from dcai_lab.strategies import TIES, candidate_ids, top_scoring

__all__ = ["bald_scores", "batch_bald", "joint_entropies", "bald_sampling", "batch_bald_sampling", "check_samples",
           "candidate_samples",
           "probability_samples"]

CHUNK_ELEMENTS = 2**22  # joint probabilities held at a time by batch_bald


def check_samples(samples, name: str = "samples") -> np.ndarray:
    """``T`` probability samples as a float64 array (T, n, C), checked (notebook 05, section 2).

    Every ``samples[t, i]`` must be a row of class probabilities: in [0, 1], summing to 1
    (:func:`dcai_lab._checks.check_probs`).

    Parameters
    ----------
    samples : array-like (T, n, C), e.g. ``model.predict_proba_samples(X)``.
    name : the argument's name in the error message.

    Returns
    -------
    numpy.ndarray (T, n, C), float64.

    >>> check_samples([[[0.5, 0.5]], [[1.0, 0.0]]]).shape
    (2, 1, 2)
    """
    arr = as_array(samples, name)
    if arr.ndim != 3 or arr.shape[2] == 0:
        raise ValueError(f"{name} must be a 3-D array (n_samples T, n_examples, n_classes), got shape {arr.shape}; "
                         "stack the T probability arrays with np.stack")
    return check_probs(arr.reshape(-1, arr.shape[2]), f"{name} (every sample)").reshape(arr.shape)


def probability_samples(model, X, name: str = "model") -> np.ndarray:
    """``model.predict_proba_samples(X)``, checked: the ``T`` samples ``p_t(y | x)`` (notebook 05, section 2).

    Parameters
    ----------
    model : a fitted model with ``predict_proba_samples`` (:class:`dcai_lab.cnn.CNNClassifier`,
        :class:`dcai_lab.committee.Committee`).
    X : the rows to score, as ``model`` takes them.
    name : the model's name in the error messages.

    Returns
    -------
    numpy.ndarray (T, n, C), float64: ``[p_t(y | x_i) for t in 1..T]``.

    >>> class TwoSamples:
    ...     def predict_proba_samples(self, X):
    ...         return np.array([[[1.0, 0.0]] * len(X), [[0.0, 1.0]] * len(X)])
    >>> probability_samples(TwoSamples(), np.zeros((3, 1))).shape
    (2, 3, 2)
    """
    if isinstance(model, type):
        raise ValueError(f"{name} must be a fitted model instance such as {model.__name__}(...).fit(X, y), "
                         f"not the class {model.__name__}")
    if not hasattr(model, "predict_proba_samples"):
        raise ValueError(f"{name} ({type(model).__name__}) has no predict_proba_samples; BALD, BatchBALD and the "
                         "committee scores need several probability samples: use dcai_lab.cnn.CNNClassifier "
                         "(MC dropout) or dcai_lab.committee.Committee")
    samples = check_samples(model.predict_proba_samples(X), f"{name}.predict_proba_samples(X)")
    if samples.shape[1] != len(X):
        raise ValueError(f"{name}.predict_proba_samples returned {samples.shape[1]} rows for {len(X)} examples")
    return samples


def _entropy(probs: np.ndarray, axis: int = -1) -> np.ndarray:
    """``-sum p log p`` along ``axis`` with ``0 log 0 = 0`` (``scipy.special.entr``); expects checked probabilities."""
    from scipy.special import entr

    return entr(probs).sum(axis=axis)


def bald_scores(samples) -> np.ndarray:
    """BALD of each example from ``T`` probability samples (notebook 05, section 2)::

        BALD(x) = H[(1/T) sum_t p_t(y|x)] - (1/T) sum_t H[p_t(y|x)]    >= 0, in nats

    Parameters
    ----------
    samples : array-like (T, n, C) of probability rows (:func:`check_samples`).

    Returns
    -------
    numpy.ndarray (n,): the mutual information between each label and the model's weights
    (round-off below 0 is clipped to 0).

    >>> bald_scores([[[1.0, 0.0]], [[0.0, 1.0]]]).round(3)     # two certain samples that disagree: log 2
    array([0.693])
    """
    samples = check_samples(samples)
    return np.maximum(_entropy(samples.mean(axis=0)) - _entropy(samples).mean(axis=0), 0.0)


def joint_entropies(samples, picked, max_configs: int = 1_000, rng: np.random.Generator | None = None) -> np.ndarray:
    """``H[y_picked, y_x]`` for every example ``x``: the joint label entropy of BatchBALD (notebook 05, section 4)::

        H[y_1..y_k, y_x] = -sum_{y_1..y_k, y} p log p,    p(y_1..y_k, y) = (1/T) sum_t p_t(y|x) prod_i p_t(y_i|x_i)

    Summed exactly over the ``C^k`` label configurations of the picked points while there are
    at most ``max_configs``; beyond, estimated from ``max_configs`` configurations drawn from
    ``p`` (each weighted by ``1 / p``, as in Kirsch et al. 2019).

    Parameters
    ----------
    samples : array-like (T, n, C) of probability rows.
    picked : the positions (rows of ``samples[t]``) already in the batch, distinct; may be empty.
    max_configs : the most configurations summed exactly, and the number drawn beyond.
    rng : draws the configurations (default: seed 0).

    Returns
    -------
    numpy.ndarray (n,), in nats; with ``picked`` empty, each example's total uncertainty ``H[mean_t p_t]``.

    >>> twins = [[[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]]]     # x1 copies x0 in both samples
    >>> joint_entropies(twins, [0]).round(3)                             # knowing y0 decides y1: log 2 only
    array([0.693, 0.693])
    """
    samples = check_samples(samples)
    picked = check_ids(picked, samples.shape[1], "picked", unique=True).tolist()
    max_configs = check_int(max_configs, "max_configs", min=1)
    rng = np.random.default_rng(0) if rng is None else check_rng(rng)
    probs, state = samples.transpose(1, 0, 2), _empty_batch(samples.shape[0])
    for k in range(1, len(picked) + 1):
        state = _add_point(state, probs, picked[:k], max_configs, rng)
    return _joint_entropies(state, samples)


def batch_bald(samples, batch_size: int, rng: np.random.Generator | None = None,
               max_configs: int = 1_000) -> np.ndarray:
    """Greedy BatchBALD: the positions (rows of ``samples[t]``) of a batch, in the order picked.

    Notebook 05, section 4.

    Step ``k + 1`` adds the example that maximises (the picked points' own terms are the same for every candidate)::

        H[y_1..y_k, y_x] - (1/T) sum_t H[p_t(y|x)]          (:func:`joint_entropies`)

    The first pick is the top BALD score. Ties go to the lowest position. The joint
    probabilities are rescaled as the batch grows, so long batches do not underflow to
    ``0 / 0``; a non-finite gain (impossible for checked samples) raises instead of picking at random.

    Parameters
    ----------
    samples : array-like (T, n, C) of probability rows; sample ``t`` must be one network for every row.
    batch_size : how many distinct positions, at most ``n``.
    rng : draws the configurations once there are more than ``max_configs`` (default: seed 0).
    max_configs : see :func:`joint_entropies`; smaller is faster and noisier.

    Returns
    -------
    numpy.ndarray (batch_size,) of distinct int64 positions.

    >>> twins = np.array([[[1, 0], [1, 0], [0.9, 0.1]],          # 4 samples of 3 examples:
    ...                   [[1, 0], [1, 0], [0.1, 0.9]],          # x0 and x1 are twins (BALD log 2 each),
    ...                   [[0, 1], [0, 1], [0.9, 0.1]],          # x2 disagrees less (BALD 0.37)
    ...                   [[0, 1], [0, 1], [0.1, 0.9]]])         # but independently of x0
    >>> bald_scores(twins).round(2).tolist(), batch_bald(twins, 2).tolist()   # top-2 BALD takes both twins
    ([0.69, 0.69, 0.37], [0, 2])
    """
    samples = check_samples(samples)
    T, n, C = samples.shape
    batch_size = check_int(batch_size, "batch_size", min=1, max=n)
    max_configs = check_int(max_configs, "max_configs", min=1)
    rng = np.random.default_rng(0) if rng is None else check_rng(rng)
    probs = samples.transpose(1, 0, 2)                 # (n, T, C): row i holds x_i's T samples
    own = _entropy(samples).mean(axis=0)               # E_t H[p_t(y|x_i)]
    state = _empty_batch(T)
    picked: list[int] = []
    while True:
        gain = _joint_entropies(state, samples) - own
        gain[picked] = -np.inf
        if np.isnan(gain).any() or np.isposinf(gain).any():   # the guard: never argmax over NaN
            raise FloatingPointError(f"BatchBALD's gains are not finite after {len(picked)} picks; "
                                     "report this with the samples that caused it")
        picked.append(int(np.argmax(gain)))
        if len(picked) == batch_size:
            return np.array(picked, dtype=np.int64)
        state = _add_point(state, probs, picked, max_configs, rng)


def _empty_batch(T: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The state of an empty batch: one configuration of weight 1, ``prod_i`` over no points = 1, offset 0."""
    return np.ones((1, T)), np.ones(1), 0.0


def _joint_entropies(state, samples: np.ndarray) -> np.ndarray:
    """``H[y_1..y_k, y_x]`` for every ``x``: ``offset - sum_m w_m sum_y q log q``, ``q = mean_t c[m, t] p_t(y|x)``.

    ``state = (configs (M, T), weights (M,), offset)`` comes from :func:`_add_point`; ``samples``
    (T, n, C) are checked. One matrix product per chunk of examples, at most ``CHUNK_ELEMENTS``
    joint probabilities at once.
    """
    configs, weights, offset = state
    M, T = configs.shape
    _, n, C = samples.shape
    out = np.empty(n)
    step = max(1, CHUNK_ELEMENTS // (M * C))
    for start in range(0, n, step):
        chunk = samples[:, start:start + step]
        joint = (configs @ chunk.reshape(T, -1) / T).reshape(M, -1, C)       # (M, chunk, C)
        out[start:start + step] = weights @ _entropy(joint) + offset
    return out


def _add_point(state, probs, picked, max_configs, rng) -> tuple[np.ndarray, np.ndarray, float]:
    """The label configurations of the picked points, extended by the last one picked; expects checked input.

    Exact: every configuration times every label of the new point (``M * C`` of them), weight 1,
    offset 0. When that exceeds ``max_configs``: ``max_configs`` configurations drawn from the
    joint (a sample ``t`` at random, then each picked point's label from ``p_t``), each weighted
    by ``1 / (M p(config))`` so that the sum estimates the joint entropy. A drawn configuration's
    row ``c[m, :]`` is divided by its largest entry ``s_m`` after every point (no underflow however
    long the batch); since ``sum_y q / p = 1`` for each configuration, the entropy estimate
    is the rescaled one minus ``mean_m log s_m``: the ``offset``.
    """
    configs = state[0]
    new = probs[picked[-1]]                            # (T, C)
    T, C = new.shape
    if len(configs) * C <= max_configs:               # still exact (a drawn state has max_configs rows)
        return (configs[:, None, :] * new.T[None, :, :]).reshape(-1, T), np.ones(len(configs) * C), 0.0
    t = rng.integers(T, size=max_configs)
    sampled, log_scale = np.ones((max_configs, T)), np.zeros(max_configs)
    for i in picked:
        cumulative = np.cumsum(probs[i][t], axis=1)    # (M, C): the sampled network's labels for x_i
        u = rng.random((max_configs, 1)) * cumulative[:, -1:]   # below the row's total: a label it gives p > 0
        labels = np.minimum((u >= cumulative).sum(axis=1), C - 1)
        sampled *= probs[i][:, labels].T               # p_t(label_m | x_i) for every t
        scale = sampled.max(axis=1)                    # >= p_{t_m}(label_m | x_i) > 0
        sampled /= scale[:, None]
        log_scale += np.log(scale)
    return sampled, 1.0 / (max_configs * sampled.mean(axis=1)), -float(log_scale.mean())


# --------------------------------------------------------------------------- strategies


def candidate_samples(model, X_pool, labeled, batch_size: int, candidates=None) -> tuple[np.ndarray, np.ndarray]:
    """The candidate ids and the model's probability samples for them, checked (notebook 05, sections 2-3).

    What every sample-based strategy does first (BALD, BatchBALD, the committee scores): the ids
    of :func:`dcai_lab.strategies.candidate_ids`, then :func:`probability_samples` of their rows.
    Only the candidates' rows are converted and checked, so a round costs O(candidates).

    Returns
    -------
    ids : numpy.ndarray (n,), the sorted candidate pool ids.
    samples : numpy.ndarray (T, n, C), ``samples[t, j] = p_t(y | X_pool[ids[j]])``.

    >>> class Flat:
    ...     def predict_proba_samples(self, X):
    ...         return np.full((2, len(X), 2), 0.5)
    >>> ids, samples = candidate_samples(Flat(), np.zeros((4, 1)), np.array([True, False, False, True]), 1)
    >>> ids.tolist(), samples.shape
    ([1, 2], (2, 2, 2))
    """
    X_pool = as_array(X_pool, "X_pool")
    if X_pool.ndim != 2:
        raise ValueError(f"X_pool must be a 2-D array (n_pool, n_features), got shape {X_pool.shape}")
    ids = candidate_ids(check_mask(labeled, len(X_pool), "labeled"), batch_size, candidates)
    return ids, probability_samples(model, check_matrix(X_pool[ids], "X_pool[candidates]"))


def bald_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                  embeddings=None, pool_mean=None, ties: str = "id") -> np.ndarray:
    """The candidates with the largest BALD scores (:func:`bald_scores`) (notebook 05, sections 2 and 5)::

        pick the batch_size candidates with the largest H[mean_t p_t(y|x)] - mean_t H[p_t(y|x)]

    The strategy signature of :mod:`dcai_lab.strategies`; ``model`` needs ``predict_proba_samples``.
    ``ties="random"`` breaks ties with ``rng``, else the lowest pool id first. The loop counts
    ``T x candidates`` rows scored (``History.n_scored``): each sample is one pass.

    Returns
    -------
    numpy.ndarray (batch_size,): distinct unlabeled pool ids, most wanted first.

    >>> class Split:                     # pool id 1: the two samples disagree; ids 0 and 2: they agree
    ...     def predict_proba_samples(self, X):
    ...         return np.array([[[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]], [[0.5, 0.5], [0.0, 1.0], [0.9, 0.1]]])
    >>> bald_sampling(Split(), np.zeros((3, 1)), np.zeros(3, bool), 1, np.random.default_rng(0)).tolist()
    [1]
    """
    check_rng(rng)
    ids, samples = candidate_samples(model, X_pool, labeled, batch_size, candidates)
    return top_scoring(bald_scores(samples), ids, batch_size, rng if check_choice(ties, "ties", TIES) == "random"
                       else None)


def batch_bald_sampling(model, X_pool, labeled, batch_size: int, rng: np.random.Generator, *, candidates=None,
                        embeddings=None, pool_mean=None, max_configs: int = 1_000) -> np.ndarray:
    """A batch by greedy BatchBALD (:func:`batch_bald`) over the candidates (notebook 05, section 4)::

        x_{k+1} = argmax_x  H[y_1..y_k, y_x] - mean_t H[p_t(y|x)]

    The strategy signature of :mod:`dcai_lab.strategies`; ``rng`` draws the configurations.

    Returns
    -------
    numpy.ndarray (batch_size,): distinct unlabeled pool ids, in the order picked.

    >>> class Twins:                     # pool ids 0 and 1 are twins; id 2 disagrees independently
    ...     def predict_proba_samples(self, X):
    ...         return np.array([[[1, 0], [1, 0], [.9, .1]], [[1, 0], [1, 0], [.1, .9]],
    ...                          [[0, 1], [0, 1], [.9, .1]], [[0, 1], [0, 1], [.1, .9]]], dtype=float)
    >>> batch_bald_sampling(Twins(), np.zeros((3, 1)), np.zeros(3, bool), 2, np.random.default_rng(0)).tolist()
    [0, 2]
    """
    check_rng(rng)
    ids, samples = candidate_samples(model, X_pool, labeled, batch_size, candidates)
    return ids[batch_bald(samples, batch_size, rng, max_configs)]
