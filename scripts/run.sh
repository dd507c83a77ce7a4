#!/usr/bin/env bash
# One command for the product: install, start Kafka + OpenSearch, consumer, AI service, demo traffic.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
VENV="${LOGLENS_VENV:-$ROOT/.venv}"
cd "$ROOT"
exec "$VENV/bin/loglens" up "$@"
