"""Entry point: ``python -m consumers.log_embedder`` (or ``loglens consumer``)."""

from __future__ import annotations

from consumers.log_embedder.app import main

if __name__ == "__main__":
    raise SystemExit(main())
