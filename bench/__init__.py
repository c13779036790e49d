"""Benchmarks: each prints figures and ratios against raw baselines measured in the same
run; none asserts a time. Run them as scripts, e.g. ``python bench/ingest.py --help``."""
