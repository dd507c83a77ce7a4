"""The on-call commands (`loglens analyses|ask|trace|templates`) against a stub HTTP server.

The stub serves canned JSON in the API contract's shape and records what the CLI sent, so these
tests check the requests, the terminal output and the exit codes without the real service.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from loglens import cli, oncall_cli
from loglens.oncall_cli import Style, relative_time, render_analyses, render_table, truncate

ANSI = re.compile(r"\033\[[0-9;]*m")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The canned payloads are built at import; relative times are measured against that moment."""
    monkeypatch.setattr(oncall_cli, "_now", lambda: NOW)


def iso(delta: timedelta) -> str:
    return (NOW - delta).isoformat(timespec="milliseconds").replace("+00:00", "Z")


LONG_TITLE = "order: ResourceAccessException I/O error on POST request for inventory reserve " * 3
LIST = {
    "analyses": [
        {
            "id": "an-1",
            "kind": "service_window",
            "status": "open",
            "title": LONG_TITLE,
            "service": "order",
            "count": 42,
            "first_seen": iso(timedelta(hours=1)),
            "last_seen": iso(timedelta(minutes=5)),
            "updated_at": iso(timedelta(minutes=3)),
        },
        {
            "id": "an-22",
            "kind": "template",
            "status": "acknowledged",
            "title": "payment: card declined spike",
            "service": "payment",
            "count": 7,
            "first_seen": iso(timedelta(days=2)),
            "last_seen": iso(timedelta(hours=2)),
            "updated_at": iso(timedelta(hours=1)),
        },
    ]
}
ANALYSIS: dict[str, Any] = {
    "id": "an-1",
    "fingerprint": "fp-abc",
    "kind": "service_window",
    "status": "open",
    "created_at": iso(timedelta(minutes=30)),
    "updated_at": iso(timedelta(minutes=3)),
    "title": "order fails to reserve stock: inventory timed out",
    "what": {
        "template_id": "t-91",
        "template": "Order <*> could not reserve stock: inventory timed out after <NUM> ms",
        "level": "ERROR",
        "count": 42,
        "rate_per_min": 1.4,
        "first_seen": iso(timedelta(hours=1)),
        "last_seen": iso(timedelta(minutes=5)),
        "window": {"since": iso(timedelta(hours=1)), "until": iso(timedelta(0))},
    },
    "where": {
        "services": ["order", "inventory"],
        "hosts": ["order-1"],
        "versions": ["1.4.2"],
        "slots": ["blue"],
    },
    "evidence": [f"ev-{i}" for i in range(14)],
    "related": {
        "trace_ids": ["abc123"],
        "timeline": [
            {
                "id": "ev-2",
                "@timestamp": iso(timedelta(minutes=5)),
                "service": "order",
                "level": "ERROR",
                "message": "Order 7001 could not reserve stock",
            },
            {
                "id": "ev-1",
                "@timestamp": iso(timedelta(minutes=6)),
                "service": "inventory",
                "level": "WARN",
                "message": "slow query on stock table took 4900 ms",
            },
        ],
        "causes": [{"class": "java.net.SocketTimeoutException", "message": "Read timed out"}],
        "top_frames": ["com.acme.order.client.InventoryClient.reserve(InventoryClient.java:58)"],
    },
    "suspected_origin": [
        {"service": "order", "template_id": "t-91", "rank": 2, "reasons": ["errors are reported here"]},
        {
            "service": "inventory",
            "template_id": "t-7",
            "rank": 1,
            "reasons": ["earliest in the shared traces", "slow queries started 1 min before"],
        },
    ],
    "next_steps": ["Check the inventory database", "Look at `loglens trace abc123`"],
    "narrative": "Inventory slowed down first; order timed out waiting for it.",
    "narrative_model": "gpt-test",
    "reuse": {"seen": 3, "since": iso(timedelta(days=7)), "first_in": "1.4.0"},
    "notes": [{"at": iso(timedelta(minutes=2)), "text": "looking into the DB"}],
}
TRACE = {
    "trace_id": "abc123",
    "services": ["gateway", "order"],
    "first": iso(timedelta(minutes=6)),
    "last": iso(timedelta(minutes=5)),
    "events": [
        {
            "id": "e2",
            "@timestamp": iso(timedelta(minutes=5)),
            "service": "order",
            "level": "ERROR",
            "message": "reserve failed",
            "span_id": "s2",
            "exception_class": "java.net.SocketTimeoutException",
            "template_id": "t-91",
        },
        {
            "id": "e1",
            "@timestamp": iso(timedelta(minutes=6)),
            "service": "gateway",
            "level": "INFO",
            "message": "POST /orders",
            "span_id": "s1",
            "exception_class": None,
            "template_id": "t-1",
        },
    ],
}
TEMPLATES = {
    "templates": [
        {
            "template_id": "t-91",
            "template": "Order <*> could not reserve stock",
            "services": ["order"],
            "levels": ["ERROR"],
            "first_seen": iso(timedelta(minutes=20)),
            "last_seen": iso(timedelta(minutes=1)),
            "count": 42,
            "new_since": iso(timedelta(minutes=25)),
            "reason": "first seen after the deploy",
        }
    ]
}
ANSWER = {
    "answer": "Order fails because inventory times out [1].",
    "citations": [
        {
            "id": "ev-2",
            "@timestamp": iso(timedelta(minutes=5)),
            "service": "order",
            "level": "ERROR",
            "excerpt": "Order 7001 could not reserve stock",
        }
    ],
    "searched": {},
    "cache": {"hit": True, "similarity": 0.97, "source_question": "why does order fail?"},
    "model": "gpt-test",
    "degraded": False,
}


@dataclass
class Stub:
    url: str
    routes: dict[tuple[str, str], tuple[int, Any, dict[str, str]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def route(self, method: str, path: str, body: Any, status: int = 200, **headers: str) -> None:
        self.routes[(method, path)] = (status, body, headers)


@pytest.fixture()
def stub() -> Iterator[Stub]:
    holder: list[Stub] = []

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            s = holder[0]
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            s.requests.append(
                {
                    "method": self.command,
                    "path": parts.path,
                    "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(raw) if raw else None,
                }
            )
            status, body, headers = s.routes.get(
                (self.command, parts.path),
                (404, {"error": {"code": "not_found", "message": f"no route {parts.path}"}}, {}),
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Stub(url=f"http://127.0.0.1:{server.server_address[1]}"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("LOGLENS_API_KEY", raising=False)


def run(stub: Stub, *argv: str) -> int:
    return cli.main([*argv, "--url", stub.url])


# ------------------------------------------------------------------------------------ analyses


def test_list_renders_an_aligned_table_with_relative_times_and_sends_the_filters(
    stub: Stub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.route("GET", "/analyses", LIST)
    assert run(stub, "analyses", "list", "--status", "open", "--service", "order", "--since", "2h") == 0
    out = capsys.readouterr().out
    assert not ANSI.search(out), "no colour when stdout is not a terminal"
    lines = out.splitlines()
    header, first, second = lines[0], lines[1], lines[2]
    for column in ("ID", "STATUS", "KIND", "SERVICE", "EVENTS", "LAST SEEN", "TITLE"):
        assert column in header
    # Aligned: every column starts at the same offset in the header and the rows.
    for column, a, b in (("STATUS", "open", "acknowledged"), ("SERVICE", "order", "payment")):
        assert first.index(a) == header.index(column) == second.index(b)
    assert "5m ago" in first and "2h ago" in second
    assert max(len(line) for line in lines[:3]) <= 100 and first.endswith("…")
    assert "2 analyses" in out
    assert stub.requests[0]["query"] == {"status": "open", "service": "order", "since": "2h", "limit": "50"}


def test_list_is_the_default_action_and_empty_lists_say_so(
    stub: Stub, capsys: pytest.CaptureFixture[str]
) -> None:
    stub.route("GET", "/analyses", {"analyses": []})
    assert run(stub, "analyses") == 0
    assert "no analyses match" in capsys.readouterr().out
    assert stub.requests[0]["query"] == {"limit": "50"}


def test_json_passes_the_server_response_through(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route("GET", "/analyses", LIST)
    stub.route("GET", "/analyses/an-1", ANALYSIS)
    assert run(stub, "analyses", "--json") == 0
    assert json.loads(capsys.readouterr().out) == LIST
    assert run(stub, "analyses", "show", "an-1", "--json") == 0
    assert json.loads(capsys.readouterr().out) == ANALYSIS


def test_show_renders_a_readable_report(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route("GET", "/analyses/an-1", ANALYSIS)
    assert run(stub, "analyses", "show", "an-1") == 0
    out = capsys.readouterr().out
    assert out.startswith("order fails to reserve stock: inventory timed out\nOPEN")
    for section in (
        "What",
        "Where",
        "Suspected origin",
        "Next steps",
        "Timeline (2 events)",
        "Evidence (14 events)",
    ):
        assert f"\n{section}\n" in out
    assert "Order <*> could not reserve stock" in out and "1.4/min" in out
    assert "services   order, inventory" in out and "slots      blue" in out
    # Ranked by rank, with reasons under each origin.
    origin = out[out.index("Suspected origin") : out.index("Next steps")]
    assert (
        origin.index("1. inventory")
        < origin.index("earliest in the shared traces")
        < origin.index("2. order")
    )
    assert "1. Check the inventory database" in out
    # The timeline is in time order, whatever order the server used.
    timeline = out[out.index("Timeline") : out.index("Causes")]
    assert timeline.index("slow query") < timeline.index("Order 7001")
    assert "java.net.SocketTimeoutException: Read timed out" in out
    assert "ev-0, ev-1" in out and "and 4 more" in out
    assert "Narrative (by gpt-test)" in out and "Inventory slowed down first" in out
    assert "Seen 3 times since" in out and "looking into the DB" in out
    assert f"{stub.url}/#analyses/an-1" in out


def test_ack_and_resolve_patch_the_status_with_a_note(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route("PATCH", "/analyses/an-1", dict(ANALYSIS, status="acknowledged"))
    assert run(stub, "analyses", "ack", "an-1", "--note", "on it") == 0
    assert stub.requests[-1]["body"] == {"status": "acknowledged", "note": "on it"}
    assert "an-1  acknowledged (note added)" in capsys.readouterr().out
    stub.route("PATCH", "/analyses/an-1", dict(ANALYSIS, status="resolved"))
    assert run(stub, "analyses", "resolve", "an-1") == 0
    assert stub.requests[-1]["body"] == {"status": "resolved"}
    assert "resolved" in capsys.readouterr().out


def test_ids_are_quoted_in_the_path(stub: Stub) -> None:
    assert run(stub, "analyses", "show", "a/b c") == 1
    assert stub.requests[0]["path"] == "/analyses/a%2Fb%20c"


# -------------------------------------------------------------------------------------- errors


def test_404_prints_the_server_message(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route(
        "GET", "/analyses/nope", {"error": {"code": "not_found", "message": "no analysis nope"}}, status=404
    )
    assert run(stub, "analyses", "show", "nope") == 1
    err = capsys.readouterr().err
    assert err.strip() == "loglens: no analysis nope"


def test_401_asks_for_an_api_key(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route("GET", "/analyses", {"error": {"code": "unauthorized", "message": "bad key"}}, status=401)
    assert run(stub, "analyses") == 1
    assert capsys.readouterr().err.strip() == (
        "loglens: API key needed: pass --api-key or set LOGLENS_API_KEY"
    )
    assert "x-api-key" not in stub.requests[0]["headers"]


def test_the_api_key_comes_from_the_flag_or_the_environment(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.route("GET", "/analyses", LIST)
    monkeypatch.setenv("LOGLENS_API_KEY", "from-env")
    assert run(stub, "analyses") == 0
    assert stub.requests[-1]["headers"]["x-api-key"] == "from-env"
    assert run(stub, "analyses", "--api-key", "from-flag") == 0
    assert stub.requests[-1]["headers"]["x-api-key"] == "from-flag"


def test_429_mentions_retry_after(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route(
        "GET",
        "/analyses",
        {"error": {"code": "rate_limited", "message": "too many requests"}},
        status=429,
        **{"Retry-After": "7"},
    )
    assert run(stub, "analyses") == 1
    err = capsys.readouterr().err
    assert "too many requests" in err and "retry after 7 s" in err


def test_503_names_the_dependency_problem(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"error": {"code": "dependency_unavailable", "message": "OpenSearch is not reachable"}}
    stub.route("GET", "/traces/t1", body, status=503)
    assert run(stub, "trace", "t1") == 1
    assert "cannot reach a dependency: OpenSearch is not reachable" in capsys.readouterr().err


def test_unreachable_service_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}"
    assert cli.main(["analyses", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"loglens: cannot reach the AI service at {url} — start it with `loglens up`")


def test_default_url_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from loglens.config import get_settings

    settings = get_settings()
    args = argparse.Namespace(url=None, api_key=None)
    client = oncall_cli._client(args)
    assert client.base_url == f"http://{settings.api_host}:{settings.api_port}"


@pytest.mark.parametrize(
    "argv",
    [
        ["analyses", "show"],
        ["analyses", "ack"],
        ["analyses", "bogus"],
        ["analyses", "list", "an-1"],
        ["analyses", "show", "a", "b"],
        ["analyses", "--status", "closed"],
        ["analyses", "--since", "the other day"],
        ["analyses", "--service", "not a service!"],
        ["analyses", "--limit", "0"],
        ["analyses", "list", "--note", "x"],
        ["analyses", "show", "an-1", "--status", "open"],
        ["templates", "--since", "2h"],
        ["templates", "--new", "--since", "soon"],
        ["ask", "   "],
        ["ask"],
        ["trace"],
    ],
)
def test_bad_arguments_exit_2_without_calling_the_service(
    stub: Stub, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        code = run(stub, *argv)
        raise SystemExit(code)
    assert raised.value.code == 2
    assert stub.requests == []
    assert capsys.readouterr().err.strip()


# ------------------------------------------------------------------------- ask, trace, templates


def test_ask_prints_answer_cache_and_citations(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route("POST", "/ask", ANSWER)
    assert run(stub, "ask", "why does order fail?", "--service", "order", "--since", "1h") == 0
    assert stub.requests[0]["body"] == {"question": "why does order fail?", "service": "order", "since": "1h"}
    out = capsys.readouterr().out
    assert out.startswith("Order fails because inventory times out [1].")
    assert 'cached from "why does order fail?" (similarity 0.97)' in out
    assert "[1]" in out and "Order 7001 could not reserve stock" in out


def test_trace_lists_events_in_time_order(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route("GET", "/traces/abc123", TRACE)
    assert run(stub, "trace", "abc123") == 0
    out = capsys.readouterr().out
    assert "trace abc123" in out and "services gateway, order" in out and "2 events" in out
    assert out.index("POST /orders") < out.index("reserve failed [java.net.SocketTimeoutException]")


def test_templates_new_defaults_to_the_deploy(stub: Stub, capsys: pytest.CaptureFixture[str]) -> None:
    stub.route("GET", "/templates", TEMPLATES)
    assert run(stub, "templates", "--new", "--service", "order") == 0
    assert stub.requests[-1]["query"] == {"new_since": "deploy", "service": "order"}
    out = capsys.readouterr().out
    assert "t-91" in out and "20m ago" in out and "first seen after the deploy" in out
    assert run(stub, "templates", "--new", "--since", "2h") == 0
    assert stub.requests[-1]["query"] == {"new_since": "2h"}


def test_parser_keeps_the_other_commands() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    names = set(sub.choices)  # type: ignore[arg-type]
    assert {"up", "down", "ps", "logs", "consumer", "serve", "analyses", "ask", "trace", "templates"} <= names


# ------------------------------------------------------------------------------------ rendering


def test_colour_only_on_a_terminal_and_alignment_survives_it() -> None:
    plain = render_analyses(LIST, Style(False), NOW, width=100)
    coloured = render_analyses(LIST, Style(True), NOW, width=100)
    assert not ANSI.search(plain)
    assert "\033[31mopen" in coloured and "\033[33macknowledged" in coloured
    assert ANSI.sub("", coloured) == plain


def test_style_for_stream_respects_tty_and_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Style.for_stream(Tty()).enabled  # type: ignore[arg-type]
    monkeypatch.setenv("NO_COLOR", "1")
    assert not Style.for_stream(Tty()).enabled  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=3), "just now"),
        (timedelta(seconds=45), "45s ago"),
        (timedelta(minutes=5), "5m ago"),
        (timedelta(hours=3), "3h ago"),
        (timedelta(days=2), "2d ago"),
        (timedelta(minutes=-10), "in 10m"),
    ],
)
def test_relative_time(delta: timedelta, expected: str) -> None:
    assert relative_time(iso(delta), NOW) == expected


def test_relative_time_of_odd_values() -> None:
    assert relative_time(None, NOW) == "-"
    assert relative_time("not a time", NOW) == "not a time"
    assert relative_time(iso(timedelta(days=400)), NOW) == (NOW - timedelta(days=400)).strftime("%Y-%m-%d")


def test_truncate_and_table() -> None:
    assert truncate("a  b\nc", 10) == "a b c"
    assert truncate("abcdefghij", 5) == "abcd…"
    table = render_table(["A", "LONG"], [["x", "1"], ["yyyy", ("2", "red")]], Style(False))
    assert table.splitlines() == ["A     LONG", "x     1", "yyyy  2"]
