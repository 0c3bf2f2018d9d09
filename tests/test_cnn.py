"""The CNN classifier: scikit-learn's interface, seeding, MC dropout, warm start, input checks."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from dcai_lab.active import run_active_learning
from dcai_lab.cnn import CNNClassifier
from dcai_lab.data import course_split


@pytest.fixture(scope="module")
def digits():
    return course_split()


@pytest.fixture(scope="module")
def fitted(digits):
    pool, _ = digits
    ids = np.random.default_rng(0).choice(len(pool), 300, replace=False)
    return CNNClassifier(random_state=0).fit(pool.X[ids], pool.y[ids])


def test_the_cnn_learns_the_digits(digits, fitted):
    _, test = digits
    probs = fitted.predict_proba(test.X)
    assert probs.shape == (449, 10) and np.allclose(probs.sum(axis=1), 1)
    assert np.array_equal(fitted.classes_, np.arange(10))
    assert np.mean(fitted.predict(test.X) == test.y) > 0.92  # 300 random labels, seed 0: 0.938 (logistic: 0.944)


def test_scikit_learn_interface_and_string_labels(digits):
    pool, _ = digits
    model = CNNClassifier(hidden=16, max_epochs=3, random_state=2)
    assert clone(model).get_params() == model.get_params()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])[pool.y[:60]]
    model.fit(pool.X[:60], names)
    assert set(model.predict(pool.X[60:70])) <= set(names)
    assert not hasattr(clone(model), "net_")
    assert model.penultimate(pool.X[:5]).shape == (5, 16) and (model.penultimate(pool.X[:5]) >= 0).all()


def test_seeded_and_leaves_torch_alone(digits):
    pool, _ = digits
    before = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    a = CNNClassifier(max_epochs=4, random_state=5).fit(pool.X[:100], pool.y[:100])
    assert torch.equal(torch.random.get_rng_state(), before) and torch.get_num_threads() == threads
    b = CNNClassifier(max_epochs=4, random_state=5).fit(pool.X[:100], pool.y[:100])
    c = CNNClassifier(max_epochs=4, random_state=6).fit(pool.X[:100], pool.y[:100])
    assert np.array_equal(a.predict_proba(pool.X[200:300]), b.predict_proba(pool.X[200:300]))
    assert not np.allclose(a.predict_proba(pool.X[200:300]), c.predict_proba(pool.X[200:300]))
    assert np.array_equal(a.fit(pool.X[:100], pool.y[:100]).predict_proba(pool.X[200:300]),
                          b.predict_proba(pool.X[200:300]))  # refitting without warm start: the same model


def test_mc_dropout_samples(digits, fitted):
    pool, _ = digits
    X = pool.X[300:340]
    samples = fitted.predict_proba_samples(X)
    assert samples.shape == (20, 40, 10) and np.allclose(samples.sum(axis=2), 1)
    assert np.array_equal(samples, fitted.predict_proba_samples(X))           # seeded: the same call, the same
    assert not np.allclose(samples[0], samples[1])                            # masks differ between samples
    alone = fitted.predict_proba_samples(X[7:8], n_samples=20)
    assert np.allclose(alone[:, 0], samples[:, 7], atol=1e-5)  # one mask per sample for all rows (float32 round-off)
    assert fitted.predict_proba_samples(X, n_samples=3).shape == (3, 40, 10)
    no_dropout = CNNClassifier(dropout=0.0, max_epochs=3, random_state=0).fit(pool.X[:60], pool.y[:60])
    assert np.allclose(no_dropout.predict_proba_samples(X), no_dropout.predict_proba(X)[None], atol=1e-6)


def test_warm_start_continues_from_the_previous_weights(digits):
    pool, _ = digits
    scratch = CNNClassifier(random_state=0).fit(pool.X[:200], pool.y[:200])
    warm = CNNClassifier(warm_start=True, random_state=0).fit(pool.X[:180], pool.y[:180])
    first = warm.predict_proba(pool.X[500:600])
    warm.fit(pool.X[:200], pool.y[:200])
    assert warm.n_epochs_ < scratch.n_epochs_  # it starts near a solution
    assert not np.allclose(warm.predict_proba(pool.X[500:600]), first)
    net = warm.net_
    warm.fit(pool.X[:200], pool.y[:200])
    assert warm.net_ is net                     # same classes: the same network, trained on
    keep = pool.y[:200] != 9
    warm.fit(pool.X[:200][keep], pool.y[:200][keep])
    assert warm.net_ is not net and len(warm.classes_) == 9   # new classes: a fresh network


def test_the_loop_refits_one_warm_copy(digits):
    pool, test = digits
    fits = []

    class Recording(CNNClassifier):
        def fit(self, X, y):
            fits.append(self)  # the model itself, kept alive: ids of freed objects can be reused
            return super().fit(X, y)

    run_active_learning(pool.X[:200], pool.y[:200], test.X[:50], test.y[:50], strategy="random", initial_labeled=20,
                        batch_size=10, n_rounds=2, model=Recording(warm_start=True, max_epochs=3), progress=False)
    assert len(fits) == 3 and all(f is fits[0] for f in fits)
    fits.clear()
    run_active_learning(pool.X[:200], pool.y[:200], test.X[:50], test.y[:50], strategy="random", initial_labeled=20,
                        batch_size=10, n_rounds=2, model=Recording(max_epochs=3), progress=False)
    assert len(fits) == 3 and len({id(f) for f in fits}) == 3


def test_bad_input_is_refused(digits, fitted):
    pool, _ = digits
    with pytest.raises(ValueError, match="square images"):
        CNNClassifier().fit(pool.X[:20, :60], pool.y[:20])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        CNNClassifier().fit(pool.X[:20] * 16, pool.y[:20])
    with pytest.raises(ValueError, match="not fitted"):
        CNNClassifier().predict_proba(pool.X[:2])
    with pytest.raises(ValueError, match="dropout"):
        CNNClassifier(dropout=1.0).fit(pool.X[:20], pool.y[:20])
    with pytest.raises(ValueError, match="fitted on 64"):
        fitted.predict(np.zeros((2, 16)))
    with pytest.raises(ValueError, match="n_samples"):
        fitted.predict_proba_samples(pool.X[:2], n_samples=0)
