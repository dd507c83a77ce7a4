"""Builds the consumer from settings and runs it until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

import structlog
from prometheus_client import start_http_server

from consumers.log_embedder.consumer import LogEmbedder, install_signal_handlers
from consumers.log_embedder.sink import OpenSearchSink
from loglens.config import Settings, get_settings
from loglens.embedding import build_embedder
from loglens.embedding.cache import CachedEmbedder
from loglens.indices import install_index_templates_async
from loglens.logging_setup import configure_logging
from loglens.opensearch_client import async_client

log = structlog.get_logger("log_embedder")


async def run(settings: Settings) -> None:
    embedder = CachedEmbedder(await asyncio.to_thread(build_embedder, settings))
    client = async_client(settings)
    worker = LogEmbedder(settings, embedder, OpenSearchSink(client))
    try:
        await install_index_templates_async(client, settings)
        await worker.start()
        install_signal_handlers(worker)
        await worker.run()
    finally:
        await worker.stop()
        await client.close()


def main() -> int:
    settings = get_settings()
    configure_logging(settings.log_level, service="log_embedder", build=settings.build)
    if settings.consumer_metrics_port:
        start_http_server(settings.consumer_metrics_port, addr="127.0.0.1")
    try:
        asyncio.run(run(settings))
    except KeyboardInterrupt:
        pass
    return 0
