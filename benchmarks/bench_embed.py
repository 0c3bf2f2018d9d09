"""Embedding benchmark: quality with few labels, SSL training time, and a million-image pool.

Run: ``python -m benchmarks embed`` (or ``python -m benchmarks.bench_embed``); a few minutes on
2 cores. ``python -m benchmarks.bench_embed --pool-size 100000`` for a quick run.

Set-up (all seeded):

- **digits**: scikit-learn's 1,797 digits, split into 1,348 train / 449 test digits with
  ``split(load_digits(), train_size=0, test_size=0.25, seed=0)`` (``dcai_lab.encoder.CHECKPOINT_SPLIT``).
  The shipped encoders were trained on the train digits only (SSL: images; supervised: images
  and labels), so no method has seen a test digit.
- **methods**: ``pixels`` (64 values in [0, 1]); ``pca`` (32 components, fitted on the train
  images only, like the encoders); ``ssl`` and ``supervised`` (the shipped checkpoints, 128 dims).
- **labels**: 1%, 10% and 100% of the 1,348 train labels (13, 135, 1,348), a stratified draw
  per seed (``dcai_lab.data.split``); seeds ``SEEDS`` (at 100% every seed gives the same set).
- **k-NN**: 1-nearest neighbour by cosine similarity (L2-normalized embeddings).
- **linear probe**: ``StandardScaler`` then ``LogisticRegression(C=PROBE_C, max_iter=5000)``
  on the raw embeddings, the same fixed ``C`` for every method and label fraction (no tuning
  on the test set; with 13 labels there is nothing to cross-validate on).
- **SSL training time**: a fresh ``train_ssl_encoder`` with the settings of
  ``scripts/train_encoder.py`` (written to a temporary folder, ``data/`` is untouched), wall-clock
  and CPU seconds, and whether it reproduced the shipped checkpoint byte for byte.
- **scale**: ``augment_pool(load_digits(), 1_000_000, seed=0)`` embedded with the shipped SSL
  encoder (``embed(..., method="ssl", cache=False)``): seconds and the growth of the process's
  peak resident memory above its level before embedding (sampled every 5 ms, torch included),
  next to the size of the output array itself.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dcai_lab.augment import augment_pool
from dcai_lab.data import Dataset, load_digits, split
from dcai_lab.embed import PCA_COMPONENTS, embed
from dcai_lab.encoder import CHECKPOINT_SPLIT, checkpoint_path

METHODS = ("pixels", "pca", "ssl", "supervised")
FRACTIONS = (0.01, 0.1, 1.0)
SEEDS = (0, 1, 2, 3, 4)
PROBE_C = 1.0
POOL_SIZE = 1_000_000


def train_test() -> tuple[Dataset, Dataset]:
    """The digits outside / inside the test split of the shipped encoders."""
    _, train, test = split(load_digits(), **CHECKPOINT_SPLIT)
    return train, test


def embeddings(train: Dataset, test: Dataset) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(train, test) embeddings per method, not normalized; PCA fitted on the train images only."""
    from sklearn.decomposition import PCA

    out = {}
    for method in METHODS:
        if method == "pca":
            pca = PCA(n_components=PCA_COMPONENTS, random_state=0).fit(embed(train, method="pixels"))
            out[method] = tuple(pca.transform(embed(d, method="pixels")).astype(np.float32) for d in (train, test))
        else:
            out[method] = tuple(embed(d, method=method, cache=False, progress=False) for d in (train, test))
    return out


def labeled_subset(train: Dataset, fraction: float, seed: int) -> np.ndarray:
    """Positions in ``train`` of a stratified draw of ``fraction`` of its items (all of them at 1.0)."""
    if fraction >= 1:
        return np.arange(len(train))
    n = round(fraction * len(train))
    positions = Dataset(train.images, train.y, train.class_names, train.name, source_index=np.arange(len(train)))
    labeled, _, _ = split(positions, train_size=n, test_size=0, seed=seed)
    return labeled.source_index


def knn_accuracy(train_emb: np.ndarray, y_train: np.ndarray, test_emb: np.ndarray, y_test: np.ndarray) -> float:
    """Test accuracy of 1-nearest-neighbour by cosine similarity."""
    unit = [e / np.linalg.norm(e, axis=1, keepdims=True) for e in (train_emb, test_emb)]
    nearest = np.argmax(unit[1] @ unit[0].T, axis=1)
    return float(np.mean(y_train[nearest] == y_test))


def probe_accuracy(train_emb: np.ndarray, y_train: np.ndarray, test_emb: np.ndarray, y_test: np.ndarray) -> float:
    """Test accuracy of a linear probe: standardize, then logistic regression with ``C = PROBE_C``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_C, max_iter=5000))
    return float(probe.fit(train_emb, y_train).score(test_emb, y_test))


def quality_table(train: Dataset, test: Dataset, seeds=SEEDS) -> dict:
    """{(evaluation, method, fraction): array of accuracies over seeds}."""
    emb = embeddings(train, test)
    results = {}
    for fraction in FRACTIONS:
        for seed in seeds if fraction < 1 else seeds[:1]:
            labeled = labeled_subset(train, fraction, seed)
            for method, (train_emb, test_emb) in emb.items():
                for name, score in (("k-NN", knn_accuracy), ("linear probe", probe_accuracy)):
                    acc = score(train_emb[labeled], train.y[labeled], test_emb, test.y)
                    results.setdefault((name, method, fraction), []).append(acc)
    return {k: np.array(v) for k, v in results.items()}


def print_quality(results: dict, n_train: int) -> None:
    counts = [round(f * n_train) for f in FRACTIONS]
    print("| evaluation | method | " + " | ".join(f"{f:.0%} labels ({c})" for f, c in zip(FRACTIONS, counts))
          + " |")
    print("|---|---" + "|---" * len(FRACTIONS) + "|")
    for name in ("k-NN", "linear probe"):
        for method in METHODS:
            cells = []
            for fraction in FRACTIONS:
                acc = results[(name, method, fraction)]
                cells.append(f"{acc.mean():.3f} ± {acc.std():.3f}" if len(acc) > 1 else f"{acc[0]:.3f}")
            print(f"| {name} | {method} | " + " | ".join(cells) + " |")


def ssl_training_seconds() -> tuple[float, float, bool]:
    """Train a fresh SSL encoder as ``scripts/train_encoder.py`` does, into a temporary folder.

    Returns wall-clock and CPU seconds (all threads; on a shared machine they depend less on
    the other processes), and whether the file is byte for byte the shipped checkpoint.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import train_encoder

    with tempfile.TemporaryDirectory() as folder:
        start, cpu = time.perf_counter(), time.process_time()
        path = train_encoder.train("ssl", Path(folder), seed=0, progress=False)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        return seconds, cpu_seconds, path.read_bytes() == checkpoint_path("ssl").read_bytes()


def rss_mb() -> float:
    """The process's resident memory now, in MB (Linux: /proc/self/statm; elsewhere the peak so far)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class PeakMemory:
    """Peak resident memory inside a ``with`` block, above the level at its start: a thread samples every 5 ms.

    ``resource.getrusage``'s ``ru_maxrss`` is the peak of the whole process so far, so it
    misses a block whose peak stays below an earlier one; sampling sees torch's memory too
    (``tracemalloc`` only sees Python's allocations).
    """

    def __enter__(self) -> "PeakMemory":
        import threading

        self.start = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())
        self.growth = self.peak - self.start


def scale_run(n: int) -> dict:
    """Embed an ``n``-image augmented digits pool with the shipped SSL encoder: seconds and peak memory."""
    import torch

    start = time.perf_counter()
    pool = augment_pool(load_digits(), n, seed=0)
    pool_seconds = time.perf_counter() - start
    embed(pool.images[:10], method="ssl", cache=False, progress=False)  # load torch and the checkpoint first
    with PeakMemory() as memory:
        start, cpu = time.perf_counter(), time.process_time()
        emb = embed(pool, method="ssl", cache=False, progress=False)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return dict(n=n, pool_seconds=pool_seconds, seconds=seconds, cpu_seconds=cpu_seconds,
                images_per_second=n / seconds,
                rss_before_mb=memory.start, peak_growth_mb=memory.growth, output_mb=emb.nbytes / 1e6,
                images_mb=pool.images.nbytes / 1e6, threads=torch.get_num_threads(),
                finite=bool(np.isfinite(emb).all()), shape=emb.shape)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE)
    parser.add_argument("--skip-training", action="store_true", help="do not time a fresh SSL training run")
    args = parser.parse_args(argv if argv is not None else [])

    import os

    import torch

    print(f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads, load average "
          f"{os.getloadavg()[0]:.1f} at the start (other processes slow the timings down)\n")
    train, test = train_test()
    print(f"digits: train {len(train)}, test {len(test)}; seeds {list(SEEDS)}; mean ± std test accuracy\n")
    start = time.perf_counter()
    print_quality(quality_table(train, test), len(train))
    print(f"\n(quality table: {time.perf_counter() - start:.0f} s)\n", flush=True)

    if not args.skip_training:
        seconds, cpu_seconds, same = ssl_training_seconds()
        print(f"SSL encoder training (scripts/train_encoder.py settings, 1,348 digits, 100 epochs): "
              f"{seconds:.1f} s ({cpu_seconds:.1f} CPU s); the same bytes as data/digits_ssl_encoder.pt: "
              f"{same}\n", flush=True)

    r = scale_run(args.pool_size)
    print("| pool | torch threads | making the pool | embedding (ssl) | CPU | images / s | peak memory growth "
          "| output array | pool images |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['n']:,} augmented digits | {r['threads']} | {r['pool_seconds']:.0f} s | {r['seconds']:.0f} s "
          f"| {r['cpu_seconds']:.0f} s | {r['images_per_second']:,.0f} | {r['peak_growth_mb']:.0f} MB | {r['output_mb']:.0f} MB "
          f"| {r['images_mb']:.0f} MB |")
    print(f"\n(embedding shape {r['shape']}, all finite: {r['finite']}; resident memory before embedding "
          f"{r['rss_before_mb']:.0f} MB)")


if __name__ == "__main__":
    main(sys.argv[1:])
