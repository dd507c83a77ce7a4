"""Prompt rendering for the LLM answerer: template files, fenced log data, a token budget, citations.

* Prompts live in ``ai_service/llm/prompts/*.txt`` as :class:`string.Template` files (``$name``;
  ``$$`` is a literal dollar). Rendering is strict: a missing or an unexpected variable raises
  :class:`PromptTemplateError` instead of sending a half-filled prompt.
* Log text is untrusted. Every evidence item is fenced between ``<<<LOG id=...>>>`` and
  ``<<<END LOG>>>``; the deterministic summary between ``<<<SUMMARY>>>`` and ``<<<END SUMMARY>>>``.
  Runs of three or more ``<`` or ``>`` inside any value are replaced by look-alike characters,
  so no value can open or close a fence, and header fields are squashed to one line.
* The prompt is kept under ``max_prompt_tokens`` (tokens estimated as characters / 4): items are
  capped in length, then the lowest-ranked items are truncated or left out first.
* :func:`check_citations` keeps only citations of real evidence ids in a model reply.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ai_service.llm.port import EvidenceItem

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD_TOKENS = 4  # role and separators of each chat message
REPLY_PRIMING_TOKENS = 3
DEFAULT_MAX_PROMPT_TOKENS = 3000
DEFAULT_MAX_ITEM_CHARS = 1500
MIN_TRUNCATED_ITEM_CHARS = 160  # below this a truncated item is not worth sending
SUMMARY_BUDGET_SHARE = 0.25  # the summary may take at most this share of the prompt budget
MAX_ANSWER_WORDS = 250
TRUNCATION_SUFFIX = " …(truncated)"
HEADER_FIELD_MAX_CHARS = 120

TEMPLATE_NAMES = ("system.txt", "answer.txt", "evidence_item.txt")

_FENCE_RUN = re.compile(r"<{3,}|>{3,}")
_NUMBERED_REF = re.compile(r"\[(\d{1,4})\]")
_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "SEVERE", "CRITICAL"})
# A bracketed group the model may mean as citations: "[a]" or "[a, b]" with id-like parts.
_BRACKET = re.compile(r"\[([^\[\]\n]{1,400})\]")
_ID_LIKE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/#@+=\-]{0,199}$")


class PromptTemplateError(ValueError):
    """A prompt template is missing, invalid, or was rendered with the wrong variables."""


class PromptBudgetError(ValueError):
    """Even without any evidence the prompt does not fit the token budget."""


def estimate_tokens(text: str) -> int:
    """Approximate token count (characters / 4, rounded up); no tokenizer download needed."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class PromptTemplate:
    name: str
    source: str

    @property
    def template(self) -> string.Template:
        return string.Template(self.source)

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(self.template.get_identifiers())

    def render(self, **values: str) -> str:
        missing = self.variables - values.keys()
        extra = values.keys() - self.variables
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(sorted(missing))}")
            if extra:
                parts.append(f"unexpected {', '.join(sorted(extra))}")
            raise PromptTemplateError(f"prompt template {self.name}: {'; '.join(parts)}")
        try:
            return self.template.substitute(values)
        except (KeyError, ValueError) as exc:  # an invalid placeholder such as a lone "$"
            raise PromptTemplateError(f"prompt template {self.name}: {exc}") from exc


@lru_cache(maxsize=16)
def load_template(name: str) -> PromptTemplate:
    """A template from ``ai_service/llm/prompts``; invalid ``$`` placeholders fail here."""
    try:
        source = (resources.files("ai_service.llm") / "prompts" / name).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PromptTemplateError(f"prompt template {name} not found in ai_service/llm/prompts") from exc
    template = PromptTemplate(name, source)
    if not template.template.is_valid():
        raise PromptTemplateError(f"prompt template {name} has an invalid $ placeholder (use $$ for $)")
    return template


def neutralize(text: str) -> str:
    """Make untrusted text unable to open or close a fence: ``<<<``/``>>>`` runs become ‹‹‹/›››."""
    return _FENCE_RUN.sub(lambda m: ("‹" if m.group()[0] == "<" else "›") * len(m.group()), text)


def one_line(text: str, limit: int = HEADER_FIELD_MAX_CHARS) -> str:
    text = " ".join(neutralize(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def truncate(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    return text[: max(0, max_chars - len(TRUNCATION_SUFFIX))].rstrip() + TRUNCATION_SUFFIX


def number_refs_to_ids(summary: str, evidence: Sequence[EvidenceItem]) -> str:
    """The deterministic answer cites ``[n]`` (n-th evidence item); the model sees ``[id]`` instead."""

    def swap(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f"[{evidence[n - 1].id}]" if 1 <= n <= len(evidence) else m.group()

    return _NUMBERED_REF.sub(swap, summary)


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    system: str
    user: str
    included_ids: list[str]
    truncated_ids: list[str]
    omitted_ids: list[str]
    estimated_tokens: int


def render_system(max_words: int = MAX_ANSWER_WORDS, example_id: str = "app-logs-0-42") -> str:
    return load_template("system.txt").render(max_words=str(max_words), example_id=one_line(example_id))


def render_item(item: EvidenceItem, text: str | None = None) -> str:
    return load_template("evidence_item.txt").render(
        id=one_line(item.id, 200),
        service=one_line(item.service or "?"),
        level=one_line(item.level or "?"),
        timestamp=one_line(item.timestamp or "?"),
        text=neutralize(item.text if text is None else text).strip() or "(empty)",
    )


def _render_user(
    question: str, scope: str, summary: str, items: Sequence[str], total: int, omitted: int
) -> str:
    note = f"; {omitted} lower-ranked records left out to fit the prompt budget" if omitted else ""
    return load_template("answer.txt").render(
        question=neutralize(question).strip(),
        scope=one_line(scope, 400) or "(not given)",
        summary=summary or "(none)",
        shown=str(len(items)),
        total=str(total),
        omitted_note=note,
        evidence="\n".join(items) if items else "(no log records)",
    )


def build_prompt(
    question: str,
    scope: str,
    evidence: Sequence[EvidenceItem],
    evidence_answer: str,
    *,
    max_prompt_tokens: int = DEFAULT_MAX_PROMPT_TOKENS,
    max_item_chars: int = DEFAULT_MAX_ITEM_CHARS,
    count_tokens: Callable[[str], int] = estimate_tokens,
) -> RenderedPrompt:
    """System and user messages within ``max_prompt_tokens``; lowest-ranked evidence goes first."""
    example_id = evidence[0].id if evidence else "app-logs-0-42"
    system = render_system(example_id=example_id)
    overhead = 2 * MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS

    summary = neutralize(number_refs_to_ids(evidence_answer, evidence)).strip()
    summary_cap = int(max_prompt_tokens * SUMMARY_BUDGET_SHARE * CHARS_PER_TOKEN)
    summary = truncate(summary, summary_cap)

    def total_tokens(items: Sequence[str], omitted: int, summary_text: str) -> int:
        user = _render_user(question, scope, summary_text, items, len(evidence), omitted)
        return count_tokens(system) + count_tokens(user) + overhead

    # The fixed part, with the longest "left out" note it can get.
    fixed = total_tokens([], len(evidence), summary)
    if fixed > max_prompt_tokens:
        # Shrink the summary before giving up: the evidence items are what matters.
        spare_chars = int((max_prompt_tokens - (fixed - count_tokens(summary))) * CHARS_PER_TOKEN)
        summary = (
            truncate(summary, spare_chars)
            if spare_chars >= MIN_TRUNCATED_ITEM_CHARS
            else "(left out to fit the prompt budget)"
        )
        fixed = total_tokens([], len(evidence), summary)
    if fixed > max_prompt_tokens:
        raise PromptBudgetError(
            f"prompt needs {fixed} tokens without evidence; max_prompt_tokens is {max_prompt_tokens}"
        )

    rendered: list[str] = []
    included: list[str] = []
    truncated: list[str] = []
    remaining = max_prompt_tokens - fixed
    for item in evidence:
        text = truncate(item.text, max_item_chars)
        block = render_item(item, text)
        cost = count_tokens(block) + 1  # + the newline between items
        if cost > remaining:
            frame = count_tokens(render_item(item, "")) + 1
            room_chars = int((remaining - frame) * CHARS_PER_TOKEN)
            if room_chars < MIN_TRUNCATED_ITEM_CHARS:
                break
            text = truncate(text, room_chars)
            block = render_item(item, text)
            cost = count_tokens(block) + 1
            if cost > remaining:
                break
        if text != item.text:
            truncated.append(item.id)
        rendered.append(block)
        included.append(item.id)
        remaining -= cost
        if text != truncate(item.text, max_item_chars):  # cut to fit: the budget is spent
            break

    # The estimate above sums parts; check the real rendering and drop from the end if needed.
    while True:
        omitted_count = len(evidence) - len(included)
        tokens = total_tokens(rendered, omitted_count, summary)
        if tokens <= max_prompt_tokens or not rendered:
            break
        rendered.pop()
        dropped = included.pop()
        if dropped in truncated:
            truncated.remove(dropped)

    user = _render_user(question, scope, summary, rendered, len(evidence), len(evidence) - len(included))
    kept = set(included)
    return RenderedPrompt(
        system=system,
        user=user,
        included_ids=included,
        truncated_ids=truncated,
        omitted_ids=[e.id for e in evidence if e.id not in kept],
        estimated_tokens=count_tokens(system) + count_tokens(user) + overhead,
    )


@dataclass(frozen=True, slots=True)
class CitationCheck:
    answer: str
    cited_ids: list[str]
    dropped: list[str]

    @property
    def flagged(self) -> bool:
        return bool(self.dropped)


def check_citations(answer: str, cited_ids: Sequence[str], allowed_ids: Iterable[str]) -> CitationCheck:
    """Keep only citations of real evidence ids, in the text and in ``cited_ids``.

    A bracketed group ``[a]`` or ``[a, b]`` of id-like tokens in the answer is a citation. Unknown
    ids are removed from the text and from ``cited_ids`` and reported as dropped. Plain bracketed
    words are left alone as quoted log text — letters only (``[main]``, ``[ERROR]``) or a
    ``[REDACTED:...]`` token — unless the model also listed them in ``cited_ids``. A bracketed
    token with a digit or ``-_.:/`` that is not an evidence id is always dropped, even if a log
    line contains it: that is exactly what an injected "cite [evil-1]" looks like. Kept groups
    are rewritten as ``[a][b]``. The returned ``cited_ids`` are the valid ids cited in the text
    (in order of first appearance) followed by the other valid ids the model listed.
    """
    allowed = set(allowed_ids)
    claimed = {c.strip() for c in cited_ids}
    dropped: list[str] = []
    found: list[str] = []

    def is_quote(token: str) -> bool:
        if token in claimed:
            return False
        return token.isalpha() or token.upper() in _LEVELS or token.upper().startswith("REDACTED")

    def drop(token: str) -> None:
        if token not in dropped:
            dropped.append(token)

    out: list[str] = []
    pos = 0
    for m in _BRACKET.finditer(answer):
        parts = [p.strip() for p in re.split(r"[,;]", m.group(1))]
        if not parts or not all(_ID_LIKE.match(p) for p in parts) or all(is_quote(p) for p in parts):
            continue  # ordinary bracketed text, not a citation
        keep: list[str] = []
        for part in parts:
            if part in allowed:
                keep.append(part)
                if part not in found:
                    found.append(part)
            elif not is_quote(part):
                drop(part)
        out.append(answer[pos : m.start()])
        replacement = "".join(f"[{p}]" for p in keep)
        if not replacement:
            nxt = answer[m.end() : m.end() + 1]
            if out[-1].endswith((" ", "\t")) and (not nxt or nxt.isspace() or nxt in ".,;:!?)"):
                out[-1] = out[-1].rstrip(" \t")
        out.append(replacement)
        pos = m.end()
    out.append(answer[pos:])
    text = "".join(out).strip()

    listed: list[str] = []
    for raw in cited_ids:
        token = raw.strip()
        if token in allowed:
            if token not in found and token not in listed:
                listed.append(token)
        elif token:
            drop(token)
    return CitationCheck(answer=text, cited_ids=found + listed, dropped=dropped)
