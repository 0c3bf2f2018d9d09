"""Notebook 01's explore-mode references (dcai_lab.course.references) do what the exercises ask."""

import numpy as np
import pytest

from dcai_lab.active import run_active_learning
from dcai_lab.course.references import active_learning_loop, batch_size_sweep

# eight points on a line, labels by parity: seed 0 labels pool ids [2, 6, 4, 3] first
X8, Y8 = np.arange(8.0)[:, None], np.arange(8) % 2


def lowest_unlabeled(model, X_pool, labeled, batch_size, rng, **unused):
    return np.flatnonzero(~labeled)[:batch_size]


def test_loop_reference_picks_by_hand_and_as_the_library():
    accuracy, selected = active_learning_loop(X8, Y8, X8, Y8, lowest_unlabeled, initial_labeled=4, batch_size=2,
                                              n_rounds=2, seed=0)
    assert np.random.default_rng(0).choice(8, size=4, replace=False).tolist() == [2, 6, 4, 3]
    assert [ids.tolist() for ids in selected] == [[0, 1], [5, 7]]
    assert len(accuracy) == 3
    history = run_active_learning(X8, Y8, X8, Y8, lowest_unlabeled, initial_labeled=4, batch_size=2, n_rounds=2,
                                  seed=0, progress=False)
    assert accuracy == history.accuracy


@pytest.mark.parametrize("bad", [
    lambda model, X_pool, labeled, batch_size, rng, **unused: np.flatnonzero(labeled)[:batch_size],  # labeled ids
    lambda model, X_pool, labeled, batch_size, rng, **unused: np.flatnonzero(~labeled)[[0, 0]],      # a repeat
    lambda model, X_pool, labeled, batch_size, rng, **unused: np.flatnonzero(~labeled)[:1],          # too few
])
def test_loop_reference_refuses_a_bad_strategy_with_a_value_error(bad):
    with pytest.raises(ValueError, match="must return 2 unlabeled pool ids|repeat|distinct|already"):
        active_learning_loop(X8, Y8, X8, Y8, bad, initial_labeled=4, batch_size=2, n_rounds=1, seed=0)


def test_sweep_reference_ends_every_run_at_the_budget():
    frame = batch_size_sweep(X8, Y8, X8, Y8, ["random", lowest_unlabeled], [1, 2], [0, 1], budget=6,
                             initial_labeled=4)
    assert frame.columns.tolist() == ["strategy", "batch_size", "seed", "n_labeled", "accuracy"]
    assert len(frame) == 2 * 2 * 2 and (frame["n_labeled"] == 6).all()
    row = frame[(frame.strategy == "random") & (frame.batch_size == 2) & (frame.seed == 1)]
    history = run_active_learning(X8, Y8, X8, Y8, "random", initial_labeled=4, batch_size=2, n_rounds=1, seed=1,
                                  progress=False)
    assert row["accuracy"].item() == history.accuracy[-1]
    with pytest.raises(ValueError, match="does not divide"):
        batch_size_sweep(X8, Y8, X8, Y8, ["random"], [3], [0], budget=6, initial_labeled=4)
