"""The benchmark (run: python benchmarks/run.py)."""
