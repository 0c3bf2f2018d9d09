"""Run the benchmarks and print their tables: python -m benchmarks [active] [embed] [seals] [pruning]."""

import importlib
import sys
import time

ALL = ["active", "embed", "seals", "pruning"]


def main(names: list[str]) -> None:
    unknown = set(names) - set(ALL)
    if unknown:
        sys.exit(f"unknown benchmark(s) {sorted(unknown)}; choose from {ALL}")
    for name in names or ALL:
        print(f"\n## benchmark: {name}\n", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"benchmarks.bench_{name}").main()
        print(f"\n({name} took {time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
