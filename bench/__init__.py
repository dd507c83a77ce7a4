"""Benchmarks. Same BLAS threading as the product processes (see loglens/__init__.py)."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
