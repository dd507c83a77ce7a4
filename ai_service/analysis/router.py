"""HTTP side of /analyses, /templates and /traces: validation and error mapping only."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from ai_service.analysis.schemas import (
    Analysis,
    AnalysisList,
    CreateAnalysis,
    PatchAnalysis,
    Status,
    TemplateList,
    TraceView,
)
from ai_service.analysis.service import AnalysisNotFound, AnalysisService, InvalidInput
from ai_service.errors import ApiError
from ai_service.security import CallerDep
from loglens.errors import DependencyUnavailable

router = APIRouter(tags=["analyses"])
T = TypeVar("T")
_NAME = r"^[A-Za-z0-9_.\-]+$"
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "not found"},
    422: {"description": "bad input"},
    503: {"description": "down"},
}


def get_analysis_service(request: Request) -> AnalysisService:
    service: AnalysisService = request.app.state.analysis_service
    return service


AnalysisServiceDep = Annotated[AnalysisService, Depends(get_analysis_service)]
IdPath = Annotated[str, Path(min_length=1, max_length=128)]


async def _call(work: Awaitable[T]) -> T:
    try:
        return await work
    except AnalysisNotFound as exc:
        raise ApiError(404, "not_found", exc.message) from exc
    except InvalidInput as exc:
        raise ApiError(422, "invalid_request", exc.message) from exc
    except (OSConnectionError, ConnectionTimeout) as exc:
        raise DependencyUnavailable("opensearch", "OpenSearch is unreachable; try again shortly") from exc
    except TransportError as exc:
        if isinstance(exc.status_code, int) and exc.status_code in (429, 503):
            raise DependencyUnavailable("opensearch", "OpenSearch is overloaded; try again shortly") from exc
        raise


@router.get("/analyses", response_model=AnalysisList, responses=_ERRORS)
async def list_analyses(
    service: AnalysisServiceDep,
    caller: CallerDep,
    service_name: Annotated[str | None, Query(alias="service", max_length=100, pattern=_NAME)] = None,
    since: Annotated[str | None, Query(max_length=64, description="ISO-8601 or 15m / 2h / 1d")] = None,
    status: Status | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AnalysisList:
    return AnalysisList(analyses=await _call(service.list_analyses(service_name, since, status, limit)))


@router.get(
    "/analyses/{analysis_id}", response_model=Analysis, response_model_by_alias=True, responses=_ERRORS
)
async def get_analysis(analysis_id: IdPath, service: AnalysisServiceDep, caller: CallerDep) -> Analysis:
    return await _call(service.get(analysis_id))


@router.post(
    "/analyses",
    response_model=Analysis,
    status_code=201,
    responses={200: {"description": "an existing analysis with the same fingerprint"}, **_ERRORS},
)
async def create_analysis(
    body: CreateAnalysis, service: AnalysisServiceDep, caller: CallerDep
) -> JSONResponse:
    analysis, created = await _call(service.create(body))
    return JSONResponse(status_code=201 if created else 200, content=analysis.dump())


@router.patch(
    "/analyses/{analysis_id}", response_model=Analysis, response_model_by_alias=True, responses=_ERRORS
)
async def patch_analysis(
    analysis_id: IdPath, body: PatchAnalysis, service: AnalysisServiceDep, caller: CallerDep
) -> Analysis:
    return await _call(service.patch(analysis_id, body))


@router.get("/templates", response_model=TemplateList, responses=_ERRORS)
async def new_templates(
    service: AnalysisServiceDep,
    caller: CallerDep,
    new_since: Annotated[
        str, Query(max_length=64, description="`deploy` (last deploy or slot switch), ISO-8601 or 15m/2h/1d")
    ] = "deploy",
    service_name: Annotated[str | None, Query(alias="service", max_length=100, pattern=_NAME)] = None,
) -> TemplateList:
    return TemplateList(templates=await _call(service.templates(new_since, service_name)))


@router.get("/traces/{trace_id}", response_model=TraceView, response_model_by_alias=True, responses=_ERRORS)
async def trace(
    trace_id: Annotated[str, Path(min_length=1, max_length=64, pattern=_NAME)],
    service: AnalysisServiceDep,
    caller: CallerDep,
) -> TraceView:
    return await _call(service.trace(trace_id))
