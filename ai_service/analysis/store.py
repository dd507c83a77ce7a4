"""OpenSearch adapters of the analysis ports: aggregations over ``log-events`` and the
``log-analyses`` documents. The service and the worker see only the Protocols below.

Every query over events is an aggregation or a small, bounded search: the detector keeps up
with ingestion because it never scans events.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from opensearchpy.exceptions import ConflictError, NotFoundError

from ai_service.analysis.builder import TemplateSummary
from ai_service.analysis.detection import (
    ALERT_LEVELS,
    ERROR_LEVELS,
    Deployment,
    PairStat,
    Series,
    ServiceSeries,
)
from loglens.indices import ANALYSES_INDEX, EVENTS_ALIAS, STATE_INDEX

_MISSING = "-"
_IGNORE = {"ignore_unavailable": "true", "allow_no_indices": "true"}
_EXCLUDE = ["vector", "raw", "stack_trace", "params"]
Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventFilter:
    service: str | None = None
    template_id: str | None = None
    trace_ids: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredAnalysis:
    doc: Doc
    seq_no: int
    primary_term: int


class EventQueries(Protocol):
    """Read side over log-events (aggregations and bounded searches)."""

    async def active_templates(self, since: datetime, until: datetime, limit: int) -> list[str]: ...

    async def template_pairs(
        self, since: datetime, until: datetime, template_ids: Sequence[str], service: str | None = None
    ) -> list[PairStat]: ...

    async def deployments(
        self, since: datetime, until: datetime, services: Sequence[str] = ()
    ) -> list[Deployment]: ...

    async def template_series(self, since: datetime, until: datetime) -> list[Series]: ...

    async def service_series(self, since: datetime, until: datetime) -> list[ServiceSeries]: ...

    async def summary(
        self, service: str, template_id: str, since: datetime | None, until: datetime
    ) -> TemplateSummary | None: ...

    async def events(self, flt: EventFilter, size: int, newest_first: bool = True) -> list[Doc]: ...

    async def error_ratios(
        self, services: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, tuple[float, float]]: ...

    async def top_services(self, template_id: str, since: datetime | None, until: datetime) -> list[str]: ...

    async def top_template(self, service: str, since: datetime, until: datetime) -> str | None: ...


class AnalysisRepo(Protocol):
    """Write side: the log-analyses documents (id = fingerprint)."""

    async def get(self, analysis_id: str) -> StoredAnalysis | None: ...

    async def create(self, analysis_id: str, doc: Doc) -> bool: ...

    async def replace(self, analysis_id: str, doc: Doc, seq_no: int, primary_term: int) -> bool: ...

    async def search(
        self, service: str | None, since: datetime | None, status: str | None, limit: int
    ) -> list[Doc]: ...

    async def pending_notifications(
        self, kinds: Sequence[str], created_since: datetime, limit: int
    ) -> list[str]: ...

    async def save_state(self, name: str, state: dict[str, Any]) -> None: ...


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from_ms(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(float(value) / 1000.0, tz=UTC)


def _range(since: datetime | None, until: datetime | None) -> dict[str, Any]:
    bounds: dict[str, str] = {}
    if since is not None:
        bounds["gte"] = _iso(since)
    if until is not None:
        bounds["lte"] = _iso(until)
    return {"range": {"@timestamp": bounds}}


def _top(agg: dict[str, Any] | None) -> str | None:
    buckets = (agg or {}).get("buckets") or []
    return str(buckets[0]["key"]) if buckets else None


def _keys(agg: dict[str, Any] | None) -> list[str]:
    return [str(b["key"]) for b in (agg or {}).get("buckets") or []]


def _none(value: Any) -> str | None:
    return None if value in (None, _MISSING, "") else str(value)


def _event(hit: dict[str, Any]) -> Doc:
    return {"id": hit["_id"], **hit.get("_source", {})}


class OpenSearchEventQueries:
    """:class:`EventQueries` over the ``log-events`` alias; ``scope`` adds filter clauses to every
    query (e.g. ``{"term": {"env": "prod"}}``, or a test's own ``kafka.topic``)."""

    def __init__(self, client: Any, scope: Sequence[dict[str, Any]] = (), index: str = EVENTS_ALIAS) -> None:
        self.client = client
        self.scope = list(scope)
        self.index = index

    async def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = await self.client.search(index=self.index, body=body, params=_IGNORE)
        return response

    def _filters(self, *clauses: dict[str, Any]) -> dict[str, Any]:
        return {"bool": {"filter": [*clauses, *self.scope]}}

    async def active_templates(self, since: datetime, until: datetime, limit: int) -> list[str]:
        body = {
            "size": 0,
            "query": self._filters(_range(since, until), {"terms": {"level": sorted(ALERT_LEVELS)}}),
            "aggs": {"t": {"terms": {"field": "template_id", "size": limit}}},
        }
        return _keys((await self._search(body)).get("aggregations", {}).get("t"))

    async def template_pairs(
        self, since: datetime, until: datetime, template_ids: Sequence[str], service: str | None = None
    ) -> list[PairStat]:
        if not template_ids:
            return []
        clauses = [_range(since, until), {"terms": {"template_id": list(template_ids)}}]
        if service:
            clauses.append({"term": {"service": service}})
        body = {
            "size": 0,
            "query": self._filters(*clauses),
            "aggs": {
                "p": {
                    "multi_terms": {
                        "terms": [
                            {"field": "service"},
                            {"field": "template_id"},
                            {"field": "version", "missing": _MISSING},
                            {"field": "slot", "missing": _MISSING},
                        ],
                        "size": 5000,
                    },
                    "aggs": {
                        "first": {"min": {"field": "@timestamp"}},
                        "last": {"max": {"field": "@timestamp"}},
                        "lvl": {"terms": {"field": "level", "size": 1}},
                        "tpl": {"terms": {"field": "template.keyword", "size": 1}},
                    },
                }
            },
        }
        out: list[PairStat] = []
        for b in (await self._search(body)).get("aggregations", {}).get("p", {}).get("buckets", []):
            svc, tid, version, slot = b["key"]
            first, last = _from_ms(b["first"].get("value")), _from_ms(b["last"].get("value"))
            if first is None or last is None:
                continue
            out.append(
                PairStat(
                    str(svc),
                    str(tid),
                    _none(version),
                    _none(slot),
                    int(b["doc_count"]),
                    first,
                    last,
                    level=_top(b.get("lvl")) or "INFO",
                    template=_top(b.get("tpl")),
                )
            )
        return out

    async def deployments(
        self, since: datetime, until: datetime, services: Sequence[str] = ()
    ) -> list[Deployment]:
        clauses: list[dict[str, Any]] = [_range(since, until), {"exists": {"field": "version"}}]
        if services:
            clauses.append({"terms": {"service": list(services)}})
        body = {
            "size": 0,
            "query": self._filters(*clauses),
            "aggs": {
                "d": {
                    "multi_terms": {
                        "terms": [
                            {"field": "service"},
                            {"field": "version"},
                            {"field": "slot", "missing": _MISSING},
                        ],
                        "size": 500,
                    },
                    "aggs": {
                        "first": {"min": {"field": "@timestamp"}},
                        "last": {"max": {"field": "@timestamp"}},
                    },
                }
            },
        }
        out: list[Deployment] = []
        for b in (await self._search(body)).get("aggregations", {}).get("d", {}).get("buckets", []):
            svc, version, slot = b["key"]
            first, last = _from_ms(b["first"].get("value")), _from_ms(b["last"].get("value"))
            if first and last:
                out.append(
                    Deployment(str(svc), _none(version), _none(slot), first, last, int(b["doc_count"]))
                )
        return out

    def _histogram(self, since: datetime, until: datetime) -> dict[str, Any]:
        return {
            "date_histogram": {
                "field": "@timestamp",
                "fixed_interval": "60s",
                "min_doc_count": 0,
                "extended_bounds": {"min": _ms(since), "max": _ms(until)},
            }
        }

    async def template_series(self, since: datetime, until: datetime) -> list[Series]:
        body = {
            "size": 0,
            "query": self._filters(_range(since, until), {"terms": {"level": sorted(ALERT_LEVELS)}}),
            "aggs": {
                "s": {
                    "terms": {"field": "service", "size": 50},
                    "aggs": {
                        "t": {
                            "terms": {"field": "template_id", "size": 100},
                            "aggs": {
                                "lvl": {"terms": {"field": "level", "size": 1}},
                                "tpl": {"terms": {"field": "template.keyword", "size": 1}},
                                "h": self._histogram(since, until),
                            },
                        }
                    },
                }
            },
        }
        out: list[Series] = []
        for sb in (await self._search(body)).get("aggregations", {}).get("s", {}).get("buckets", []):
            for tb in sb["t"]["buckets"]:
                counts = [int(h["doc_count"]) for h in tb["h"]["buckets"]]
                out.append(
                    Series(
                        str(sb["key"]),
                        str(tb["key"]),
                        counts,
                        _top(tb.get("lvl")) or "ERROR",
                        _top(tb.get("tpl")),
                    )
                )
        return out

    async def service_series(self, since: datetime, until: datetime) -> list[ServiceSeries]:
        body = {
            "size": 0,
            "query": self._filters(_range(since, until)),
            "aggs": {
                "s": {
                    "terms": {"field": "service", "size": 50},
                    "aggs": {
                        "h": {
                            **self._histogram(since, until),
                            "aggs": {"e": {"filter": {"terms": {"level": sorted(ERROR_LEVELS)}}}},
                        }
                    },
                }
            },
        }
        out: list[ServiceSeries] = []
        for sb in (await self._search(body)).get("aggregations", {}).get("s", {}).get("buckets", []):
            hs = sb["h"]["buckets"]
            out.append(
                ServiceSeries(
                    str(sb["key"]), [int(h["e"]["doc_count"]) for h in hs], [int(h["doc_count"]) for h in hs]
                )
            )
        return out

    async def summary(
        self, service: str, template_id: str, since: datetime | None, until: datetime
    ) -> TemplateSummary | None:
        body = {
            "size": 0,
            "query": self._filters(_range(since, until), {"term": {"template_id": template_id}}),
            "aggs": {
                "services": {"terms": {"field": "service", "size": 20}},
                "own": {
                    "filter": {"term": {"service": service}},
                    "aggs": {
                        "first": {"min": {"field": "@timestamp"}},
                        "last": {"max": {"field": "@timestamp"}},
                        "hosts": {"terms": {"field": "host", "size": 20}},
                        "versions": {"terms": {"field": "version", "size": 10}},
                        "slots": {"terms": {"field": "slot", "size": 5}},
                        "lvl": {"terms": {"field": "level", "size": 1}},
                        "tpl": {"terms": {"field": "template.keyword", "size": 1}},
                        "pairs": {
                            "multi_terms": {
                                "terms": [
                                    {"field": "version", "missing": _MISSING},
                                    {"field": "slot", "missing": _MISSING},
                                ],
                                "size": 20,
                            }
                        },
                    },
                },
            },
        }
        aggs = (await self._search(body)).get("aggregations", {})
        own = aggs.get("own") or {}
        if not own.get("doc_count"):
            return None
        return TemplateSummary(
            service=service,
            template_id=template_id,
            template=_top(own.get("tpl")),
            level=_top(own.get("lvl")),
            count=int(own["doc_count"]),
            first_seen=_from_ms(own["first"].get("value")),
            last_seen=_from_ms(own["last"].get("value")),
            hosts=_keys(own.get("hosts")),
            versions=_keys(own.get("versions")),
            slots=_keys(own.get("slots")),
            services=_keys(aggs.get("services")),
            by_pair={
                (_none(b["key"][0]), _none(b["key"][1])): int(b["doc_count"])
                for b in own.get("pairs", {}).get("buckets", [])
            },
        )

    async def events(self, flt: EventFilter, size: int, newest_first: bool = True) -> list[Doc]:
        clauses: list[dict[str, Any]] = []
        if flt.since or flt.until:
            clauses.append(_range(flt.since, flt.until))
        if flt.service:
            clauses.append({"term": {"service": flt.service}})
        if flt.template_id:
            clauses.append({"term": {"template_id": flt.template_id}})
        if flt.trace_ids:
            clauses.append({"terms": {"trace_id": list(flt.trace_ids)}})
        if flt.levels:
            clauses.append({"terms": {"level": list(flt.levels)}})
        order = "desc" if newest_first else "asc"
        body = {
            "size": size,
            "query": self._filters(*clauses),
            "sort": [{"@timestamp": order}, {"kafka.offset": {"order": order, "unmapped_type": "long"}}],
            "_source": {"excludes": _EXCLUDE},
        }
        hits = (await self._search(body)).get("hits", {}).get("hits", [])
        return [_event(h) for h in hits]

    async def error_ratios(
        self, services: Sequence[str], since: datetime, until: datetime
    ) -> dict[str, tuple[float, float]]:
        if not services:
            return {}
        before = since - (until - since)
        body = {
            "size": 0,
            "query": self._filters(_range(before, until), {"terms": {"service": list(services)}}),
            "aggs": {
                "s": {
                    "terms": {"field": "service", "size": len(services)},
                    "aggs": {
                        "r": {
                            "date_range": {
                                "field": "@timestamp",
                                "ranges": [
                                    {"key": "before", "from": _iso(before), "to": _iso(since)},
                                    {"key": "recent", "from": _iso(since)},
                                ],
                            },
                            "aggs": {"e": {"filter": {"terms": {"level": sorted(ERROR_LEVELS)}}}},
                        }
                    },
                }
            },
        }
        out: dict[str, tuple[float, float]] = {}
        for sb in (await self._search(body)).get("aggregations", {}).get("s", {}).get("buckets", []):
            ratio = {
                b["key"]: (b["e"]["doc_count"] / b["doc_count"] if b["doc_count"] else 0.0)
                for b in sb["r"]["buckets"]
            }
            out[str(sb["key"])] = (float(ratio.get("recent", 0.0)), float(ratio.get("before", 0.0)))
        return out

    async def top_services(self, template_id: str, since: datetime | None, until: datetime) -> list[str]:
        body = {
            "size": 0,
            "query": self._filters(_range(since, until), {"term": {"template_id": template_id}}),
            "aggs": {"s": {"terms": {"field": "service", "size": 10}}},
        }
        return _keys((await self._search(body)).get("aggregations", {}).get("s"))

    async def top_template(self, service: str, since: datetime, until: datetime) -> str | None:
        for levels in (sorted(ERROR_LEVELS), ["WARN"]):
            body = {
                "size": 0,
                "query": self._filters(
                    _range(since, until), {"term": {"service": service}}, {"terms": {"level": levels}}
                ),
                "aggs": {"t": {"terms": {"field": "template_id", "size": 1}}},
            }
            found = _top((await self._search(body)).get("aggregations", {}).get("t"))
            if found:
                return found
        return None


class OpenSearchAnalysisRepo:
    """:class:`AnalysisRepo` over the ``log-analyses`` index (document id = fingerprint)."""

    def __init__(self, client: Any, index: str = ANALYSES_INDEX, state_index: str = STATE_INDEX) -> None:
        self.client = client
        self.index = index
        self.state_index = state_index

    async def get(self, analysis_id: str) -> StoredAnalysis | None:
        try:
            resp = await self.client.get(index=self.index, id=analysis_id)
        except NotFoundError:
            return None
        return StoredAnalysis(resp["_source"], int(resp["_seq_no"]), int(resp["_primary_term"]))

    async def create(self, analysis_id: str, doc: Doc) -> bool:
        try:
            await self.client.index(
                index=self.index, id=analysis_id, body=doc, op_type="create", refresh="true"
            )
        except ConflictError:
            return False
        return True

    async def replace(self, analysis_id: str, doc: Doc, seq_no: int, primary_term: int) -> bool:
        try:
            await self.client.index(
                index=self.index,
                id=analysis_id,
                body=doc,
                if_seq_no=seq_no,
                if_primary_term=primary_term,
                refresh="true",
            )
        except ConflictError:
            return False
        return True

    async def search(
        self, service: str | None, since: datetime | None, status: str | None, limit: int
    ) -> list[Doc]:
        clauses: list[dict[str, Any]] = []
        if service:
            clauses.append(
                {"bool": {"should": [{"term": {"service": service}}, {"term": {"services": service}}]}}
            )
        if since:
            clauses.append({"range": {"updated_at": {"gte": _iso(since)}}})
        if status:
            clauses.append({"term": {"status": status}})
        body = {
            "size": limit,
            "query": {"bool": {"filter": clauses}},
            "sort": [{"updated_at": "desc"}],
        }
        try:
            resp = await self.client.search(index=self.index, body=body, params=_IGNORE)
        except NotFoundError:
            return []
        return [h["_source"] for h in resp.get("hits", {}).get("hits", [])]

    async def pending_notifications(
        self, kinds: Sequence[str], created_since: datetime, limit: int
    ) -> list[str]:
        body = {
            "size": limit,
            "query": {
                "bool": {
                    "filter": [
                        {"terms": {"kind": list(kinds)}},
                        {"range": {"created_at": {"gte": _iso(created_since)}}},
                    ],
                    "must_not": [{"exists": {"field": "notified_at"}}],
                }
            },
            "sort": [{"created_at": "asc"}],
            "_source": False,
        }
        resp = await self.client.search(index=self.index, body=body, params=_IGNORE)
        return [str(h["_id"]) for h in resp.get("hits", {}).get("hits", [])]

    async def save_state(self, name: str, state: dict[str, Any]) -> None:
        await self.client.index(
            index=self.state_index, id=name, body={"kind": name, "state": json.dumps(state, default=str)}
        )
