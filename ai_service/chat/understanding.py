"""What a question is about: services, levels, exceptions, trace ids and a time window.

Deterministic rules, no model: "why are payments failing since 14:00?" →
services=[payment], levels=[ERROR, WARN], window=[today 14:00, now]. Times are UTC.
The result is echoed in the response (``searched``) so a person can see and re-run it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta

_TRACE_ID = re.compile(r"\b[0-9a-f]{32}\b", re.I)
_EXCEPTION = re.compile(r"\b(?:[a-z_$][\w$]*\.)*([A-Z][\w$]*(?:Exception|Error|Throwable))\b")
_LEVEL_WORDS = {
    "error": ("ERROR",),
    "errors": ("ERROR",),
    "exception": ("ERROR",),
    "exceptions": ("ERROR",),
    "fail": ("ERROR", "WARN"),
    "failing": ("ERROR", "WARN"),
    "failed": ("ERROR", "WARN"),
    "failure": ("ERROR", "WARN"),
    "failures": ("ERROR", "WARN"),
    "crash": ("ERROR",),
    "crashing": ("ERROR",),
    "broken": ("ERROR", "WARN"),
    "warning": ("WARN",),
    "warnings": ("WARN",),
    "warn": ("WARN",),
    "fatal": ("FATAL", "ERROR"),
    "debug": ("DEBUG",),
}
_NEGATION = re.compile(
    r"\b(not|no|never|without|except|isn't|aren't|wasn't|weren't|didn't|doesn't|don't)\b", re.I
)
_UNITS = {
    "second": 1, "seconds": 1, "sec": 1, "secs": 1, "s": 1,
    "minute": 60, "minutes": 60, "min": 60, "mins": 60, "m": 60,
    "hour": 3600, "hours": 3600, "hr": 3600, "hrs": 3600, "h": 3600,
    "day": 86400, "days": 86400, "d": 86400,
    "week": 604800, "weeks": 604800, "w": 604800,
}  # fmt: skip
_LAST_SPAN = re.compile(
    r"\b(?:in\s+the\s+|over\s+the\s+|during\s+the\s+|for\s+the\s+)?(?:last|past|previous)\s+"
    r"(?:(\d+|a|an|one|two|three|five|ten|fifteen|thirty)\s+)?(seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)\b",
    re.I,
)
_AGO = re.compile(r"\b(\d+)\s*(seconds?|minutes?|mins?|hours?|hrs?|days?|[smhd])\s+ago\b", re.I)
_SINCE_CLOCK = re.compile(
    r"\b(?:since|from|after)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b(?!\s*(?:ms|s\b|%))", re.I
)
_SINCE_DEPLOY = re.compile(
    r"\bsince\s+(?:the\s+)?(?:last\s+|latest\s+)?(deploy(?:ment)?|release|switch|rollout)\b", re.I
)
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "five": 5,
    "ten": 10,
    "fifteen": 15,
    "thirty": 30,
}


@dataclass(frozen=True, slots=True)
class QuestionScope:
    services: tuple[str, ...] = ()
    levels: tuple[str, ...] = ()
    exceptions: tuple[str, ...] = ()
    trace_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    time_phrase: str | None = None  # the words the window came from, for the echo
    since_deploy: bool = False
    negated: bool = False
    follow_up: bool = False  # inherited part of its scope from the conversation
    notes: tuple[str, ...] = field(default=())

    def merged_with(self, previous: QuestionScope) -> QuestionScope:
        """A follow-up ("and what about inventory?") keeps what it does not restate."""
        return replace(
            self,
            services=self.services or previous.services,
            levels=self.levels or previous.levels,
            exceptions=self.exceptions or previous.exceptions,
            trace_ids=self.trace_ids or previous.trace_ids,
            since=self.since if self.time_phrase else previous.since,
            until=self.until if self.time_phrase else previous.until,
            time_phrase=self.time_phrase or previous.time_phrase,
            since_deploy=self.since_deploy or (not self.time_phrase and previous.since_deploy),
        )


def _service_aliases(known: Iterable[str]) -> dict[str, str]:
    """'payment' also answers to 'payments', 'payment-service', 'payment service'."""
    aliases: dict[str, str] = {}
    for name in known:
        base = name.lower()
        for alias in {base, base + "s", base + "-service", base + " service", base.replace("-", " ")}:
            aliases[alias] = name
        if base.endswith("y"):
            aliases[base[:-1] + "ies"] = name
    return aliases


def _find_services(question: str, known: Iterable[str]) -> tuple[str, ...]:
    text = question.lower()
    found: list[str] = []
    for alias, name in sorted(_service_aliases(known).items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"(?<![\w-]){re.escape(alias)}(?![\w-])", text) and name not in found:
            found.append(name)
    return tuple(found)


def _span(count: str | None, unit: str) -> timedelta:
    n = 1 if count is None else int(count) if count.isdigit() else _WORD_NUMBERS.get(count.lower(), 1)
    key = unit.lower()
    seconds = _UNITS.get(key) or _UNITS.get(key.rstrip("s"), 3600)
    return timedelta(seconds=n * seconds)


def _window(question: str, now: datetime) -> tuple[datetime | None, datetime | None, str | None, bool]:
    text = question.lower()
    if m := _SINCE_DEPLOY.search(text):
        return None, now, m.group(0), True
    if m := _LAST_SPAN.search(text):
        return now - _span(m.group(1), m.group(2)), now, m.group(0), False
    if m := _AGO.search(text):
        return now - _span(m.group(1), m.group(2)), now, m.group(0), False
    if m := _SINCE_CLOCK.search(text):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        meridiem = (m.group(3) or "").lower()
        if meridiem == "pm" and hour < 12:
            hour += 12
        if meridiem == "am" and hour == 12:
            hour = 0
        if hour < 24 and minute < 60 and (m.group(2) or meridiem):
            start = datetime.combine(now.date(), time(hour, minute), tzinfo=UTC)
            if start > now:  # "since 23:00" asked at 01:00 means yesterday 23:00
                start -= timedelta(days=1)
            return start, now, m.group(0), False
    if re.search(r"\byesterday\b", text):
        midnight = datetime.combine(now.date(), time(0, 0), tzinfo=UTC)
        return midnight - timedelta(days=1), midnight, "yesterday", False
    if re.search(r"\btoday\b|\bthis morning\b", text):
        return datetime.combine(now.date(), time(0, 0), tzinfo=UTC), now, "today", False
    if re.search(r"\b(?:right )?now\b|\bcurrently\b|\bat the moment\b", text):
        return now - timedelta(minutes=15), now, "now", False
    return None, None, None, False


def understand(question: str, known_services: Iterable[str], now: datetime) -> QuestionScope:
    words = re.findall(r"[a-z']+", question.lower())
    levels: list[str] = []
    for word in words:
        for level in _LEVEL_WORDS.get(word, ()):
            if level not in levels:
                levels.append(level)
    exceptions = tuple(dict.fromkeys(m.group(0) for m in _EXCEPTION.finditer(question)))
    trace_ids = tuple(dict.fromkeys(t.lower() for t in _TRACE_ID.findall(question)))
    since, until, phrase, since_deploy = _window(question, now)
    return QuestionScope(
        services=_find_services(question, known_services),
        levels=tuple(levels),
        exceptions=exceptions,
        trace_ids=trace_ids,
        since=since,
        until=until,
        time_phrase=phrase,
        since_deploy=since_deploy,
        negated=bool(_NEGATION.search(question)),
    )
