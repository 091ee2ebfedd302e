"""The benchmark of issue 6 (run: python benchmarks/run.py)."""
