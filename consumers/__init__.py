"""Kafka consumers of LogLens."""

import os

# One BLAS thread per process: LogLens runs next to OpenSearch and Kafka on few cores, and a
# multi-threaded OpenBLAS spin-waits under contention (a single MiniLM embedding went from ~17 ms to
# ~900 ms on a busy 2-core machine). Set before numpy is first imported; an explicit value wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
