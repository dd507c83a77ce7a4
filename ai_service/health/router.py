"""/healthz, /readyz, /version, /metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import loglens
from ai_service.deps import OpenSearchDep, SettingsDep
from ai_service.errors import ApiError
from loglens.indices import EVENTS_ALIAS, TEMPLATES_INDEX

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/version")
async def version(settings: SettingsDep) -> dict[str, str]:
    return {"version": loglens.__version__, "build": settings.build, "slot": settings.slot}


@router.get("/readyz")
async def readyz(request: Request, settings: SettingsDep, client: OpenSearchDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        health = await client.cluster.health()
        checks["opensearch"] = {
            "ok": health.get("status") in ("green", "yellow"),
            "status": health.get("status"),
        }
    except Exception as exc:
        checks["opensearch"] = {"ok": False, "error": str(exc)[:200]}
    if checks["opensearch"]["ok"]:
        try:
            has_template = await client.indices.exists_index_template(name="loglens-log-events")
            has_catalog = await client.indices.exists(index=TEMPLATES_INDEX)
            has_events = await client.indices.exists_alias(name=EVENTS_ALIAS)
            checks["indices"] = {
                "ok": bool(has_template and has_catalog),
                "log_events_alias": bool(has_events),
            }
        except Exception as exc:
            checks["indices"] = {"ok": False, "error": str(exc)[:200]}
    else:
        checks["indices"] = {"ok": False, "error": "opensearch unreachable"}
    embedder = getattr(request.app.state, "embedder", None)
    checks["embedder"] = {
        "ok": embedder is not None,
        "name": getattr(embedder, "name", None),
        "dim": getattr(embedder, "dim", None),
    }
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse(
        status_code=200 if ready else 503,
        content={"ready": ready, "slot": settings.slot, "build": settings.build, "checks": checks},
        headers=None if ready else {"Retry-After": "5"},
    )


@router.get("/metrics")
async def metrics_endpoint(settings: SettingsDep) -> Response:
    if settings.metrics_port:  # served on the internal port only
        raise ApiError(404, "not_found", f"metrics are served on the internal port {settings.metrics_port}")
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
