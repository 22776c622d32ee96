"""Benchmarks: `make bench` (python -m bench) measures, prints, and writes docs/performance.md."""
