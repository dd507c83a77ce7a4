"""The continuous detection loop and the wiring that builds the analyses domain for the app.

Restart-safe without a watermark: each cycle derives everything from the data (aggregations over
the last hour / lookback), and writes are idempotent (fingerprint = document id, conditional
updates), so a restart or a second process (blue and green) never duplicates an analysis. The
last cycle's outcome is written to ``loglens-state`` (doc ``analysis-worker``) for operators.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from ai_service.analysis import metrics
from ai_service.analysis.service import AnalysisConfig, AnalysisService
from ai_service.analysis.store import OpenSearchAnalysisRepo, OpenSearchEventQueries
from ai_service.analysis.webhook import HttpWebhook
from ai_service.llm import build_answerer
from loglens.config import Settings

log = structlog.get_logger("ai_service.analysis.worker")
DEFAULT_INTERVAL_S = 10.0


class AnalysisWorker:
    """Runs :meth:`AnalysisService.run_cycle` every ``interval_s``; failures are logged, never fatal."""

    def __init__(self, service: AnalysisService, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.service = service
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="analysis-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            with metrics.CYCLE_SECONDS.time():
                try:
                    result = await self.service.run_cycle()
                    metrics.CYCLES.labels(outcome="ok").inc()
                    if result.created:
                        log.info("analysis_cycle", **result.__dict__)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # OpenSearch down, index missing at start ...: try next cycle
                    metrics.CYCLES.labels(outcome="error").inc()
                    log.warning("analysis_cycle_failed", error=str(exc)[:300])
            await asyncio.sleep(self.interval_s)


@dataclass
class AnalysesRuntime:
    """What the lifespan keeps: the service (for the router) and what to close on stop."""

    service: AnalysisService
    worker: AnalysisWorker | None = None
    closers: list[Any] = field(default_factory=list)

    async def aclose(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        for closer in self.closers:
            with suppress(Exception):
                await closer()


def build_analyses(opensearch: Any, settings: Settings, *, start_worker: bool = True) -> AnalysesRuntime:
    """Build the analyses service (and start the worker unless disabled) from settings.

    Settings are read with ``getattr`` and defaults, so this works before they are declared.
    """
    config = AnalysisConfig(
        ttl_s=float(getattr(settings, "analysis_ttl_s", 3600.0)),
        lookback_s=float(getattr(settings, "analysis_lookback_s", 86400.0)),
        max_per_cycle=int(getattr(settings, "analysis_max_per_cycle", 20)),
    )
    closers: list[Any] = []
    answerer = build_answerer(settings) if getattr(settings, "analysis_narrative_enabled", True) else None
    if answerer is not None and hasattr(answerer, "aclose"):
        closers.append(answerer.aclose)
    webhook = None
    url = getattr(settings, "analysis_webhook_url", None)
    if url:
        client = httpx.AsyncClient(timeout=float(getattr(settings, "analysis_webhook_timeout_s", 5.0)))
        closers.append(client.aclose)
        webhook = HttpWebhook(str(url), client)
    service = AnalysisService(
        OpenSearchEventQueries(opensearch),
        OpenSearchAnalysisRepo(opensearch),
        answerer=answerer,
        webhook=webhook,
        config=config,
    )
    runtime = AnalysesRuntime(service, closers=closers)
    if start_worker and getattr(settings, "analysis_worker_enabled", True):
        runtime.worker = AnalysisWorker(
            service, float(getattr(settings, "analysis_interval_s", DEFAULT_INTERVAL_S))
        )
        runtime.worker.start()
    return runtime
