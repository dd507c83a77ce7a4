"""structlog configured once per entry point: JSON lines on stderr."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(
    level: str = "INFO", *, service: str, slot: str | None = None, build: str | None = None, json: bool = True
) -> None:
    """Route stdlib and structlog output through one JSON renderer.

    ``service``/``slot``/``build`` are bound on every line so blue/green and
    versions can be told apart in LogLens' own logs.
    """
    log_level = getattr(logging, level.upper(), logging.INFO)
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        timestamper,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(log_level)
    # Client libraries are chatty at INFO; their warnings still come through.
    for noisy in ("aiokafka", "opensearch", "urllib3", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(log_level, logging.WARNING))
    structlog.contextvars.clear_contextvars()
    context = {"service": service}
    if slot:
        context["slot"] = slot
    if build:
        context["build"] = build
    structlog.contextvars.bind_contextvars(**context)
