"""Answerer adapter over langchain-openai ``ChatOpenAI`` (OpenAI or any compatible endpoint).

One answer = one chat completion in JSON mode (``response_format={"type": "json_object"}``)
returning ``{"answer": "...", "cited_ids": [...]}``, validated with pydantic, then citations are
checked against the evidence ids. The SDK's own retries are off; ours (tenacity, exponential
backoff with jitter, ``attempts`` tries, an overall deadline) cover 429, 408/409, 5xx, timeouts,
connection errors, bodies that are not JSON and replies that are not the JSON asked for.
Anything else (bad key, unknown model, ...) fails at once. Every failure ends as
:class:`LLMUnavailable`; the API key is never put in a prompt or an error message.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from ai_service.llm import metrics
from ai_service.llm.port import EvidenceItem, LLMAnswer, LLMUnavailable
from ai_service.llm.prompting import (
    DEFAULT_MAX_ITEM_CHARS,
    DEFAULT_MAX_PROMPT_TOKENS,
    PromptBudgetError,
    build_prompt,
    check_citations,
)

DEFAULT_MODEL = "gpt-4o-mini"
KEEPALIVE_EXPIRY_S = 2.0
_CODE_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


class BadOutput(ValueError):
    """The model replied, but not with the JSON object we asked for."""


class ModelReply(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    answer: str = Field(min_length=1)
    cited_ids: list[str] = Field(default_factory=list)

    @field_validator("answer")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("answer is blank")
        return value


def parse_reply(content: Any) -> ModelReply:
    """The ``{"answer", "cited_ids"}`` object from a message content; :class:`BadOutput` otherwise."""
    if isinstance(content, list):  # content blocks
        content = "".join(
            b if isinstance(b, str) else str(b.get("text", "")) for b in content if isinstance(b, str | dict)
        )
    if not isinstance(content, str):
        raise BadOutput(f"reply content is {type(content).__name__}, not text")
    text = content.strip()
    fenced = _CODE_FENCE.match(text)
    if fenced:  # some compatible servers wrap JSON mode output in a code fence
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadOutput(f"reply is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadOutput("reply JSON is not an object")
    try:
        return ModelReply.model_validate(data)
    except ValidationError as exc:
        raise BadOutput(f"reply JSON has the wrong shape: {exc.error_count()} error(s)") from exc


def classify(exc: BaseException) -> str:
    """Short outcome code of a failed attempt (metric label and :attr:`LLMUnavailable.reason`)."""
    if isinstance(exc, BadOutput):
        return "bad_output"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return "server_error"
        if exc.status_code in (408, 409):
            return "timeout" if exc.status_code == 408 else "server_error"
        return "rejected"
    if isinstance(exc, openai.APIResponseValidationError | ValueError):
        return "bad_output"  # a body that is not the promised JSON: a proxy or server glitch
    return "error"


_RETRIABLE = frozenset({"rate_limited", "timeout", "connection_error", "server_error", "bad_output"})


def is_retriable(exc: BaseException) -> bool:
    return classify(exc) in _RETRIABLE


@dataclass(slots=True)
class _Usage:
    prompt: int = 0
    completion: int = 0
    attempts: int = 0


def _usage_of(message: AIMessage) -> tuple[int, int]:
    usage = message.usage_metadata
    if usage:
        return int(usage.get("input_tokens", 0)), int(usage.get("output_tokens", 0))
    token_usage = message.response_metadata.get("token_usage") or {}
    return int(token_usage.get("prompt_tokens") or 0), int(token_usage.get("completion_tokens") or 0)


class OpenAIAnswerer:
    """:class:`~ai_service.llm.port.Answerer` over an OpenAI-compatible chat completions API."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None = None,
        model: str = DEFAULT_MODEL,
        timeout_s: float = 20.0,
        attempts: int = 3,
        deadline_s: float = 45.0,
        max_prompt_tokens: int = DEFAULT_MAX_PROMPT_TOKENS,
        max_completion_tokens: int = 500,
        max_item_chars: int = DEFAULT_MAX_ITEM_CHARS,
        temperature: float = 0.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 4.0,
    ) -> None:
        if not api_key and not base_url:
            raise ValueError("the LLM answerer needs an API key or an OpenAI-compatible base URL")
        self._model = model
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.deadline_s = deadline_s
        self.max_prompt_tokens = max_prompt_tokens
        self.max_completion_tokens = max_completion_tokens
        self.max_item_chars = max_item_chars
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.retries = 0
        # Our own connection pool: idle connections expire before typical server keep-alive
        # timeouts (uvicorn: 5 s), so a call rarely lands on a connection the server just closed.
        self._http = httpx.AsyncClient(
            timeout=timeout_s, limits=httpx.Limits(max_connections=20, keepalive_expiry=KEEPALIVE_EXPIRY_S)
        )
        chat = ChatOpenAI(
            model=model,
            api_key=SecretStr(api_key or "not-needed"),
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,  # our retries are visible, bounded and counted
            max_tokens=max_completion_tokens,  # sent as max_completion_tokens
            temperature=temperature,
            http_async_client=self._http,
        )
        self._chat: Runnable[Any, BaseMessage] = chat.bind(response_format={"type": "json_object"})

    @property
    def model(self) -> str:
        return self._model

    async def aclose(self) -> None:
        await self._http.aclose()

    def _wait(self, state: RetryCallState) -> float:
        base = wait_exponential_jitter(
            multiplier=self.backoff_initial_s, max=self.backoff_max_s, jitter=self.backoff_initial_s
        )(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, openai.RateLimitError):
            try:
                retry_after = float(exc.response.headers.get("retry-after", "0"))
            except ValueError:
                retry_after = 0.0
            base = max(base, min(retry_after, self.backoff_max_s))
        return float(base)

    def _on_retry(self, _: RetryCallState) -> None:
        self.retries += 1

    async def _attempt(
        self, messages: list[BaseMessage], usage: _Usage, deadline: float
    ) -> tuple[ModelReply, str]:
        usage.attempts += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            metrics.CALLS.labels(outcome="timeout").inc()
            raise TimeoutError("LLM deadline passed before the call")
        started = time.monotonic()
        try:
            async with asyncio.timeout(min(self.timeout_s, remaining)):
                message = await self._chat.ainvoke(messages)
            if not isinstance(message, AIMessage):
                raise BadOutput(f"unexpected message type {type(message).__name__}")
            prompt_tokens, completion_tokens = _usage_of(message)
            usage.prompt += prompt_tokens
            usage.completion += completion_tokens
            metrics.record_tokens(prompt_tokens, completion_tokens)
            reply = parse_reply(message.content)
        except Exception as exc:
            metrics.CALLS.labels(outcome=classify(exc)).inc()
            raise
        finally:
            metrics.CALL_SECONDS.observe(time.monotonic() - started)
        metrics.CALLS.labels(outcome="ok").inc()
        return reply, str(message.response_metadata.get("model_name") or self._model)

    async def answer(
        self,
        question: str,
        scope: str,
        evidence: Sequence[EvidenceItem],
        evidence_answer: str,
    ) -> LLMAnswer:
        try:
            prompt = build_prompt(
                question,
                scope,
                evidence,
                evidence_answer,
                max_prompt_tokens=self.max_prompt_tokens,
                max_item_chars=self.max_item_chars,
            )
        except PromptBudgetError as exc:
            raise LLMUnavailable("prompt_budget", f"language model not asked: {exc}") from exc
        messages: list[BaseMessage] = [SystemMessage(prompt.system), HumanMessage(prompt.user)]
        usage = _Usage()
        deadline = time.monotonic() + self.deadline_s
        retrying = AsyncRetrying(
            retry=retry_if_exception(is_retriable),
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.deadline_s),
            wait=self._wait,
            before_sleep=self._on_retry,
            reraise=True,
        )
        try:
            result: tuple[ModelReply, str] = await retrying(self._attempt, messages, usage, deadline)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = classify(exc)
            detail = str(exc).strip() or type(exc).__name__
            raise LLMUnavailable(
                reason,
                f"language model failed after {usage.attempts} attempt(s) ({reason}): {detail[:300]}",
                attempts=usage.attempts,
            ) from exc
        reply, model_name = result

        check = check_citations(reply.answer, reply.cited_ids, [e.id for e in evidence])
        if check.dropped:
            metrics.DROPPED_CITATIONS.inc(len(check.dropped))
        return LLMAnswer(
            answer=check.answer,
            cited_ids=check.cited_ids,
            dropped_citations=check.dropped,
            model=model_name,
            prompt_tokens=usage.prompt,
            completion_tokens=usage.completion,
            flagged=check.flagged,
            attempts=usage.attempts,
            omitted_evidence=prompt.omitted_ids,
        )


def build_answerer(settings: Any) -> OpenAIAnswerer | None:
    """The configured answerer, or None when no LLM is configured (then /ask stays evidence-only).

    Enabled by ``openai_api_key`` or ``llm_base_url``; the endpoint is ``llm_base_url``, else
    ``openai_base_url``, else OpenAI. ``llm_enabled=False`` turns it off regardless.
    """
    api_key: str | None = getattr(settings, "openai_api_key", None)
    llm_base_url: str | None = getattr(settings, "llm_base_url", None)
    if not getattr(settings, "llm_enabled", True) or not (api_key or llm_base_url):
        return None
    return OpenAIAnswerer(
        api_key=api_key,
        base_url=llm_base_url or getattr(settings, "openai_base_url", None),
        model=getattr(settings, "llm_model", DEFAULT_MODEL),
        timeout_s=float(getattr(settings, "llm_timeout_s", 20.0)),
        attempts=int(getattr(settings, "llm_attempts", 3)),
        deadline_s=float(getattr(settings, "llm_deadline_s", 45.0)),
        max_prompt_tokens=int(getattr(settings, "llm_max_prompt_tokens", DEFAULT_MAX_PROMPT_TOKENS)),
        max_completion_tokens=int(getattr(settings, "llm_max_completion_tokens", 500)),
        temperature=float(getattr(settings, "llm_temperature", 0.0)),
    )
