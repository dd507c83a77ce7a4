#!/usr/bin/env bash
# Thin wrapper: infra/stack.sh up|down|status|logs  (same as `python -m loglens.stack ...`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export PYTHONPATH="${root}${PYTHONPATH:+:${PYTHONPATH}}"
exec "${PYTHON:-python3}" -m loglens.stack "$@"
