"""Builds the FastAPI app from routers.

Run with ``loglens serve`` or ``uvicorn ai_service.main:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import start_http_server

import loglens
from ai_service import metrics
from ai_service.analysis.router import router as analysis_router
from ai_service.analysis.worker import build_analyses
from ai_service.cache.qa_cache import OpenSearchQACacheStore, QACache
from ai_service.chat.router import router as chat_router
from ai_service.chat.service import AskService
from ai_service.errors import install_error_handlers
from ai_service.health.router import router as health_router
from ai_service.llm import build_answerer
from ai_service.search.opensearch_search import OpenSearchSearch
from ai_service.security import BodySizeLimit, Guard, RateLimiter, load_api_keys
from loglens.config import Settings, get_settings
from loglens.embedding import build_embedder
from loglens.embedding.base import Embedder
from loglens.indices import install_index_templates_async
from loglens.opensearch_client import async_client

STATIC_DIR = Path(__file__).parent / "static"
log = structlog.get_logger("ai_service")


async def _install_templates_until_done(app: FastAPI, settings: Settings) -> None:
    """OpenSearch may be down at start; keep trying in the background, /readyz tells meanwhile."""
    delay = 1.0
    while True:
        try:
            await install_index_templates_async(app.state.opensearch, settings)
            log.info("index_templates_installed")
            return
        except Exception as exc:
            log.warning("index_templates_pending", error=str(exc)[:200], retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def create_app(settings: Settings | None = None, embedder: Embedder | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.embedder = embedder or await asyncio.to_thread(build_embedder, settings)
        app.state.opensearch = async_client(settings)
        cache = (
            QACache(
                OpenSearchQACacheStore(app.state.opensearch),
                threshold=settings.qa_cache_threshold,
                ttl_s=settings.qa_cache_ttl_s,
                model=app.state.embedder.name,
            )
            if settings.qa_cache_enabled
            else None
        )
        app.state.ask_service = AskService(
            OpenSearchSearch(app.state.opensearch),
            app.state.embedder,
            default_k=settings.ask_default_k,
            cache=cache,
            answerer=build_answerer(settings),
        )
        # issue 6 (analyses): service for /analyses, /templates, /traces + the detection worker
        analyses = build_analyses(app.state.opensearch, settings)
        app.state.analysis_service = analyses.service
        installer = asyncio.create_task(_install_templates_until_done(app, settings))
        if settings.metrics_port:
            start_http_server(settings.metrics_port, addr=settings.api_host)
        log.info("ai_service_started", port=settings.api_port, embedder=app.state.embedder.name)
        try:
            yield
        finally:
            installer.cancel()
            with suppress(asyncio.CancelledError):
                await installer
            await analyses.aclose()  # issue 6: stop the detection worker
            await app.state.opensearch.close()

    app = FastAPI(title="LogLens AI service", version=loglens.__version__, lifespan=lifespan)
    app.state.settings = settings
    keys = load_api_keys(settings)
    app.state.guard = Guard(keys, RateLimiter(settings.rate_limit_per_min, settings.rate_limit_burst))
    if not keys:
        log.warning("api_keys_not_configured", hint="set LOGLENS_API_KEYS to require X-API-Key on /ask")
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Content-Type", "X-API-Key", "X-Request-ID"],
        )
    app.include_router(health_router)
    app.include_router(chat_router)
    app.include_router(analysis_router)  # issue 6: /analyses, /templates, /traces

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        route = request.url.path if request.url.path in _KNOWN_ROUTES else "other"
        start = time.perf_counter()
        response = await call_next(request)
        metrics.LATENCY.labels(route=route).observe(time.perf_counter() - start)
        metrics.REQUESTS.labels(route=route, status=str(response.status_code)).inc()
        request_id = request.headers.get("x-request-id")
        if request_id:
            response.headers["X-Request-ID"] = request_id[:128]
        return response

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


_KNOWN_ROUTES = {"/", "/ask", "/healthz", "/readyz", "/metrics", "/version"}


def main() -> int:
    import uvicorn

    from loglens.logging_setup import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, service="ai_service", slot=settings.slot, build=settings.build)
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
        timeout_graceful_shutdown=10,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
