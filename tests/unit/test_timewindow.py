from datetime import UTC, datetime, timedelta

import pytest

from loglens.timewindow import parse_relative, resolve_window

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("15m", timedelta(minutes=15)),
        ("last 30 minutes", timedelta(minutes=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("hour", timedelta(hours=1)),
        ("past 3 days", timedelta(days=3)),
    ],
)
def test_relative(text: str, span: timedelta) -> None:
    assert parse_relative(text) == span


def test_resolve_window_default_and_iso() -> None:
    w = resolve_window(None, None, NOW)
    assert w.until == NOW and w.since == NOW - timedelta(hours=24)
    w = resolve_window("2026-11-25T13:00:00Z", None, NOW)
    assert w.since == datetime(2026, 11, 25, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(("since", "until"), [("yesterdayish", None), ("1h", "2h"), ("banana 5", None)])
def test_bad_windows_say_what_is_accepted(since: str, until: str | None) -> None:
    with pytest.raises(ValueError) as err:
        resolve_window(since, until, NOW)
    assert "ISO-8601" in str(err.value) or "not before" in str(err.value)
