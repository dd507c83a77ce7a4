"""Helpers for the ops-file tests (tests/unit/test_ops_files.py, tests/integration/test_ops_tools.py)."""
