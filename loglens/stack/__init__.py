"""Local stack: Kafka (KRaft) + OpenSearch 2.19 with k-NN as plain JVM processes.

Use ``python -m loglens.stack up|down|status|logs`` or :mod:`loglens.stack.manager`.
"""
