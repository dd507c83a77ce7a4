"""Request/response models of /ask (contract in ARCHITECTURE.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 2000


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    question: str = Field(
        ..., min_length=1, max_length=MAX_QUESTION_CHARS, description="The question, in plain words."
    )
    service: str | None = Field(
        None, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$", description="Only events of this service."
    )
    since: str | None = Field(
        None,
        max_length=64,
        description="Window start: ISO-8601 time or a relative span like '15m', '2h', '1d'.",
    )
    until: str | None = Field(None, max_length=64, description="Window end: ISO-8601 time (default now).")
    conversation_id: str | None = Field(None, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$")
    stream: bool = False
    k: int | None = Field(None, ge=1, le=50, description="Citations to return.")

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must contain some text")
        return value.strip()


class Citation(BaseModel):
    id: str
    index: str
    timestamp: str | None = Field(None, alias="@timestamp")
    service: str | None = None
    level: str | None = None
    template_id: str | None = None
    excerpt: str
    event: dict[str, Any] = Field(default_factory=dict, description="The full event, for the UI to expand.")

    model_config = ConfigDict(populate_by_name=True)


class Searched(BaseModel):
    indices: list[str]
    window: dict[str, str | None]
    filters: dict[str, Any]
    k: int


class CacheInfo(BaseModel):
    hit: bool = False
    similarity: float | None = None
    source_question: str | None = None


class AskResponse(BaseModel):
    answer: str
    citations: list[Citation]
    searched: Searched
    cache: CacheInfo = Field(default_factory=CacheInfo)
    model: str
    degraded: bool = False
    degraded_reason: str | None = Field(None, description="Why the LLM answer was replaced (degraded only).")
    flagged: bool = Field(False, description="The LLM cited something it was not given; those were dropped.")
    dropped_citations: list[str] = Field(default_factory=list)
    tokens: dict[str, int] | None = Field(
        None, description="LLM prompt/completion tokens, when one answered."
    )
    generated_at: datetime
