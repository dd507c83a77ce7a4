"""LLM answers for /ask: a small port, an OpenAI-compatible adapter, prompt files, citation checks.

Use :func:`build_answerer` (None when no LLM is configured) and ``await answerer.answer(...)``;
on :class:`LLMUnavailable` serve the evidence-based answer with ``degraded: true``.
"""

from ai_service.llm.openai_answerer import OpenAIAnswerer, build_answerer
from ai_service.llm.port import Answerer, EvidenceItem, LLMAnswer, LLMUnavailable

__all__ = ["Answerer", "EvidenceItem", "LLMAnswer", "LLMUnavailable", "OpenAIAnswerer", "build_answerer"]
