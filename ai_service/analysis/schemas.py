"""Request/response models of /analyses, /templates and /traces (the API contract of issue 6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Kind = Literal["new_template", "spike", "error_ratio", "on_demand"]
Status = Literal["open", "acknowledged", "resolved"]
KINDS: tuple[str, ...] = ("new_template", "spike", "error_ratio", "on_demand")
STATUSES: tuple[str, ...] = ("open", "acknowledged", "resolved")

_NAME = r"^[A-Za-z0-9_.\-]+$"


class Window(BaseModel):
    since: str | None
    until: str | None


class What(BaseModel):
    template_id: str | None
    template: str | None
    level: str | None
    count: int
    rate_per_min: float
    first_seen: str | None
    last_seen: str | None
    window: Window


class Where(BaseModel):
    services: list[str] = Field(default_factory=list)
    hosts: list[str] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list)
    slots: list[str] = Field(default_factory=list)


class TimelineEntry(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    timestamp: str | None = Field(None, alias="@timestamp")
    service: str | None = None
    level: str | None = None
    message: str = ""


class Cause(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_: str = Field(alias="class")
    message: str = ""


class Related(BaseModel):
    trace_ids: list[str] = Field(default_factory=list)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    causes: list[Cause] = Field(default_factory=list)
    top_frames: list[str] = Field(default_factory=list)


class SuspectedOrigin(BaseModel):
    service: str
    template_id: str | None = None
    rank: int
    reasons: list[str] = Field(default_factory=list)


class Reuse(BaseModel):
    seen: int
    since: str | None
    first_in: str | None


class Note(BaseModel):
    at: str
    text: str


class Analysis(BaseModel):
    """One root-cause analysis; ``id`` is its fingerprint, so repeats find it again."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    fingerprint: str
    kind: Kind
    status: Status
    created_at: str
    updated_at: str
    title: str
    what: What
    where: Where
    evidence: list[str] = Field(default_factory=list)
    related: Related = Field(default_factory=Related)
    suspected_origin: list[SuspectedOrigin] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    narrative: str | None = None
    narrative_model: str | None = None
    reuse: Reuse
    notes: list[Note] = Field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class AnalysisSummary(BaseModel):
    id: str
    kind: Kind
    status: Status
    title: str
    service: str | None
    count: int
    first_seen: str | None
    last_seen: str | None
    updated_at: str


class AnalysisList(BaseModel):
    analyses: list[AnalysisSummary]


class CreateAnalysis(BaseModel):
    """Exactly one target: a template, a trace, or a service over a window."""

    model_config = ConfigDict(extra="forbid")

    template_id: str | None = Field(None, min_length=1, max_length=64, pattern=_NAME)
    trace_id: str | None = Field(None, min_length=1, max_length=64, pattern=_NAME)
    service: str | None = Field(None, min_length=1, max_length=100, pattern=_NAME)
    since: str | None = Field(None, max_length=64, description="ISO-8601 time or a span like 15m, 2h, 1d.")
    until: str | None = Field(None, max_length=64, description="ISO-8601 time (default now).")

    @model_validator(mode="after")
    def _one_target(self) -> CreateAnalysis:
        given = [n for n in ("template_id", "trace_id", "service") if getattr(self, n)]
        if not given:
            raise ValueError(
                'give one of {"template_id": ...}, {"trace_id": ...} or {"service": ..., "since": ...}'
            )
        if len(given) > 1:
            raise ValueError(f"give only one of template_id, trace_id, service (got {', '.join(given)})")
        if self.service and not self.since:
            raise ValueError('"since" is required with "service" (ISO-8601 time or a span like 15m, 2h, 1d)')
        if self.trace_id and (self.since or self.until):
            raise ValueError('"since"/"until" do not apply to a trace_id: the trace sets the window')
        return self


class PatchAnalysis(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    note: str | None = Field(None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> PatchAnalysis:
        if self.status is None and self.note is None:
            raise ValueError('give "status" (open, acknowledged, resolved) and/or "note"')
        return self


class TemplateView(BaseModel):
    template_id: str
    template: str | None
    services: list[str]
    levels: list[str]
    first_seen: str | None
    last_seen: str | None
    count: int
    new_since: str
    reason: str


class TemplateList(BaseModel):
    templates: list[TemplateView]


class TraceEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    timestamp: str | None = Field(None, alias="@timestamp")
    service: str | None = None
    level: str | None = None
    message: str = ""
    span_id: str | None = None
    exception_class: str | None = None
    template_id: str | None = None


class TraceView(BaseModel):
    trace_id: str
    services: list[str]
    first: str | None
    last: str | None
    events: list[TraceEvent]
