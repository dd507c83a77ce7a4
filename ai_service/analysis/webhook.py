"""Slack-compatible webhook for new analyses: ``{"text": ..., "blocks": [...]}``.

Retries (tenacity, exponential backoff with jitter) cover connection errors, timeouts, 429 and
5xx; any other 4xx fails at once. Exactly-once is the caller's job: it claims the analysis
(``notified_at``, written with ``if_seq_no``) before calling :meth:`HttpWebhook.send`.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from ai_service.analysis.schemas import Analysis
from loglens.errors import LogLensError


class WebhookError(LogLensError):
    """The webhook did not accept the notification."""


class WebhookSender(Protocol):
    async def send(self, payload: dict[str, Any]) -> None: ...


def _retriable(exc: BaseException) -> bool:
    return isinstance(exc, WebhookError) and exc.retriable


class HttpWebhook:
    def __init__(
        self,
        url: str,
        client: httpx.AsyncClient,
        *,
        attempts: int = 4,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 8.0,
    ) -> None:
        self.url = url
        self.client = client
        self.attempts = max(1, attempts)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s

    async def _post_once(self, payload: dict[str, Any]) -> None:
        try:
            response = await self.client.post(self.url, json=payload)
        except httpx.HTTPError as exc:  # connection refused, timeout, ...
            raise WebhookError(f"webhook unreachable: {type(exc).__name__}", retriable=True) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise WebhookError(f"webhook answered {response.status_code}", retriable=True)
        if response.status_code >= 400:
            raise WebhookError(f"webhook refused the message: {response.status_code}", retriable=False)

    async def send(self, payload: dict[str, Any]) -> None:
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retriable),
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential_jitter(
                multiplier=self.backoff_initial_s, max=self.backoff_max_s, jitter=self.backoff_initial_s
            ),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._post_once(payload)


def slack_payload(analysis: Analysis) -> dict[str, Any]:
    """A short Slack message: title, what/where, top suspect, first next step."""
    what = analysis.what
    origin = analysis.suspected_origin[0] if analysis.suspected_origin else None
    lines = [
        f"*{analysis.title}*",
        f"{what.count}× ({what.rate_per_min}/min) since {what.first_seen} in "
        f"{', '.join(analysis.where.services)} ({', '.join(analysis.where.versions) or '?'})",
    ]
    if origin is not None:
        lines.append(f"Suspected origin: *{origin.service}* — {'; '.join(origin.reasons[:2])}")
    if analysis.next_steps:
        lines.append(f"Next: {analysis.next_steps[0]}")
    lines.append(f"Analysis `{analysis.id}` ({analysis.kind})")
    text = "\n".join(lines)
    return {
        "text": f"LogLens: {analysis.title}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }
