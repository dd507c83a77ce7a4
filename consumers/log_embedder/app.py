"""Builds the consumer from settings and runs it until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from prometheus_client import start_http_server

from ai_service.cache.qa_cache import OpenSearchQACacheStore, QACache
from consumers.log_embedder import metrics
from consumers.log_embedder.consumer import LogEmbedder, install_signal_handlers, tune_gc
from consumers.log_embedder.miner_state import load_miner
from consumers.log_embedder.sink import OpenSearchSink
from loglens.config import Settings, get_settings
from loglens.embedding import build_embedder
from loglens.embedding.cache import CachedEmbedder
from loglens.indices import install_index_templates_async
from loglens.logging_setup import configure_logging
from loglens.opensearch_client import async_client

log = structlog.get_logger("log_embedder")


async def _install_templates(client: Any, settings: Settings, worker: LogEmbedder) -> bool:
    """OpenSearch may still be starting: retry with backoff until done or asked to stop."""
    delay = 1.0
    while not worker.stopping.is_set():
        try:
            await install_index_templates_async(client, settings)
            return True
        except Exception as exc:
            log.warning("opensearch_not_ready", error=str(exc)[:200], retry_in_s=delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(worker.stopping.wait(), timeout=delay)
            delay = min(delay * 2, 30.0)
    return False


async def run(settings: Settings) -> None:
    embedder = CachedEmbedder(await asyncio.to_thread(build_embedder, settings))
    client = async_client(settings)
    sink = OpenSearchSink(client, concurrency=settings.consumer_bulk_concurrency)
    worker = LogEmbedder(settings, embedder, sink, state_client=client)
    install_signal_handlers(worker)
    try:
        if not await _install_templates(client, settings, worker):
            return
        metrics.OPENSEARCH_UP.set(1)
        worker.miner = await load_miner(client, settings.consumer_group)
        if settings.qa_cache_enabled:
            worker.qa_cache = QACache(OpenSearchQACacheStore(client), model=embedder.name)
        await worker.start()
        tune_gc()
        await worker.run()
    finally:
        await worker.stop()
        await client.close()


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, service="log_embedder", build=settings.build)
    if settings.consumer_metrics_port:
        start_http_server(settings.consumer_metrics_port, addr=settings.consumer_metrics_host)
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        pass
    return 0
