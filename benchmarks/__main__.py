"""Run the benchmarks and print their tables: python -m benchmarks [active] [embed] [seals] [pruning] [deep] [seals_scale] [grading].

``seals_scale`` (pools up to ten million items, about an hour) and ``grading`` (a class of 20 students, every
notebook, graded with 1 and then 2 jobs: hours on 2 cores) run only when named."""

import importlib
import sys
import time

ALL = ["active", "embed", "seals", "pruning", "deep"]
BY_NAME_ONLY = ["seals_scale", "grading"]


def main(names: list[str]) -> None:
    unknown = set(names) - set(ALL) - set(BY_NAME_ONLY)
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; choose from {ALL + BY_NAME_ONLY}")
    for name in names or ALL:
        print(f"\n## benchmark: {name}\n", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"benchmarks.bench_{name}").main()
        print(f"\n({name} took {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
