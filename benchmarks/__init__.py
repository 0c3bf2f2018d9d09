"""Speed, memory and quality benchmarks: `make bench` (or `python -m benchmarks [active embed seals pruning]`)."""
