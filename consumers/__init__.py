"""Kafka consumers of LogLens."""
