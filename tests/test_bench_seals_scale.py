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
    assert full["points_scored"] == np.mean([12_000 - 100, 12_000 - 120])  # every unlabeled item, in rounds 0 and 1
    assert 0 < seals["points_scored"] <= 120 * 20  # at most k neighbours per label
    assert seals["fewer_points_scored"] == pytest.approx(full["points_scored"] / seals["points_scored"])
    assert full["labels"] == seals["labels"] == 100 + 2 * 20
    assert 0.9 < results["index"]["recall_at_k"] <= 1 and results["index"]["kind"] == "ivfsq"
    ways = results["baseline"]["ways"]
    assert len(ways) == 4 and all(w["points_per_second"] > 0 for w in ways.values())
    assert all(same >= 45 for same in results["baseline"]["same_batch"].values())  # the four ways pick ~ one batch
    assert results["memory"]["peak_rss_gb"] > 0 and len(results["machine"]["load_average_start"]) == 3
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
    fig = plot_seals_scaling(loaded)
    assert [ax.get_xlabel() for ax in fig.axes] == ["pool size (items)"] * 2
    assert fig.axes[0].get_xscale() == fig.axes[0].get_yscale() == "log"
    assert "slope 1.00" in fig.axes[0].get_legend().get_texts()[0].get_text()
