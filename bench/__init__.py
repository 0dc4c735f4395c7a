"""Benchmarks: `make bench` runs `python -m bench.run`; tests/faults/test_bench_smoke.py keeps
each one working with tiny sizes inside `make test`."""
