"""Train the kit's digits encoders and save them in data/ (the shipped checkpoints).

    python scripts/train_encoder.py                 # both: data/digits_ssl_encoder.pt, data/digits_supervised_encoder.pt
    python scripts/train_encoder.py --kind ssl      # only one of them
    python scripts/train_encoder.py --out /tmp/enc  # somewhere else

Data: the 1,348 digits *outside* the test split ``split(load_digits(), train_size=0,
test_size=0.25, seed=0)`` (``dcai_lab.encoder.CHECKPOINT_SPLIT``). The SSL encoder uses
their images only; the supervised one also their labels. The 449 test digits are never
seen, so the accuracies of ``benchmarks/bench_embed.py`` on them are honest.

Reproducible: the same seed gives the same weights on the same machine (same torch
version and number of threads); ``python -m benchmarks embed`` retrains the SSL encoder and
checks that the file is byte for byte the shipped one. About 20-30 s (SSL) + 12-15 s
(supervised) on 2 idle cores.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from dcai_lab.data import DATA_DIR, load_digits, split  # noqa: E402
from dcai_lab.encoder import CHECKPOINT_SPLIT, save_encoder  # noqa: E402
from dcai_lab.simclr import train_ssl_encoder, train_supervised_encoder  # noqa: E402

DATA_DESCRIPTION = ("digits outside the test split of split(load_digits(), train_size=0, test_size=0.25, "
                    "seed=0): 1,348 images")


def train(kind: str, out_dir: Path, seed: int = 0, progress: bool = True) -> Path:
    """Train one digits encoder (``"ssl"`` or ``"supervised"``) and save it as ``digits_<kind>_encoder.pt``."""
    _, train_part, _ = split(load_digits(), **CHECKPOINT_SPLIT)
    start = time.perf_counter()
    if kind == "ssl":
        encoder = train_ssl_encoder(train_part.images, seed=seed, progress=progress)
    else:
        encoder = train_supervised_encoder(train_part.images, train_part.y, seed=seed, progress=progress)
    seconds = time.perf_counter() - start
    path = save_encoder(encoder, out_dir / f"digits_{kind}_encoder.pt", seed=seed, data=DATA_DESCRIPTION)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    print(f"{kind}: trained in {seconds:.1f} s, saved {path} ({path.stat().st_size / 1e6:.2f} MB, sha256 {digest})")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["ssl", "supervised", "both"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder for the checkpoints (default: data/)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    for kind in ("ssl", "supervised") if args.kind == "both" else (args.kind,):
        train(kind, args.out, args.seed, progress=not args.no_progress)


if __name__ == "__main__":
    main()
