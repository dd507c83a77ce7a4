"""Dependencies reached by the routers; tests override these instead of patching modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from ai_service.chat.service import AskService
from loglens.config import Settings


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_ask_service(request: Request) -> AskService:
    service: AskService = request.app.state.ask_service
    return service


def get_opensearch(request: Request) -> Any:
    return request.app.state.opensearch


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AskServiceDep = Annotated[AskService, Depends(get_ask_service)]
OpenSearchDep = Annotated[Any, Depends(get_opensearch)]
