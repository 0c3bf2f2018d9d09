"""A small CNN for the 8 x 8 digits with the scikit-learn interface (notebook 05, section 1).

:class:`CNNClassifier` is what deep active learning needs from a network, in the shape the
loop (:func:`dcai_lab.active.run_active_learning`) already knows: ``fit``, ``predict``,
``predict_proba``, ``classes_``, and for the Bayesian scores (:mod:`dcai_lab.bald`) **MC
dropout** (Gal & Ghahramani 2016): keep dropout on at prediction time and run ``T`` passes,
each with its own dropout mask, so that ``p_t(y | x)`` for ``t = 1 .. T`` are samples of
what the network might believe::

    predict_proba_samples(X)   (T, n, C): softmax(head(trunk(x); mask_t))    t = 1 .. T

The network: a 3x3 convolution (ReLU), 2x2 max-pooling, a second 3x3 convolution (ReLU),
dropout, a dense layer of ``hidden`` units (the last layer's input,
:meth:`~CNNClassifier.penultimate`, which BADGE reads), dropout, a linear layer to the
classes. Dropout sits only in the dense head, so the convolutions run once and the ``T``
samples re-run only the head. Each sample ``t`` uses one mask for every row ("consistent" MC
dropout, as BatchBALD needs): sample ``t`` is one sub-network, and a row's samples do not
depend on the other rows scored with it (up to float32 round-off). The loop counts
``T x rows`` scored (``History.n_scored``): each sample is one pass.

``fit`` trains with Adam on minibatches until an epoch's mean training loss falls below
``tol``, or for ``max_epochs`` epochs. With ``warm_start=True`` a refit starts from the
weights of the previous fit (when the classes and the architecture are the same), so after a
round adds a few labels it reaches ``tol`` in a few epochs; given such a model,
:func:`~dcai_lab.active.run_active_learning` refits one copy round after round instead of a
fresh clone. Notebook 05, section 6, measures the seconds it saves and what it costs in
accuracy. Everything is seeded by ``random_state``; the global torch random state and thread
count are left as they were.

>>> from dcai_lab.data import course_split
>>> pool, test = course_split()
>>> model = CNNClassifier(random_state=0).fit(pool.X[:300], pool.y[:300])
>>> model.predict_proba(test.X[:2]).shape, model.predict_proba_samples(test.X[:2]).shape
((2, 10), (20, 2, 10))
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from dcai_lab._checks import check_bool, check_float, check_int, check_labels, check_matrix, check_seed

__all__ = ["CNNClassifier"]

CHUNK_ROWS = 4096  # rows per forward pass when predicting


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """A small convolutional network for square grey images given as flat rows (8 x 8 digits: 64 columns).

    Parameters
    ----------
    width : channels of the first convolution (the second has ``2 * width``).
    hidden : units of the dense layer (the penultimate layer, BADGE's embedding).
    dropout : dropout probability in the dense head, in training and in MC dropout.
    lr, weight_decay : Adam's learning rate and L2 penalty.
    batch_size : rows per gradient step.
    max_epochs : at most this many passes over the labeled data per ``fit``.
    tol : stop once an epoch's mean training loss (cross-entropy, nats) is below ``tol``.
    mc_samples : ``T``, the dropout samples of :meth:`predict_proba_samples`.
    warm_start : refit from the previous fit's weights (same classes and architecture; else from
        scratch), scikit-learn's convention;
        :func:`~dcai_lab.active.run_active_learning` then refits one copy round after round.
    random_state : seeds the initial weights, the minibatches, the dropout masks; None = 0.
    n_threads : torch threads while fitting and predicting (1: tiny networks gain nothing from more,
        and a fixed count keeps results identical from run to run).

    Attributes
    ----------
    classes_ : the class labels, sorted. n_epochs_ : epochs of the last fit. loss_ : its final loss.
    """

    def __init__(self, width: int = 8, hidden: int = 64, dropout: float = 0.25, lr: float = 1e-2,
                 weight_decay: float = 1e-4, batch_size: int = 128, max_epochs: int = 60, tol: float = 0.1,
                 mc_samples: int = 20, warm_start: bool = False, random_state: int | None = None,
                 n_threads: int = 1) -> None:
        self.width, self.hidden, self.dropout, self.lr = width, hidden, dropout, lr
        self.weight_decay, self.batch_size, self.max_epochs, self.tol = weight_decay, batch_size, max_epochs, tol
        self.mc_samples, self.warm_start, self.random_state, self.n_threads = (mc_samples, warm_start,
                                                                                random_state, n_threads)

    # ----------------------------------------------------------------------- fit

    def fit(self, X, y) -> "CNNClassifier":
        """Train on rows ``X`` (n, side * side), pixel values in [0, 1], and labels ``y`` (notebook 05, section 1).

        Minimises the mean cross-entropy ``-(1/n) sum_i log p(y_i | x_i)`` (plus the L2 penalty) with
        Adam until an epoch's mean loss is below ``tol``; checks every argument; returns ``self``.
        """
        import torch

        X, side = self._check_X(X, fitting=True)
        y = check_labels(y, "y", n=len(X), min_classes=2)
        self._check_params()
        classes, targets = np.unique(y, return_inverse=True)
        config = (side, self.width, self.hidden, self.dropout)
        warm = self.warm_start and getattr(self, "config_", None) == config and np.array_equal(classes, self.classes_)
        with _torch_state(self.random_state or 0, self.n_threads):
            if not warm:  # a fresh network (also when warm starting meets new classes or a new architecture)
                self.net_ = _build_net(side, self.width, self.hidden, len(classes), self.dropout)
            self.classes_, self.side_, self.config_ = classes, side, config
            self.n_epochs_, self.loss_ = _train(self.net_, _as_images(X, side), torch.from_numpy(targets),
                                                self.lr, self.weight_decay, self.batch_size, self.max_epochs,
                                                self.tol)
        return self

    # ----------------------------------------------------------------------- predict

    def predict_proba(self, X) -> np.ndarray:
        """``p(y|x) = softmax(out(relu(dense(trunk(x)))))`` with dropout off, shape (n, C) (notebook 05, section 1)."""
        import torch

        X, _ = self._check_X(X)
        return self._run(X, lambda features: torch.softmax(_head(self.net_, features).double(), dim=1))

    def predict(self, X) -> np.ndarray:
        """The likeliest class of each row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_proba_samples(self, X, n_samples: int | None = None) -> np.ndarray:
        """MC dropout: ``T = n_samples`` (default ``mc_samples``) probability samples, shape (T, n, C).

        Notebook 05, section 2::

            p_t(y|x) = softmax(out(m2_t * relu(dense(m1_t * trunk(x))))),   m_t: Bernoulli(1 - dropout) / (1 - dropout)

        Sample ``t`` keeps each unit of the head with probability ``1 - dropout`` (scaled by
        ``1 / (1 - dropout)``), with one mask for all rows. The masks come from
        ``random_state``: the same call gives the same samples.
        """
        import torch

        X, _ = self._check_X(X)
        T = self.mc_samples if n_samples is None else check_int(n_samples, "n_samples", min=1)
        with _torch_state(self.random_state or 0, self.n_threads):
            masks = _masks(T, self.net_["dense"].in_features, self.hidden, self.dropout)
        return self._run(X, lambda features: torch.softmax(_head(self.net_, features, masks).double(), dim=2), axis=1)

    def penultimate(self, X) -> np.ndarray:
        """``h(x) = relu(dense(trunk(x)))``, the last layer's input (dropout off), shape (n, hidden).

        BADGE's ``h(x)`` (notebook 05, section 4; :func:`dcai_lab.badge.gradient_embeddings`).
        """
        X, _ = self._check_X(X)
        return self._run(X, lambda features: _hidden_units(self.net_, features).double())

    def _run(self, X: np.ndarray, compute, axis: int = 0) -> np.ndarray:
        """``compute(trunk features)`` in eval mode, ``CHUNK_ROWS`` rows at a time, joined along ``axis``."""
        import torch

        with _torch_state(None, self.n_threads), torch.inference_mode():
            self.net_.eval()
            return np.concatenate([compute(self.net_["trunk"](_as_images(X[start:start + CHUNK_ROWS], self.side_)))
                                   .numpy() for start in range(0, len(X), CHUNK_ROWS)], axis=axis)

    # ----------------------------------------------------------------------- checks

    def _check_X(self, X, fitting: bool = False) -> tuple[np.ndarray, int]:
        """``X`` as checked float32 rows of square images in [0, 1], and the side; every public method calls it."""
        if not fitting and not hasattr(self, "net_"):
            raise ValueError("this CNNClassifier is not fitted yet; call fit(X, y) first")
        X = check_matrix(X, "X", what="(n_images, side * side), one flat image per row", dtype=np.float32)
        side = math.isqrt(X.shape[1])
        if side * side != X.shape[1] or side < 2:
            raise ValueError(f"X must hold square images as flat rows (8 x 8 digits: 64 columns), "
                             f"got {X.shape[1]} columns")
        if not fitting and side != self.side_:
            raise ValueError(f"X has {X.shape[1]} columns but the model was fitted on {self.side_ ** 2}")
        if X.min() < 0 or X.max() > 1:
            raise ValueError(f"X must hold pixel values in [0, 1], got [{X.min():g}, {X.max():g}]; divide by 255")
        return X, side

    def _check_params(self) -> None:
        """Check the constructor's parameters (scikit-learn checks them in ``fit``, not in ``__init__``)."""
        check_int(self.width, "width", min=1)
        check_int(self.hidden, "hidden", min=1)
        check_float(self.dropout, "dropout", min=0, max=1, max_open=True)
        check_float(self.lr, "lr", min=0, min_open=True)
        check_float(self.weight_decay, "weight_decay", min=0)
        check_int(self.batch_size, "batch_size", min=1)
        check_int(self.max_epochs, "max_epochs", min=1)
        check_float(self.tol, "tol", min=0)
        check_int(self.mc_samples, "mc_samples", min=1)
        check_bool(self.warm_start, "warm_start")
        if self.random_state is not None:
            check_seed(self.random_state, "random_state")
        check_int(self.n_threads, "n_threads", min=1)


# --------------------------------------------------------------------------- the network and its training


def _build_net(side: int, width: int, hidden: int, n_classes: int, dropout: float):
    """conv-ReLU, 2x2 max-pool, conv-ReLU (the trunk); dropout, dense-ReLU, dropout, linear (the head)."""
    from torch import nn

    trunk = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.Flatten())
    return nn.ModuleDict({"trunk": trunk, "dense": nn.Linear(2 * width * (side // 2) ** 2, hidden),
                          "out": nn.Linear(hidden, n_classes), "drop": nn.Dropout(dropout)})


def _hidden_units(net, features):
    """The penultimate layer: dense-ReLU of the trunk's features (dropout before it, when training)."""
    return net["dense"](net["drop"](features)).relu()


def _head(net, features, masks=None):
    """Logits from the trunk's features (n, F): (n, C); with MC-dropout ``masks`` (T, F) and (T, hidden): (T, n, C)."""
    if masks is None:
        return net["out"](net["drop"](_hidden_units(net, features)))
    hidden = net["dense"](features[None] * masks[0][:, None]).relu()
    return net["out"](hidden * masks[1][:, None])


def _as_images(X: np.ndarray, side: int):
    """Checked float32 rows (n, side * side) as a tensor (n, 1, side, side)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(X)).reshape(len(X), 1, side, side)


def _train(net, images, targets, lr, weight_decay, batch_size, max_epochs, tol) -> tuple[int, float]:
    """Adam on shuffled minibatches until an epoch's mean loss < ``tol`` or ``max_epochs``; (epochs, last loss)."""
    import torch

    params = list(net.parameters())
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    net.train()
    loss_sum, epoch, step = math.inf, 0, 0
    for epoch in range(1, max_epochs + 1):
        loss_sum = 0.0
        for rows in torch.randperm(len(images)).split(batch_size):
            loss = torch.nn.functional.cross_entropy(_head(net, net["trunk"](images[rows])), targets[rows])
            grads = torch.autograd.grad(loss, params)
            step += 1
            with torch.no_grad():
                _adam_step(params, grads, moments, step, lr, weight_decay)
            loss_sum += float(loss.detach()) * len(rows)
        if loss_sum / len(images) < tol:
            break
    net.eval()
    return epoch, loss_sum / len(images)


def _adam_step(params, grads, moments, step: int, lr: float, weight_decay: float,
               beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One Adam step (Kingma & Ba 2015), in place; the L2 penalty is added to the gradient, as ``torch.optim.Adam``::

        g = grad + weight_decay p;   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
        p = p - lr (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)

    Written out because ``torch.optim`` imports torch's compiler on first use: seconds per kernel.
    """
    for p, grad, (m, v) in zip(params, grads, moments):
        g = grad + weight_decay * p
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        p.addcdiv_(m, (v / (1 - beta2 ** step)).sqrt_().add_(eps), value=-lr / (1 - beta1 ** step))


def _masks(T: int, n_features: int, hidden: int, p: float):
    """Scaled dropout masks for ``T`` MC samples (keep with probability ``1 - p``): (T, n_features), (T, hidden)."""
    import torch

    keep = 1.0 - p
    return (torch.rand(T, n_features) < keep).float() / keep, (torch.rand(T, hidden) < keep).float() / keep


@contextlib.contextmanager
def _torch_state(seed: int | None, n_threads: int):
    """Run with ``n_threads`` torch threads, oneDNN off, and (if ``seed`` is given) a seeded, then restored, RNG."""
    import torch

    threads, onednn = torch.get_num_threads(), torch.backends.mkldnn.enabled
    torch.set_num_threads(n_threads)
    torch.backends.mkldnn.enabled = False  # oneDNN compiles kernels for every new batch shape: slower at this size
    try:
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(threads)
        torch.backends.mkldnn.enabled = onednn
