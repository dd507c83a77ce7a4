"""Turn the time inputs people type into an absolute UTC window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from loglens.events import parse_timestamp

_UNITS = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_RELATIVE = re.compile(r"^(?:last\s+|past\s+)?(\d+)?\s*([a-z]+)(?:\s+ago)?$")
ACCEPTED_FORMS = "an ISO-8601 time (2026-11-25T14:00:00Z) or a span like '15m', '2h', '1d', 'last 30 minutes'"


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime | None
    until: datetime

    def as_dict(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat().replace("+00:00", "Z") if self.since else None,
            "until": self.until.isoformat().replace("+00:00", "Z"),
        }


def parse_relative(text: str) -> timedelta | None:
    match = _RELATIVE.match(text.strip().lower())
    if not match:
        return None
    count = int(match.group(1) or 1)
    unit = _UNITS.get(match.group(2))
    if unit is None:
        return None
    return timedelta(seconds=count * unit)


def parse_point(text: str, now: datetime) -> datetime:
    span = parse_relative(text)
    if span is not None:
        return now - span
    try:
        return parse_timestamp(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot read time {text!r}: use {ACCEPTED_FORMS}") from exc


def resolve_window(
    since: str | None,
    until: str | None,
    now: datetime | None = None,
    default_span: timedelta | None = timedelta(hours=24),
) -> Window:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    end = parse_point(until, now) if until else now
    start = parse_point(since, now) if since else (end - default_span if default_span else None)
    if start is not None and start >= end:
        raise ValueError(f"window start {start.isoformat()} is not before its end {end.isoformat()}")
    return Window(start, end)
