from datetime import UTC, datetime, timedelta

import pytest

from ai_service.chat.understanding import QuestionScope, understand

NOW = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)
KNOWN = ["gateway", "order", "payment", "inventory", "notification"]


def test_payments_failing_since_14() -> None:
    s = understand("why are payments failing since 14:00?", KNOWN, NOW)
    assert s.services == ("payment",)
    assert s.levels == ("ERROR", "WARN")
    assert s.since == datetime(2026, 11, 25, 14, 0, tzinfo=UTC) and s.until == NOW
    assert s.time_phrase == "since 14:00"


@pytest.mark.parametrize(
    ("question", "span"),
    [
        ("errors in the last 15 minutes", timedelta(minutes=15)),
        ("what broke in the past hour", timedelta(hours=1)),
        ("order errors over the last 2 days", timedelta(days=2)),
        ("anything since 3 hours ago?", timedelta(hours=3)),
        ("show warnings from the last thirty minutes", timedelta(minutes=30)),
    ],
)
def test_relative_windows(question: str, span: timedelta) -> None:
    s = understand(question, KNOWN, NOW)
    assert s.since == NOW - span and s.until == NOW


def test_yesterday_and_since_deploy_and_pm() -> None:
    s = understand("what happened in inventory yesterday", KNOWN, NOW)
    assert s.since == datetime(2026, 11, 24, tzinfo=UTC) and s.until == datetime(2026, 11, 25, tzinfo=UTC)
    assert understand("new errors since the last deploy?", KNOWN, NOW).since_deploy
    assert understand("failures since the switch", KNOWN, NOW).since_deploy
    s = understand("payment errors since 2pm", KNOWN, NOW)
    assert s.since == datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
    s = understand("errors since 23:00", KNOWN, NOW.replace(hour=1))
    assert s.since == datetime(2026, 11, 24, 23, 0, tzinfo=UTC)


def test_numbers_are_not_times() -> None:
    s = understand("why did order 4711 fail after 30000ms timeout", KNOWN, NOW)
    assert s.time_phrase is None


def test_entities() -> None:
    q = "is java.sql.SQLTransientConnectionException in payment-service related to trace 4bf92f3577b34da6a3ce929d0e0e4736?"
    s = understand(q, KNOWN, NOW)
    assert s.services == ("payment",)
    assert s.exceptions == ("java.sql.SQLTransientConnectionException",)
    assert s.trace_ids == ("4bf92f3577b34da6a3ce929d0e0e4736",)
    s = understand("any NullPointerException in order or inventory?", KNOWN, NOW)
    assert set(s.services) == {"order", "inventory"} and s.exceptions == ("NullPointerException",)


def test_negation_and_no_false_service() -> None:
    assert understand("which services are not failing?", KNOWN, NOW).negated
    assert not understand("which services are failing?", KNOWN, NOW).negated
    assert understand("how do I reorder things", KNOWN, NOW).services == ()


def test_follow_up_keeps_previous_scope() -> None:
    first = understand("why are payments failing since 14:00?", KNOWN, NOW)
    follow = understand("and what about inventory?", KNOWN, NOW).merged_with(first)
    assert follow.services == ("inventory",)
    assert follow.since == first.since and follow.levels == first.levels
    again = understand("and in the last hour?", KNOWN, NOW).merged_with(follow)
    assert again.services == ("inventory",) and again.since == NOW - timedelta(hours=1)
    assert isinstance(again, QuestionScope)
