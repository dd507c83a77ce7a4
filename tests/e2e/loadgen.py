"""Bounded load through nginx for the blue/green tests and bench/bench_switch.py.

``concurrency`` asyncio workers (httpx, HTTP/1.1 keep-alive) loop over a fixed mix until ``stop()``,
``max_seconds`` or ``max_requests``, whichever comes first:

- ``GET /version``                 ok = 200 and JSON with ``slot`` and ``build``
- ``POST /ask``                    ok = 200 and JSON with ``answer``
- ``POST /ask`` with stream=true   ok = 200 and the whole SSE stream read up to ``event: done``;
                                   a stream that ends without ``done`` counts as *truncated*

Every request carries its own ``X-Request-ID`` so a failure can be found in nginx's JSON access log.
A timeout, a non-200, a truncated stream or any error after the first response byte is a failure.

One retry, like browsers do it: when nginx reloads, each old worker closes its *idle* client
keep-alive connections at once; a request the client had just written on such a connection is never
read (nginx never touched it) and the client sees the connection close before any response byte.
HTTP/1.1 clients may resend in exactly that case (RFC 9112 §9.3.1; Chrome and Firefox do, for any
method, on a reused connection). Such a request is retried once on a fresh connection and counted in
``stale_retries`` — visible, never hidden; ``retry_stale=False`` makes it a failure instead.
The generator runs in its own thread with its own event loop, so a synchronous test can run
``scripts/switch.sh`` meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx

KINDS = ("version", "ask", "ask_stream")
QUESTIONS = (
    "errors in the last hour",
    "why did payment fail in the last 24 hours",
    "timeouts from inventory today",
)


@dataclass
class Result:
    kind: str
    start: float  # time.monotonic()
    end: float
    ok: bool
    status: int | None = None
    error: str | None = None
    truncated: bool = False
    request_id: str = ""
    slot: str | None = None
    build: str | None = None
    stale_retry: str | None = None  # the first attempt's error when it was retried (see module doc)

    @property
    def latency(self) -> float:
        return self.end - self.start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Summary:
    results: list[Result]
    windows: list[tuple[float, float]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def failures(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    @property
    def truncated(self) -> list[Result]:
        return [r for r in self.results if r.truncated]

    @property
    def stale_retries(self) -> list[Result]:
        return [r for r in self.results if r.stale_retry]

    def by_kind(self) -> dict[str, int]:
        return {k: sum(1 for r in self.results if r.kind == k) for k in KINDS}

    def during_windows(self) -> list[Result]:
        """Requests that overlap any marked window (e.g. a running switch.sh)."""
        return [
            r
            for r in self.results
            if any(r.start < w_end and r.end > w_start for w_start, w_end in self.windows)
        ]

    def describe(self, limit: int = 10) -> str:
        lines = [
            f"{self.total} requests {self.by_kind()}, {len(self.failures)} failed ({len(self.truncated)} truncated), "
            f"{len(self.stale_retries)} retried after a keep-alive connection closed by a reload"
        ]
        for r in self.failures[:limit]:
            lines.append(
                f"  {r.kind} id={r.request_id} status={r.status} truncated={r.truncated} error={r.error}"
            )
        return "\n".join(lines)


class LoadGenerator:
    def __init__(
        self,
        base_url: str,
        *,
        concurrency: int = 6,
        verify: bool | str = False,
        max_seconds: float = 240.0,
        max_requests: int = 100_000,
        timeout: float = 60.0,
        think_time: float = 0.0,
        retry_stale: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.verify = verify
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.timeout = timeout
        self.think_time = think_time
        self.retry_stale = retry_stale
        self.results: list[Result] = []
        self.windows: list[tuple[float, float]] = []
        self._issued = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> LoadGenerator:
        self._thread = threading.Thread(target=self._run, name="loadgen", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Summary:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 30)
        if self._error is not None:
            raise RuntimeError(f"load generator crashed: {self._error!r}") from self._error
        return self.summary()

    def wait_for(self, n: int, timeout: float = 60.0) -> None:
        """Block until at least n requests completed (so a switch starts under real load)."""
        deadline = time.monotonic() + timeout
        while len(self.results) < n and time.monotonic() < deadline:
            time.sleep(0.05)

    def mark(self, start: float, end: float) -> None:
        self.windows.append((start, end))

    def summary(self) -> Summary:
        return Summary(list(self.results), list(self.windows))

    # -- the load ----------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by stop()
            self._error = exc

    async def _main(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        deadline = time.monotonic() + self.max_seconds
        async with httpx.AsyncClient(
            base_url=self.base_url, verify=self.verify, timeout=self.timeout, limits=limits
        ) as client:
            await asyncio.gather(*(self._worker(client, i, deadline) for i in range(self.concurrency)))

    def _take(self) -> bool:
        if self._stop.is_set() or self._issued >= self.max_requests:
            return False
        self._issued += 1  # one event loop: no lock needed
        return True

    async def _worker(self, client: httpx.AsyncClient, wid: int, deadline: float) -> None:
        i = wid
        while time.monotonic() < deadline and self._take():
            kind = KINDS[i % len(KINDS)]
            question = QUESTIONS[(i // len(KINDS)) % len(QUESTIONS)]
            self.results.append(await self._one(client, kind, question))
            i += 1
            if self.think_time:
                await asyncio.sleep(self.think_time)

    async def _one(self, client: httpx.AsyncClient, kind: str, question: str) -> Result:
        start = time.monotonic()
        res = await self._attempt(client, kind, question)
        if self.retry_stale and res.status is None and _closed_before_response(res.error):
            first = res.error
            res = await self._attempt(client, kind, question)
            res.stale_retry = first
        res.start = start  # latency includes the retry
        return res

    async def _attempt(self, client: httpx.AsyncClient, kind: str, question: str) -> Result:
        rid = uuid.uuid4().hex
        headers = {"X-Request-ID": rid}
        start = time.monotonic()
        res = Result(kind, start, start, ok=False, request_id=rid)
        try:
            if kind == "version":
                r = await client.get("/version", headers=headers)
                res.status = r.status_code
                body = r.json() if r.status_code == 200 else {}
                res.slot, res.build = body.get("slot"), body.get("build")
                res.ok = r.status_code == 200 and bool(res.slot) and bool(res.build)
                if not res.ok:
                    res.error = r.text[:200]
            elif kind == "ask":
                r = await client.post("/ask", json={"question": question}, headers=headers)
                res.status = r.status_code
                res.ok = r.status_code == 200 and "answer" in r.json()
                if not res.ok:
                    res.error = r.text[:200]
            else:
                payload = {"question": question, "stream": True}
                async with client.stream("POST", "/ask", json=payload, headers=headers) as r:
                    res.status = r.status_code
                    events: list[str] = []
                    async for line in r.aiter_lines():
                        if line.startswith("event:"):
                            events.append(line.split(":", 1)[1].strip())
                        elif line.startswith("data:") and events and events[-1] == "done":
                            json.loads(line.split(":", 1)[1])  # the done payload is complete JSON
                    if r.status_code != 200:
                        res.error = f"status {r.status_code}"
                    elif not events or events[-1] != "done" or "meta" not in events:
                        res.truncated = True
                        res.error = f"stream ended without done (events: {events[-3:]})"
                    else:
                        res.ok = True
        except Exception as exc:
            res.error = f"{type(exc).__name__}: {exc}"[:300]
            res.truncated = kind == "ask_stream" and res.status == 200
        res.end = time.monotonic()
        return res


def _closed_before_response(error: str | None) -> bool:
    """Closed before any response byte: h11's 'without sending a response', the write failed, or
    the connection was reset while waiting for the status line.

    Only called when no status line arrived (``status is None``), so a ``ReadError`` here is a reset
    *before* the response — what an old nginx worker does to an idle keep-alive connection it closes
    at a reload while the client's next request is in flight. Browsers resend in that case too. A
    reset after the status line (mid-stream) is not retried and counts as truncated."""
    if not error:
        return False
    return error.startswith(
        ("RemoteProtocolError: Server disconnected without sending a response", "WriteError", "ReadError")
    )
