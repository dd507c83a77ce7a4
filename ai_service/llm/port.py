"""The port between /ask and a language model: evidence in, a checked, cited answer out.

The router depends only on :class:`Answerer`; an adapter (``openai_answerer``) implements it.
Whatever goes wrong inside an adapter surfaces as :class:`LLMUnavailable`, so the caller can
always fall back to the deterministic evidence-based answer (``degraded: true``), never a 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from loglens.errors import DependencyUnavailable


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    """One retrieved log record, already redacted upstream.

    ``text`` is the log message plus template count info and, for errors, the exception and
    its first frames. Items are passed most relevant first: the token budget drops from the end.
    """

    id: str
    timestamp: str
    service: str
    level: str
    text: str


@dataclass(frozen=True, slots=True)
class LLMAnswer:
    """A model answer whose citations were checked against the evidence ids.

    ``answer`` cites evidence as ``[id]`` markers; every marker and every entry of ``cited_ids``
    is a real evidence id. Citations the model made up were removed from both and are listed in
    ``dropped_citations``; ``flagged`` is then true. Token counts add up every attempt made.
    """

    answer: str
    cited_ids: list[str]
    dropped_citations: list[str]
    model: str
    prompt_tokens: int
    completion_tokens: int
    flagged: bool
    attempts: int = 1
    omitted_evidence: list[str] = field(default_factory=list)  # ids left out to fit the token budget


class LLMUnavailable(DependencyUnavailable):
    """The model could not give a usable answer (after retries where retrying may help).

    ``reason`` is a short code: ``timeout``, ``rate_limited``, ``server_error``,
    ``connection_error``, ``bad_output``, ``rejected`` (a 4xx such as a bad key or model),
    ``prompt_budget`` or ``error``.
    """

    def __init__(self, reason: str, message: str | None = None, *, attempts: int = 0) -> None:
        super().__init__("llm", message or f"language model unavailable: {reason}")
        self.reason = reason
        self.attempts = attempts


@runtime_checkable
class Answerer(Protocol):
    """Answers a question from evidence; raises :class:`LLMUnavailable` on any failure."""

    @property
    def model(self) -> str: ...

    async def answer(
        self,
        question: str,
        scope: str,
        evidence: Sequence[EvidenceItem],
        evidence_answer: str,
    ) -> LLMAnswer: ...
