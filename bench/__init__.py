"""Benchmarks: `make bench` (or `python -m bench`) prints figures; nothing asserts a time."""
