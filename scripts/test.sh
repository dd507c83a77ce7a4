#!/usr/bin/env bash
# One command for the whole test suite: install, lint, type-check, start the real stack, run every tier.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh || { echo "test.sh: bootstrap failed" >&2; exit 1; }
VENV="${LOGLENS_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
mkdir -p test-artifacts
status=0

echo "== ruff (lint + format check)"
"$VENV/bin/ruff" check . || status=1
"$VENV/bin/ruff" format --check . || status=1

echo "== mypy --strict"
"$VENV/bin/mypy" || status=1

echo "== local stack (Kafka + OpenSearch k-NN)"
if ! "$VENV/bin/loglens" stack up; then
  echo "test.sh: the stack did not come up; see the messages above" >&2
  exit 1
fi

echo "== pytest"
"$PY" -m pytest tests -p no:cacheprovider --junitxml=test-artifacts/junit.xml "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests — that is a failure" >&2
  rc=1
fi
[ "$rc" -ne 0 ] && status=1
echo "== done: $([ "$status" -eq 0 ] && echo PASSED || echo FAILED)"
exit "$status"
