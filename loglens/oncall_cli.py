"""On-call commands of ``loglens``: analyses, ask, trace and templates, over the AI service's HTTP API.

Every command takes ``--url`` (default ``http://{api_host}:{api_port}`` from the settings),
``--api-key`` (default ``$LOGLENS_API_KEY``) and ``--json`` (print the server's JSON as is, for
scripts). Without ``--json`` the output is meant for a person: aligned tables, long text cut with
"…", times as "5m ago", colour only on a terminal (and never with ``NO_COLOR``).

Exit codes: 0 ok, 1 the service said no (401, 404, 429, 503, bad input), 2 the service cannot be
reached (or the command line is wrong, as argparse does).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import textwrap
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, TextIO

from loglens.config import get_settings
from loglens.events import parse_timestamp
from loglens.timewindow import ACCEPTED_FORMS, parse_relative

STATUSES = ("open", "acknowledged", "resolved")
API_KEY_ENV = "LOGLENS_API_KEY"
UNREACHABLE_HINT = "start it with `loglens up`"


# --------------------------------------------------------------------------------------------- HTTP


class ApiFailure(Exception):
    """A request that did not give a usable answer; ``message`` is one line for the terminal."""

    def __init__(self, message: str, exit_code: int = 1, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.status = status


def _error_message(raw: bytes, fallback: str) -> str:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        text = raw.decode("utf-8", "replace").strip()
        return text[:300] or fallback
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if body.get("detail"):
            return str(body["detail"])
    return fallback


class ApiClient:
    """A very small JSON client for the AI service (urllib, no session state)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or None
        self.timeout = timeout

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None and v != ""}
        return self.base_url + path + ("?" + urllib.parse.urlencode(query) if query else "")

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        headers = {"Accept": "application/json", "User-Agent": "loglens-cli"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        req = urllib.request.Request(self.url(path, params), data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raise self._http_failure(exc) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiFailure(
                f"cannot reach the AI service at {self.base_url} — {UNREACHABLE_HINT} ({reason})", 2
            ) from None
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise ApiFailure(f"the AI service at {self.base_url} sent a response that is not JSON") from None

    def _http_failure(self, exc: urllib.error.HTTPError) -> ApiFailure:
        try:
            raw = exc.read()
        except OSError:
            raw = b""
        status = exc.code
        message = _error_message(raw, f"HTTP {status} {exc.reason}")
        if status == 401:
            return ApiFailure(f"API key needed: pass --api-key or set {API_KEY_ENV}", 1, status)
        if status == 429:
            retry = exc.headers.get("Retry-After") if exc.headers else None
            wait = f"; retry after {retry} s" if retry else ""
            return ApiFailure(f"rate limited: {message}{wait}", 1, status)
        if status == 503:
            return ApiFailure(f"the AI service cannot reach a dependency: {message}", 1, status)
        if status == 404:
            return ApiFailure(message, 1, status)
        return ApiFailure(f"error {status}: {message}", 1, status)


# ------------------------------------------------------------------------------------------ output


class Style:
    """ANSI colour when writing to a terminal, plain text otherwise."""

    CODES: ClassVar[dict[str, str]] = {
        "red": "31",
        "green": "32",
        "yellow": "33",
        "blue": "34",
        "grey": "90",
        "bold": "1",
        "cyan": "36",
    }

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    @classmethod
    def for_stream(cls, stream: TextIO) -> Style:
        isatty = getattr(stream, "isatty", None)
        tty = bool(isatty and isatty())
        return cls(tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb")

    def __call__(self, text: str, colour: str | None) -> str:
        if not self.enabled or not colour or not text:
            return text
        return f"\033[{self.CODES[colour]}m{text}\033[0m"

    def status(self, value: str) -> str:
        return self(value, {"open": "red", "acknowledged": "yellow", "resolved": "green"}.get(value))

    def level(self, value: str) -> str:
        colour = {"ERROR": "red", "FATAL": "red", "WARN": "yellow", "WARNING": "yellow", "DEBUG": "grey"}
        return self(value, colour.get(value.upper()))


def truncate(text: str, width: int) -> str:
    """One line, at most ``width`` characters, "…" where it was cut."""
    flat = " ".join(str(text).split())
    if width <= 0:
        return ""
    if len(flat) <= width:
        return flat
    return flat[: max(0, width - 1)] + "…"


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None


def _now() -> datetime:
    """The clock relative times are measured against (a function so tests can pin it)."""
    return datetime.now(UTC)


def relative_time(value: Any, now: datetime | None = None) -> str:
    """ "5m ago", "in 2h", "just now"; the input as is when it is not a time, "-" when empty."""
    ts = _parse_time(value)
    if ts is None:
        return "-" if value in (None, "") else str(value)
    now = now or _now()
    seconds = int((now - ts).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 10:
        return "just now"
    for limit, unit, size in ((60, "s", 1), (3600, "m", 60), (86400, "h", 3600), (86400 * 60, "d", 86400)):
        if seconds < limit:
            amount = f"{seconds // size}{unit}"
            break
    else:
        return ts.strftime("%Y-%m-%d")
    return f"in {amount}" if future else f"{amount} ago"


def clock(value: Any) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM:SS`` UTC (or as given when unreadable)."""
    ts = _parse_time(value)
    if ts is None:
        return "-" if value in (None, "") else str(value)
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def clock_ms(value: Any) -> str:
    ts = _parse_time(value)
    if ts is None:
        return "-" if value in (None, "") else str(value)
    return ts.strftime("%H:%M:%S.") + f"{ts.microsecond // 1000:03d}"


Cell = tuple[str, str | None]  # (plain text, colour name)


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str | Cell]],
    style: Style,
    max_widths: Sequence[int | None] | None = None,
    total_width: int | None = None,
    flexible: int | None = None,
) -> str:
    """Left-aligned columns two spaces apart. ``flexible`` (a column index) takes what is left of
    ``total_width``; other columns are cut at ``max_widths``. Colour is added after padding so ANSI
    codes never break alignment."""
    cells: list[list[Cell]] = [[c if isinstance(c, tuple) else (str(c), None) for c in row] for row in rows]
    ncol = len(headers)
    limits = list(max_widths or [None] * ncol)
    cells = [
        [(truncate(text, limits[i] or 10_000), colour) for i, (text, colour) in enumerate(r)] for r in cells
    ]
    widths = [max([len(headers[i])] + [len(r[i][0]) for r in cells]) for i in range(ncol)]
    if flexible is not None and total_width:
        fixed = sum(w for i, w in enumerate(widths) if i != flexible) + 2 * (ncol - 1)
        room = max(12, total_width - fixed)
        if widths[flexible] > room:
            widths[flexible] = room
            cells = [
                [(truncate(t, room), c) if i == flexible else (t, c) for i, (t, c) in enumerate(r)]
                for r in cells
            ]
    head = [h.ljust(widths[i]) if i < ncol - 1 else h for i, h in enumerate(headers)]
    lines = ["  ".join(style(h, "bold") for h in head).rstrip()]
    for row in cells:
        parts = []
        for i, (text, colour) in enumerate(row):
            padded = text.ljust(widths[i]) if i < ncol - 1 else text
            parts.append(style(padded, colour) if colour else padded)
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _terminal_width() -> int:
    return shutil.get_terminal_size((110, 24)).columns


def _join(values: Any, empty: str = "-") -> str:
    if not values:
        return empty
    if isinstance(values, str):
        return values
    return ", ".join(str(v) for v in values)


def _wrap(text: str, indent: str = "  ", width: int | None = None) -> str:
    width = max(40, min(width or _terminal_width(), 120))
    out = []
    for para in str(text).splitlines() or [""]:
        filled = textwrap.fill(
            para,
            width=width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
            break_long_words=False,
        )
        out.append(filled or "")
    return "\n".join(out)


_STATUS_COLOURS = {"open": "red", "acknowledged": "yellow", "resolved": "green"}
_LEVEL_COLOURS = {"ERROR": "red", "FATAL": "red", "WARN": "yellow", "WARNING": "yellow", "DEBUG": "grey"}


def render_analyses(
    payload: dict[str, Any], style: Style, now: datetime | None = None, width: int = 0
) -> str:
    items = payload.get("analyses") or []
    if not items:
        return "no analyses match (try another --status/--service/--since)"
    rows: list[list[str | Cell]] = []
    for a in items:
        status = str(a.get("status") or "")
        rows.append(
            [
                str(a.get("id") or ""),
                (status, _STATUS_COLOURS.get(status)),
                str(a.get("kind") or ""),
                str(a.get("service") or "-"),
                str(a.get("count") if a.get("count") is not None else "-"),
                relative_time(a.get("last_seen"), now),
                str(a.get("title") or ""),
            ]
        )
    table = render_table(
        ["ID", "STATUS", "KIND", "SERVICE", "EVENTS", "LAST SEEN", "TITLE"],
        rows,
        style,
        max_widths=[None, 12, 12, 18, 7, 9, None],
        total_width=width or _terminal_width(),
        flexible=6,
    )
    return f"{table}\n\n{len(items)} analys{'is' if len(items) == 1 else 'es'} — `loglens analyses show ID`"


def _section(title: str, style: Style) -> str:
    return "\n" + style(title, "bold")


def render_analysis(a: dict[str, Any], style: Style, now: datetime | None = None, width: int = 0) -> str:
    """The detail of one analysis as a report: what, where, suspected origin, next steps, timeline…"""
    width = width or _terminal_width()
    status = str(a.get("status") or "?")
    created = relative_time(a.get("created_at"), now)
    updated = relative_time(a.get("updated_at"), now)
    out = [
        style(f"{a.get('title') or '(untitled)'}", "bold"),
        f"{style(status.upper(), _STATUS_COLOURS.get(status))}  ·  id {a.get('id')}"
        f"  ·  kind {a.get('kind') or '-'}  ·  created {created}  ·  updated {updated}",
    ]
    what = a.get("what") or {}
    out.append(_section("What", style))
    if what.get("template"):
        out.append(f"  template   {truncate(what['template'], width - 13)}")
    if what.get("template_id"):
        out.append(f"  id         {what['template_id']}")
    level = str(what.get("level") or "-")
    rate = what.get("rate_per_min")
    rate_text = f"{rate:g}/min" if isinstance(rate, int | float) else "-"
    out.append(f"  level      {style.level(level)}    count {what.get('count', '-')}    rate {rate_text}")
    out.append(
        f"  seen       first {clock(what.get('first_seen'))} ({relative_time(what.get('first_seen'), now)}), "
        f"last {clock(what.get('last_seen'))} ({relative_time(what.get('last_seen'), now)})"
    )
    window = what.get("window") or {}
    if window:
        out.append(f"  window     {clock(window.get('since'))} → {clock(window.get('until'))} UTC")

    where = a.get("where") or {}
    out.append(_section("Where", style))
    for key in ("services", "hosts", "versions", "slots"):
        out.append(f"  {key:<10} {truncate(_join(where.get(key)), width - 13)}")

    origins = sorted(a.get("suspected_origin") or [], key=lambda o: o.get("rank") or 10_000)
    out.append(_section("Suspected origin", style))
    if not origins:
        out.append("  (none suspected)")
    for i, o in enumerate(origins, 1):
        rank = o.get("rank") or i
        template = f"  template {o['template_id']}" if o.get("template_id") else ""
        out.append(
            f"  {rank}. {style(str(o.get('service') or '?'), 'cyan' if rank == 1 else None)}{template}"
        )
        for reason in o.get("reasons") or []:
            out.append(_wrap(f"- {reason}", indent="       ", width=width))

    steps = a.get("next_steps") or []
    if steps:
        out.append(_section("Next steps", style))
        for i, step in enumerate(steps, 1):
            out.append(_wrap(f"{i}. {step}", width=width))

    related = a.get("related") or {}
    timeline = related.get("timeline") or []
    out.append(_section(f"Timeline ({len(timeline)} events)", style))
    if timeline:
        events = sorted(timeline, key=lambda e: str(e.get("@timestamp") or ""))
        rows: list[list[str | Cell]] = [
            [
                clock_ms(e.get("@timestamp")),
                str(e.get("service") or "?"),
                (str(e.get("level") or ""), _LEVEL_COLOURS.get(str(e.get("level") or "").upper())),
                str(e.get("message") or ""),
            ]
            for e in events
        ]
        table = render_table(
            ["TIME", "SERVICE", "LEVEL", "MESSAGE"], rows, style, [12, 20, 7, None], width - 2, 3
        )
        out.append(textwrap.indent(table, "  "))
    else:
        out.append("  (no related events)")
    causes = related.get("causes") or []
    if causes:
        out.append(_section("Causes", style))
        for c in causes:
            line = f"{c.get('class') or '?'}: {c.get('message') or ''}".rstrip(": ")
            out.append(f"  {truncate(line, width - 3)}")
    frames = related.get("top_frames") or []
    if frames:
        out.append(_section("Top frames", style))
        out.extend(f"  at {truncate(str(f), width - 6)}" for f in frames[:8])
    traces = related.get("trace_ids") or []
    if traces:
        shown = ", ".join(traces[:5]) + (f" (+{len(traces) - 5} more)" if len(traces) > 5 else "")
        out.append(_section("Traces", style))
        out.append(_wrap(shown, width=width))
        out.append("  see one with `loglens trace TRACE_ID`")

    if a.get("narrative"):
        model = f" (by {a['narrative_model']})" if a.get("narrative_model") else ""
        out.append(_section(f"Narrative{model}", style))
        out.append(_wrap(str(a["narrative"]), width=width))

    evidence = a.get("evidence") or []
    out.append(_section(f"Evidence ({len(evidence)} events)", style))
    if evidence:
        shown_ids = evidence[:10]
        out.append(_wrap(", ".join(str(e) for e in shown_ids), width=width))
        if len(evidence) > len(shown_ids):
            out.append(f"  … and {len(evidence) - len(shown_ids)} more (use --json for all)")
    else:
        out.append("  (none)")

    reuse = a.get("reuse") or {}
    if reuse.get("seen"):
        first_in = f", first in {reuse['first_in']}" if reuse.get("first_in") else ""
        times = f"{reuse['seen']} time{'s' if reuse['seen'] != 1 else ''}"
        out.append(f"\nSeen {times} since {clock(reuse.get('since'))}{first_in}")

    notes = a.get("notes") or []
    if notes:
        out.append(_section("Notes", style))
        for n in notes:
            out.append(f"  {relative_time(n.get('at'), now):>9}  {n.get('text') or ''}")
    return "\n".join(out)


def render_answer(payload: dict[str, Any], style: Style, width: int = 0) -> str:
    width = width or _terminal_width()
    out = [str(payload.get("answer") or "").rstrip()]
    meta = []
    if payload.get("model"):
        meta.append(f"answered by {payload['model']}")
    if payload.get("degraded"):
        meta.append(style("degraded: evidence only, no LLM", "yellow"))
    cache = payload.get("cache") or {}
    if cache.get("hit"):
        sim = cache.get("similarity")
        sim_text = f" (similarity {sim:.2f})" if isinstance(sim, int | float) else ""
        meta.append(style(f'cached from "{cache.get("source_question")}"{sim_text}', "cyan"))
    if meta:
        out.append(style(" · ".join(meta), "grey"))
    citations = payload.get("citations") or []
    if citations:
        out.append("")
        rows: list[list[str | Cell]] = [
            [
                f"[{i}]",
                clock(c.get("@timestamp")),
                str(c.get("service") or "?"),
                (str(c.get("level") or ""), _LEVEL_COLOURS.get(str(c.get("level") or "").upper())),
                str(c.get("excerpt") or ""),
            ]
            for i, c in enumerate(citations, 1)
        ]
        out.append(render_table(["#", "TIME", "SERVICE", "LEVEL", "EXCERPT"], rows, style, None, width, 4))
    return "\n".join(out)


def render_trace(t: dict[str, Any], style: Style, width: int = 0) -> str:
    width = width or _terminal_width()
    events = sorted(t.get("events") or [], key=lambda e: str(e.get("@timestamp") or ""))
    head = [
        style(f"trace {t.get('trace_id')}", "bold"),
        f"services {_join(t.get('services'))}  ·  {clock(t.get('first'))} → {clock(t.get('last'))} UTC"
        f"  ·  {len(events)} events",
        "",
    ]
    if not events:
        return "\n".join([*head, "(no events)"])
    rows: list[list[str | Cell]] = []
    for e in events:
        message = str(e.get("message") or "")
        if e.get("exception_class"):
            message = f"{message} [{e['exception_class']}]"
        level = str(e.get("level") or "")
        rows.append(
            [
                clock_ms(e.get("@timestamp")),
                str(e.get("service") or "?"),
                str(e.get("span_id") or "-"),
                (level, _LEVEL_COLOURS.get(level.upper())),
                message,
            ]
        )
    table = render_table(
        ["TIME", "SERVICE", "SPAN", "LEVEL", "MESSAGE"], rows, style, [12, 20, 16, 7, None], width, 4
    )
    return "\n".join(head) + table


def render_templates(
    payload: dict[str, Any], style: Style, now: datetime | None = None, width: int = 0
) -> str:
    items = payload.get("templates") or []
    if not items:
        return "no templates match"
    rows: list[list[str | Cell]] = []
    for t in items:
        levels = t.get("levels") or []
        worst = next((lv for lv in ("FATAL", "ERROR", "WARN") if lv in levels), None)
        rows.append(
            [
                str(t.get("template_id") or ""),
                _join(t.get("services")),
                (_join(levels), _LEVEL_COLOURS.get(worst or "")),
                str(t.get("count") if t.get("count") is not None else "-"),
                relative_time(t.get("first_seen"), now),
                relative_time(t.get("last_seen"), now),
                str(t.get("template") or ""),
            ]
        )
    table = render_table(
        ["TEMPLATE ID", "SERVICES", "LEVELS", "COUNT", "FIRST SEEN", "LAST SEEN", "TEMPLATE"],
        rows,
        style,
        [20, 18, 14, 7, 10, 9, None],
        width or _terminal_width(),
        6,
    )
    reasons = {str(t.get("reason")) for t in items if t.get("reason")}
    since = {str(t.get("new_since")) for t in items if t.get("new_since")}
    foot = f"\n\n{len(items)} template{'s' if len(items) != 1 else ''}"
    if since:
        foot += f" new since {', '.join(sorted(clock(s) for s in since))}"
    if len(reasons) == 1:
        foot += f" ({reasons.pop()})"
    return table + foot


# ---------------------------------------------------------------------------------------- commands


def _client(args: argparse.Namespace) -> ApiClient:
    url = args.url
    if not url:
        settings = get_settings()
        url = f"http://{settings.api_host}:{settings.api_port}"
    key = args.api_key if args.api_key is not None else os.environ.get(API_KEY_ENV)
    return ApiClient(url, key)


def _emit_json(payload: Any, out: TextIO) -> None:
    out.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _run(args: argparse.Namespace, action: Callable[[ApiClient, Style, TextIO], int]) -> int:
    out: TextIO = sys.stdout
    try:
        return action(_client(args), Style.for_stream(out), out)
    except ApiFailure as exc:
        print(f"loglens: {exc.message}", file=sys.stderr)
        return exc.exit_code


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def cmd_analyses(args: argparse.Namespace) -> int:
    def action(client: ApiClient, style: Style, out: TextIO) -> int:
        if args.action == "list":
            params = {
                "service": args.service,
                "since": args.since,
                "status": args.status,
                "limit": args.limit,
            }
            payload = client.request("GET", "/analyses", params=params)
            if args.json:
                _emit_json(payload, out)
            else:
                out.write(render_analyses(payload, style) + "\n")
            return 0
        path = f"/analyses/{_quote(args.id)}"
        if args.action == "show":
            analysis = client.request("GET", path)
            if args.json:
                _emit_json(analysis, out)
            else:
                out.write(render_analysis(analysis, style) + "\n")
                out.write(style(f"\nweb: {client.base_url}/#analyses/{_quote(args.id)}", "grey") + "\n")
            return 0
        status = {"ack": "acknowledged", "resolve": "resolved", "reopen": "open"}.get(args.action)
        body: dict[str, Any] = {}
        if status:
            body["status"] = status
        if args.note:
            body["note"] = args.note
        analysis = client.request("PATCH", path, body=body)
        if args.json:
            _emit_json(analysis, out)
        else:
            new = str(analysis.get("status") or status or "?")
            noted = " (note added)" if args.note else ""
            head = f"{analysis.get('id', args.id)}  {new}{noted}  "
            title = truncate(str(analysis.get("title") or ""), _terminal_width() - len(head))
            out.write(head.replace(new, style.status(new), 1) + title + "\n")
        return 0

    return _run(args, action)


def cmd_ask(args: argparse.Namespace) -> int:
    def action(client: ApiClient, style: Style, out: TextIO) -> int:
        body: dict[str, Any] = {"question": args.question}
        if args.service:
            body["service"] = args.service
        if args.since:
            body["since"] = args.since
        payload = client.request("POST", "/ask", body=body, timeout=120)
        if args.json:
            _emit_json(payload, out)
        else:
            out.write(render_answer(payload, style) + "\n")
        return 0

    return _run(args, action)


def cmd_trace(args: argparse.Namespace) -> int:
    def action(client: ApiClient, style: Style, out: TextIO) -> int:
        payload = client.request("GET", f"/traces/{_quote(args.trace_id)}")
        if args.json:
            _emit_json(payload, out)
        else:
            out.write(render_trace(payload, style) + "\n")
        return 0

    return _run(args, action)


def cmd_templates(args: argparse.Namespace) -> int:
    def action(client: ApiClient, style: Style, out: TextIO) -> int:
        params = {"service": args.service}
        if args.new:
            params["new_since"] = args.since or "deploy"
        payload = client.request("GET", "/templates", params=params)
        if args.json:
            _emit_json(payload, out)
        else:
            out.write(render_templates(payload, style) + "\n")
        return 0

    return _run(args, action)


# ------------------------------------------------------------------------------------------ parser


def _since(text: str) -> str:
    """A span (15m, 2h, 1d) or an ISO time, checked before anything is sent."""
    value = text.strip()
    if parse_relative(value) is not None:
        return value
    try:
        parse_timestamp(value)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: use {ACCEPTED_FORMS}") from exc
    return value


def _since_or_deploy(text: str) -> str:
    return "deploy" if text.strip().lower() == "deploy" else _since(text)


def _service(text: str) -> str:
    value = text.strip()
    if not value or len(value) > 100 or not all(c.isalnum() or c in "_.-" for c in value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a service name (letters, digits, '_', '.', '-')")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 1 <= value <= 500:
        raise argparse.ArgumentTypeError("must be between 1 and 500")
    return value


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("connection and output")
    g.add_argument(
        "--url", help="AI service base URL (default http://{api_host}:{api_port} from the settings)"
    )
    g.add_argument("--api-key", help=f"API key sent as X-API-Key (default ${API_KEY_ENV})")
    g.add_argument("--json", action="store_true", help="print the server's JSON as is (for scripts)")
    return common


class _AnalysesAction(argparse.Action):
    """Checks ``ACTION [ID]`` together so mistakes read well."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        words = [str(v) for v in (values if isinstance(values, list) else [values] if values else [])]
        action = words[0] if words else "list"
        choices = ("list", "show", "ack", "resolve", "reopen")
        if action not in choices:
            parser.error(f"unknown action {action!r}: choose from {', '.join(choices)}")
        if action == "list":
            if len(words) > 1:
                parser.error("`analyses list` takes no ID (did you mean `analyses show ID`?)")
            analysis_id = None
        else:
            if len(words) != 2 or not words[1].strip():
                parser.error(f"`analyses {action}` needs exactly one analysis ID")
            analysis_id = words[1].strip()
        namespace.action = action
        namespace.id = analysis_id


def add_subparsers(sub: Any) -> None:
    """Register ``analyses``, ``ask``, ``trace`` and ``templates`` on the ``loglens`` parser."""
    common = _common()

    p = sub.add_parser(
        "analyses",
        parents=[common],
        help="list, show, acknowledge or resolve analyses (on-call)",
        usage="loglens analyses [list | show ID | ack ID | resolve ID | reopen ID] [options]",
        description="Analyses are root-cause reports the AI service builds from the logs. "
        "`list` them (filters: --status, --service, --since), `show` one as a report, "
        "`ack`/`resolve`/`reopen` it (optionally with --note).",
    )
    p.add_argument(
        "words",
        nargs="*",
        metavar="ACTION [ID]",
        action=_AnalysesAction,
        default=None,
        help="list (default), show ID, ack ID, resolve ID, reopen ID",
    )
    p.add_argument("--service", type=_service, help="only analyses of this service (list)")
    p.add_argument("--since", type=_since, help="only analyses seen since then: 15m, 2h, 1d or ISO (list)")
    p.add_argument("--status", choices=STATUSES, help="only analyses with this status (list)")
    p.add_argument("--limit", type=_positive, default=50, help="at most this many (list, default 50)")
    p.add_argument("--note", help="add this note (ack, resolve, reopen)")
    p.set_defaults(func=_checked_analyses, action="list", id=None)

    p = sub.add_parser("ask", parents=[common], help="ask a question about the logs from the terminal")
    p.add_argument("question")
    p.add_argument("--service", type=_service, help="only events of this service")
    p.add_argument(
        "--since", type=_since, help="window start: 15m, 2h, 1d or ISO (default from the question)"
    )
    p.set_defaults(func=_checked_ask)

    p = sub.add_parser(
        "trace", parents=[common], help="all events of one trace, across services, in time order"
    )
    p.add_argument("trace_id")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser(
        "templates", parents=[common], help="log templates, e.g. the ones new since the deploy"
    )
    p.add_argument("--new", action="store_true", help="only templates first seen since --since")
    p.add_argument(
        "--since",
        type=_since_or_deploy,
        help="with --new: 'deploy' (default, the last deploy), a span like 2h, or ISO",
    )
    p.add_argument("--service", type=_service, help="only templates of this service")
    p.set_defaults(func=_checked_templates)


def _checked_analyses(args: argparse.Namespace) -> int:
    if args.action == "list" and args.note:
        return _usage("--note goes with ack, resolve or reopen, not list")
    if args.action != "list" and (args.service or args.since or args.status):
        return _usage(f"--service/--since/--status filter `analyses list`, not `analyses {args.action}`")
    if args.action == "show" and args.note:
        return _usage("--note goes with ack, resolve or reopen (`analyses ack ID --note TEXT`)")
    return cmd_analyses(args)


def _checked_ask(args: argparse.Namespace) -> int:
    if not args.question.strip():
        return _usage("the question is empty")
    return cmd_ask(args)


def _checked_templates(args: argparse.Namespace) -> int:
    if args.since and not args.new:
        return _usage("--since goes with --new (`loglens templates --new --since 2h`)")
    return cmd_templates(args)


def _usage(message: str) -> int:
    print(f"loglens: {message}", file=sys.stderr)
    return 2


def main(argv: Iterable[str] | None = None) -> int:
    """Only the on-call commands (used by the tests; ``loglens`` registers them in ``loglens.cli``)."""
    parser = argparse.ArgumentParser(prog="loglens")
    add_subparsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv) if argv is not None else None)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)
