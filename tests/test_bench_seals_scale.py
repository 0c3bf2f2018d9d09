"""A small-size run of the SEALS scaling benchmark's own code (the benchmark itself is not run by the tests)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import bench_seals_scale as bench
from dcai_lab.seals_scaling import load_scaling_results, plot_seals_scaling, scaling_slopes


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return bench.run_size(12_000, seeds=(0, 1), n_rounds=2, batch_size=20, k=20, n_queries=30, repeats=1,
                          cache_dir=cache, progress=False)


def test_the_benchmark_runs_at_small_size_and_measures_what_it_reports(results):
    assert results["pool_size"] == 12_000 and results["seeds"] == [0, 1]
    full, seals = results["summary"]["full MaxEnt"], results["summary"]["SEALS + MaxEnt"]
    # every unlabeled item (and the kept rows of those labeled since: a pool this small takes the kept-rows path)
    assert 12_000 - 120 <= full["points_scored"] <= 12_000
    assert 0 < seals["points_scored"] <= 120 * 20  # at most k neighbours per label
    assert seals["fewer_points_scored"] == pytest.approx(full["points_scored"] / seals["points_scored"])
    assert full["labels"] == seals["labels"] == 100 + 2 * 20
    assert 0.9 < results["index"]["recall_at_k"] <= 1 and results["index"]["kind"] == "ivfsq"
    ways = results["baseline"]["ways"]
    assert len(ways) == 3 and all(w["points_per_second"] > 0 for w in ways.values())
    assert all(same >= 45 for same in results["baseline"]["same_batch"].values())  # the three ways pick ~ one batch
    assert results["index"]["nlist"] == bench.nlist_for(12_000) == 8  # cells of about CELL_SIZE points
    assert results["memory"]["peak_rss_gb"] > 0 and len(results["machine"]["load_average_start"]) == 3
    small = results["small_batch"]  # the same 40 labels in rounds of 10
    assert (small["batch_size"], small["n_rounds"]) == (10, 4)
    assert small["summary"]["SEALS + MaxEnt"]["labels"] == 100 + 4 * 10
    for parts in (results["seals_round_parts"], small["seals_round_parts"]):
        for when in ("round 0", "rounds 1+", "all rounds"):
            row = parts[when]
            assert row["other"] >= 0  # the parts are timed inside the loop's selection timer
            assert 0 < row["index_search"] < row["selection"] and row["read_rows"] > 0 and row["score"] > 0
    assert results["seals_round_parts"]["all rounds"]["selection"] == pytest.approx(seals["selection_seconds"])
    json.dumps(results)  # the results file can be written


def test_the_curve_reads_results_files(results, tmp_path):
    bigger = json.loads(json.dumps(results))
    bigger["pool_size"] = 120_000
    bigger["summary"]["full MaxEnt"]["points_scored"] *= 10
    for r in (results, bigger):
        bench.results_path(r["pool_size"], tmp_path).write_text(json.dumps(r))
    loaded = load_scaling_results(tmp_path)
    assert [r["pool_size"] for r in loaded] == [12_000, 120_000]
    slopes = scaling_slopes(loaded)
    assert slopes["full MaxEnt"]["points_scored"] == pytest.approx(1.0)
    assert slopes["SEALS + MaxEnt"]["points_scored"] == pytest.approx(0.0, abs=1e-9)
    assert slopes["SEALS + MaxEnt, 10 labels / round"]["points_scored"] == pytest.approx(0.0, abs=1e-9)
    fig = plot_seals_scaling(loaded)
    assert [ax.get_xlabel() for ax in fig.axes] == ["pool size (items)"] * 2
    assert fig.axes[0].get_xscale() == fig.axes[0].get_yscale() == "log"
    assert "slope 1.00" in fig.axes[0].get_legend().get_texts()[0].get_text()
    assert [t.get_text().split(" (")[0] for t in fig.axes[0].get_legend().get_texts()] == [
        "full MaxEnt", "SEALS + MaxEnt", "SEALS + MaxEnt, 10 labels / round"]


def test_fast_maxent_picks_what_the_loops_entropy_sampling_picks():
    from sklearn.linear_model import LogisticRegression

    from dcai_lab.strategies import entropy_sampling

    rng = np.random.default_rng(0)
    X = (rng.standard_normal((5_000, 16)) + 3).astype(np.float32)  # offset features
    y = (X[:, 0] + 0.5 * X[:, 1] > 4.5).astype(int)
    labeled = np.zeros(len(X), bool)
    labeled[rng.choice(len(X), 200, replace=False)] = True
    params = dict(max_iter=1000, random_state=0)
    slow = LogisticRegression(**params).fit(X[labeled], y[labeled])
    fast = bench.Float32LogisticRegression(**params).fit(X[labeled], y[labeled])
    np.testing.assert_allclose(fast.predict_proba(X), slow.predict_proba(X), atol=1e-5)
    expected = entropy_sampling(slow, X, labeled, 30, np.random.default_rng(0))
    whole = bench.FastMaxEnt()(fast, X, labeled, 30, None, candidates=np.flatnonzero(~labeled))
    assert len(np.intersect1d(whole, expected)) >= 28  # float32 rounding may swap a near-tie at the edge
    scattered = np.flatnonzero(~labeled)[::7]  # a candidate pool: gathered, not sliced
    picks = bench.FastMaxEnt()(fast, X, labeled, 30, None, candidates=scattered)
    assert set(picks) <= set(scattered) and len(set(picks)) == 30
    assert len(np.intersect1d(picks, entropy_sampling(slow, X, labeled, 30, np.random.default_rng(0),
                                                      candidates=scattered))) >= 28


def test_fast_maxent_keeps_rows_and_picks_as_if_it_read_them_each_round(monkeypatch, tmp_path):
    """Round after round, candidates join, leave (labeled) and come in any order: the kept rows give the
    picks of scoring the candidates read afresh, every row is read from the pool once, and all are counted."""
    rng = np.random.default_rng(1)
    X = (rng.standard_normal((3_000, 8)) * 1e-3 + 5).astype(np.float32)  # offset, tiny spread: near-ties
    y = (X[:, 0] > 5).astype(int)
    monkeypatch.setattr(bench, "ONE_THREAD_ROWS", 2_000)  # the whole pool goes the chunked way
    strategy, labeled, seen = bench.FastMaxEnt(), np.zeros(len(X), bool), set()
    pool = np.memmap(tmp_path / "pool.npy", np.float32, "w+", shape=X.shape)
    pool[:] = X
    candidates = np.zeros(0, np.int64)
    for r in range(6):
        labeled[rng.choice(np.flatnonzero(~labeled), 40, replace=False)] = True
        model = bench.Float32LogisticRegression(random_state=0).fit(X[labeled], y[labeled])
        joining = rng.choice(len(X), 300, replace=False)
        candidates = np.union1d(candidates, joining)
        candidates = rng.permutation(candidates[~labeled[candidates]])  # any order
        seen |= set(candidates.tolist())
        picks = strategy(model, pool, labeled, 25, None, candidates=candidates)
        fresh = bench.top_of_ids(bench._maxent_of(model), X, np.sort(candidates), 25, 1)
        assert picks.tolist() == fresh.tolist(), f"round {r}"
    assert strategy.n_kept == len(seen) and len(strategy.seconds) == 6  # each candidate's row was read once
    np.testing.assert_array_equal(strategy.sorted_ids, sorted(seen))
    np.testing.assert_array_equal(np.sort(strategy.sorted_rows), np.arange(len(seen)))  # one kept row each
    np.testing.assert_array_equal(strategy.kept[strategy.sorted_rows], X[strategy.sorted_ids])
    whole = strategy(model, pool, labeled, 25, None, candidates=np.flatnonzero(~labeled))  # > ONE_THREAD_ROWS
    assert whole.tolist() == bench.top_of_ids(bench._maxent_of(model), X, np.flatnonzero(~labeled), 25, 1).tolist()


def test_top_of_ids_breaks_ties_to_the_lowest_id_across_chunks():
    ids = np.arange(0, 1_000, 3)
    picks = bench.top_of_ids(lambda x: np.ones(len(x)), np.zeros((1_000, 2), np.float32), ids, 5, 2, rows=7)
    assert picks.tolist() == [0, 3, 6, 9, 12]


def test_nlist_for_keeps_cells_of_about_cell_size_points():
    assert [bench.nlist_for(n) for n in (100, 100_000, 1_000_000, 10_000_000)] == [1, 64, 1024, 8192]
