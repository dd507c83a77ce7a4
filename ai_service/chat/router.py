"""HTTP side of /ask: validation, error mapping and server-sent events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from ai_service import metrics
from ai_service.chat.schemas import AskRequest, AskResponse
from ai_service.deps import AskServiceDep
from ai_service.errors import ApiError
from ai_service.security import CallerDep
from loglens.errors import DependencyUnavailable

router = APIRouter(tags=["chat"])


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n"


async def _answer(request: AskRequest, service: AskServiceDep) -> AskResponse:
    try:
        response = await service.ask(request)
    except ValueError as exc:  # unreadable time window and similar input problems
        raise ApiError(422, "invalid_request", str(exc)) from exc
    except (OSConnectionError, ConnectionTimeout) as exc:
        raise DependencyUnavailable("opensearch", "OpenSearch is unreachable; try again shortly") from exc
    except TransportError as exc:
        if isinstance(exc.status_code, int) and exc.status_code in (429, 503):
            raise DependencyUnavailable("opensearch", "OpenSearch is overloaded; try again shortly") from exc
        raise
    metrics.ASK_RESULTS.labels(model=response.model, outcome="found" if response.citations else "empty").inc()
    return response


@router.post(
    "/ask",
    response_model=AskResponse,
    response_model_by_alias=True,
    responses={422: {"description": "bad input"}, 503: {"description": "dependency down"}},
)
async def ask(
    request: AskRequest, service: AskServiceDep, caller: CallerDep
) -> AskResponse | StreamingResponse:
    response = await _answer(request, service)
    if not request.stream:
        return response

    async def events() -> AsyncIterator[str]:
        body = response.model_dump(mode="json", by_alias=True)
        yield _sse("meta", {"searched": body["searched"], "cache": body["cache"], "model": body["model"]})
        for section in response.answer.split("\n"):
            yield _sse("answer", {"text": section + "\n"})
        yield _sse("citations", body["citations"])
        yield _sse("done", {"degraded": response.degraded})

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
