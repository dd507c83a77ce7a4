"""API keys, per-key rate limiting and request-size limits.

Keys come from ``LOGLENS_API_KEYS`` and/or ``LOGLENS_API_KEYS_FILE`` and are compared in constant
time. With no key configured the API is open (local development) and says so at start-up.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ai_service.errors import ApiError, error_body
from loglens.config import Settings


def load_api_keys(settings: Settings) -> list[str]:
    keys = [k.strip() for k in (settings.api_keys or "").split(",") if k.strip()]
    if settings.api_keys_file is not None:
        keys += [line.strip() for line in settings.api_keys_file.read_text().splitlines() if line.strip()]
    return keys


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token bucket per caller: ``per_min`` steady rate, ``burst`` extra at once. Bounded memory."""

    def __init__(self, per_min: int, burst: int, max_callers: int = 50_000) -> None:
        self.rate = per_min / 60.0
        self.capacity = float(max(1, burst))
        self.max_callers = max_callers
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def check(self, caller: str, now: float | None = None) -> float:
        """0 when allowed (a token is taken), else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(self.capacity, now)
            while len(self._buckets) > self.max_callers:
                self._buckets.popitem(last=False)
        self._buckets.move_to_end(caller)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


class Guard:
    def __init__(self, keys: list[str], limiter: RateLimiter) -> None:
        # Digests so comparison time does not depend on where a guess first differs or its length.
        self._digests = [hashlib.sha256(k.encode()).digest() for k in keys]
        self.limiter = limiter

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def key_id(self, presented: str | None) -> str | None:
        """A short non-secret id of the matching key, or None."""
        if presented is None:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        match = None
        for known in self._digests:
            if hmac.compare_digest(digest, known):
                match = known
        return match.hex()[:12] if match is not None else None

    async def __call__(self, request: Request) -> str:
        caller: str
        if self.enabled:
            key_id = self.key_id(request.headers.get("x-api-key"))
            if key_id is None:
                raise ApiError(
                    401,
                    "unauthorized",
                    "missing or wrong API key: send it in the X-API-Key header",
                    headers={"WWW-Authenticate": "ApiKey"},
                )
            caller = f"key:{key_id}"
        else:
            caller = f"ip:{request.client.host if request.client else 'unknown'}"
        wait = self.limiter.check(caller)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests; retry in {wait:.0f} s",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        return caller


def get_guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


async def require_caller(request: Request, guard: Annotated[Guard, Depends(get_guard)]) -> str:
    return await guard(request)


CallerDep = Annotated[str, Depends(require_caller)]


class BodySizeLimit:
    """Refuses bodies over ``max_bytes`` with 413, by header and while streaming (chunked)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._reject(send)

    async def _reject(self, send: Send) -> None:
        import json

        body = json.dumps(
            error_body("too_large", f"request body is larger than {self.max_bytes} bytes; send a shorter one")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
